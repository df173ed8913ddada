/* Kafka's murmur2 (seed 0x9747b28c), compiled: the twin of client/partitioner.py's _murmur2.
 *
 * Why it exists: a keyed record's partition is murmur2 of its key, and in Python the hash
 * costs about a microsecond a key, as much as the rest of a send. Here it costs the call.
 * client.partitioner imports this module when it was built (setup.py builds it where a
 * compiler works) and keeps its pure-Python hash otherwise; the tests run both on the same
 * keys. It must never disagree with the pure hash: it returns the same unsigned 32-bit int.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static uint32_t
hash(const unsigned char *data, Py_ssize_t length)
{
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28cu ^ (uint32_t)length;
    Py_ssize_t words = length / 4;
    for (Py_ssize_t i = 0; i < words; i++) {
        uint32_t k;
        memcpy(&k, data + 4 * i, 4); /* little-endian, as Kafka reads the bytes */
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const unsigned char *tail = data + 4 * words;
    switch (length & 3) {
    case 3:
        h ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8; /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

static PyObject *
murmur2(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    uint32_t h = hash(view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(h);
}

static PyMethodDef methods[] = {
    {"murmur2", murmur2, METH_O, "murmur2(data) -> unsigned 32-bit int (see client/partitioner.py)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_murmur2_c",
                                    "Kafka's murmur2, compiled: the twin of client.partitioner._murmur2.", -1,
                                    methods};

PyMODINIT_FUNC
PyInit__murmur2_c(void)
{
    return PyModule_Create(&module);
}
