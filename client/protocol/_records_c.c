/* The compiled twin of client/protocol/records.py: encode_records, decode_records and
 * check_records with the same signatures, results and InvalidRecordError messages.
 *
 * Why it exists: the pure-Python codec spends ~1 us of bytecode per record; here a
 * record costs its few objects and nothing else. records.py imports this module when
 * it was built (pip builds it where a compiler exists) and falls back to the Python
 * codec otherwise; the tests run both against each other on random and malformed input.
 *
 * What it must never do: read a byte it has not bounds-checked (every read goes through
 * AT(), every slice is clamped to the buffer), or disagree with records.py. To agree
 * even on lying input, varint values and positions are 128-bit: a 10-byte varint can
 * carry 70 bits, and Python's arithmetic on them never wraps, so neither may ours.
 * It never looks at the batch header, the crc or compression.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef __int128 wide;

static PyObject *InvalidRecordError; /* client.protocol.batch_errors.InvalidRecordError */
static PyObject *RecordType;         /* records.Record, the default cls */

/* A Python int from a 128-bit value (which only lying input makes wider than 64 bits). */
static PyObject *
wide_to_py(wide v)
{
    if (v >= INT64_MIN && v <= INT64_MAX)
        return PyLong_FromLongLong((long long)v);
    int negative = v < 0;
    unsigned __int128 u = negative ? (unsigned __int128)(-v) : (unsigned __int128)v;
    PyObject *hi = PyLong_FromUnsignedLongLong((unsigned long long)(u >> 64));
    PyObject *lo = PyLong_FromUnsignedLongLong((unsigned long long)u);
    PyObject *sixty_four = PyLong_FromLong(64);
    PyObject *shifted = NULL, *sum = NULL, *out = NULL;
    if (hi && lo && sixty_four && (shifted = PyNumber_Lshift(hi, sixty_four)) && (sum = PyNumber_Or(shifted, lo)))
        out = negative ? PyNumber_Negative(sum) : (Py_INCREF(sum), sum);
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(sixty_four);
    Py_XDECREF(shifted);
    Py_XDECREF(sum);
    return out;
}

/* InvalidRecordError(message) where the message may name 128-bit numbers (%S of Python ints). */
static void
invalid(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    PyObject *message = PyUnicode_FromFormatV(format, args);
    va_end(args);
    if (message) {
        PyErr_SetObject(InvalidRecordError, message);
        Py_DECREF(message);
    }
}

/* InvalidRecordError(format % (a, b, c)) for Python ints it owns (b and c may be NULL when unused). */
static void
invalid_ints(const char *format, PyObject *a, PyObject *b, PyObject *c)
{
    if (a && !PyErr_Occurred())
        invalid(format, a, b, c);
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
}

typedef struct {
    const unsigned char *data;
    wide len;
    wide p;
    int truncated; /* set when a read fell past the end: Python's IndexError */
} Reader;

#define AT(r, pos) ((pos) < (r)->len ? (r)->data[(Py_ssize_t)(pos)] : ((r)->truncated = 1, 0))

/* The zigzag varint at r->p, advancing r->p; 0 with an error set (truncated or too long). */
static int
read_varint(Reader *r, wide *out)
{
    unsigned __int128 z = 0;
    int shift = 0;
    for (;;) {
        if (r->p >= r->len) {
            r->truncated = 1;
            return 0;
        }
        unsigned b = r->data[(Py_ssize_t)r->p];
        r->p += 1;
        z |= (unsigned __int128)(b & 0x7F) << shift;
        if (b < 0x80) {
            *out = (wide)(z >> 1) ^ -(wide)(z & 1);
            return 1;
        }
        shift += 7;
        if (shift > 63) {
            invalid_ints("a varint at byte %S of the records is longer than 10 bytes", wide_to_py(r->p - 10), NULL,
                         NULL);
            return 0;
        }
    }
}

/* A slice of the records as bytes, clamped to the buffer as Python's slicing is. */
static PyObject *
slice(Reader *r, wide start, wide n)
{
    wide end = start + n;
    if (start > r->len)
        start = r->len;
    if (end > r->len)
        end = r->len;
    if (end < start)
        end = start;
    return PyBytes_FromStringAndSize((const char *)r->data + (Py_ssize_t)start, (Py_ssize_t)(end - start));
}

/* The headers at r->p (a list of (str, bytes | None)), or only their check when `build` is 0. */
static PyObject *
read_headers(Reader *r, int build)
{
    wide count, n;
    if (!read_varint(r, &count))
        return NULL;
    if (count < 0) {
        invalid_ints("a record claims %S headers", wide_to_py(count), NULL, NULL);
        return NULL;
    }
    PyObject *headers = build ? PyList_New(0) : (Py_INCREF(Py_None), Py_None);
    if (!headers)
        return NULL;
    for (wide i = 0; i < count; i++) {
        if (!read_varint(r, &n))
            goto fail;
        if (n < 0) {
            invalid_ints("a header key has negative length %S (header keys are never null)", wide_to_py(n), NULL,
                         NULL);
            goto fail;
        }
        wide start = r->p, end = r->p + n;
        if (start > r->len)
            start = r->len;
        if (end > r->len)
            end = r->len;
        PyObject *key = PyUnicode_DecodeUTF8((const char *)r->data + (Py_ssize_t)start, (Py_ssize_t)(end - start),
                                             "strict");
        if (!key) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyObject *type, *value, *tb;
                PyErr_Fetch(&type, &value, &tb);
                PyErr_NormalizeException(&type, &value, &tb);
                invalid("a header key is not UTF-8: %S", value);
                Py_XDECREF(type);
                Py_XDECREF(value);
                Py_XDECREF(tb);
            }
            goto fail;
        }
        r->p += n;
        if (!read_varint(r, &n)) {
            Py_DECREF(key);
            goto fail;
        }
        PyObject *value;
        if (n < 0) {
            value = Py_None;
            Py_INCREF(value);
        } else {
            value = build ? slice(r, r->p, n) : (Py_INCREF(Py_None), Py_None);
            r->p += n;
        }
        if (build) {
            PyObject *pair = value ? PyTuple_Pack(2, key, value) : NULL;
            int failed = !pair || PyList_Append(headers, pair) < 0;
            Py_XDECREF(pair);
            Py_DECREF(key);
            Py_XDECREF(value);
            if (failed)
                goto fail;
        } else {
            Py_DECREF(key);
            Py_DECREF(value);
        }
    }
    return headers;
fail:
    Py_DECREF(headers);
    return NULL;
}

static int
parse_bytes(PyObject *data, Reader *r)
{
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "records must be bytes, not %.100s", Py_TYPE(data)->tp_name);
        return 0;
    }
    r->data = (const unsigned char *)PyBytes_AS_STRING(data);
    r->len = PyBytes_GET_SIZE(data);
    r->p = 0;
    r->truncated = 0;
    return 1;
}

/* Python's `range(count)` for a count that may be any int: the number of iterations. */
static int
parse_count(PyObject *count, long long *out)
{
    int overflow;
    long long c = PyLong_AsLongLongAndOverflow(count, &overflow);
    if (c == -1 && PyErr_Occurred())
        return 0;
    if (overflow > 0)
        c = LLONG_MAX; /* the bytes run out long before */
    *out = c < 0 || overflow < 0 ? 0 : c;
    return 1;
}

static PyObject *
add_int(PyObject *base, wide delta)
{
    PyObject *d = wide_to_py(delta);
    if (!d)
        return NULL;
    PyObject *sum = PyNumber_Add(base, d);
    Py_DECREF(d);
    return sum;
}

/* base + delta, on the fast path when base fits in 64 bits (it always does from a real header). */
static PyObject *
absolute(long long base, int base_fits, PyObject *base_obj, wide delta)
{
    if (base_fits)
        return wide_to_py((wide)base + delta);
    return add_int(base_obj, delta);
}

static void
ended_inside(long long i, PyObject *count_obj, Py_ssize_t len)
{
    invalid("the records end inside record %lld of %S (%zd bytes)", i, count_obj, len);
}

static void
fields_mismatch(long long i, wide p, wide end)
{
    invalid_ints("record %S's fields end at byte %S of the records, not at byte %S as its length says",
                 PyLong_FromLongLong(i), wide_to_py(p), wide_to_py(end));
}

static void
bytes_remain(wide len, wide p, PyObject *count_obj)
{
    PyObject *left = wide_to_py(len - p);
    if (left) {
        invalid("%S bytes remain after the %S records the batch claims", left, count_obj);
        Py_DECREF(left);
    }
}

#define READ(r, target)               \
    do {                              \
        if (!read_varint(r, &target)) \
            goto fail;                \
    } while (0)

static PyObject *
decode_records(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (!InvalidRecordError) {
        PyErr_SetString(PyExc_RuntimeError, "_records_c.init() was not called (import client.protocol.records)");
        return NULL;
    }
    static char *names[] = {"data", "count", "base_offset", "base_timestamp", "cls", "head", NULL};
    PyObject *data, *count_obj, *base_offset_obj, *base_ts_obj, *cls = RecordType, *head = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO|OO!:decode_records", names, &data, &count_obj,
                                     &base_offset_obj, &base_ts_obj, &cls, &PyTuple_Type, &head))
        return NULL;
    Reader r;
    long long count;
    if (!parse_bytes(data, &r) || !parse_count(count_obj, &count))
        return NULL;
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "cls must be a tuple type");
        return NULL;
    }
    if (!PyLong_Check(base_offset_obj) || !PyLong_Check(base_ts_obj)) {
        PyErr_SetString(PyExc_TypeError, "base_offset and base_timestamp must be ints");
        return NULL;
    }
    int overflow;
    long long base_offset = PyLong_AsLongLongAndOverflow(base_offset_obj, &overflow);
    int offset_fits = !overflow;
    long long base_ts = PyLong_AsLongLongAndOverflow(base_ts_obj, &overflow);
    int ts_fits = !overflow;
    Py_ssize_t head_len = head ? PyTuple_GET_SIZE(head) : 0;
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    long long i = 0;
    for (; i < count; i++) {
        wide n, td, od;
        READ(&r, n);
        wide end = r.p + n;
        r.p += 1; /* the attributes byte, never read */
        READ(&r, td);
        READ(&r, od);
        PyObject *key, *value, *headers;
        READ(&r, n);
        if (n < 0) {
            key = Py_None;
            Py_INCREF(key);
        } else {
            key = slice(&r, r.p, n);
            r.p += n;
            if (!key)
                goto fail;
        }
        if (!read_varint(&r, &n)) {
            Py_DECREF(key);
            goto fail;
        }
        if (n < 0) {
            value = Py_None;
            Py_INCREF(value);
        } else {
            value = slice(&r, r.p, n);
            r.p += n;
            if (!value) {
                Py_DECREF(key);
                goto fail;
            }
        }
        unsigned char first = AT(&r, r.p);
        if (r.truncated) {
            headers = NULL;
        } else if (first == 0) {
            headers = PyList_New(0);
            r.p += 1;
        } else {
            headers = read_headers(&r, 1);
        }
        if (!headers) {
            Py_DECREF(key);
            Py_DECREF(value);
            goto fail;
        }
        if (r.p != end) {
            Py_DECREF(key);
            Py_DECREF(value);
            Py_DECREF(headers);
            fields_mismatch(i, r.p, end);
            goto fail;
        }
        PyObject *offset = absolute(base_offset, offset_fits, base_offset_obj, od);
        PyObject *timestamp = offset ? absolute(base_ts, ts_fits, base_ts_obj, td) : NULL;
        PyObject *record = timestamp ? (type == &PyTuple_Type ? PyTuple_New(head_len + 5)
                                                              : type->tp_alloc(type, head_len + 5))
                                     : NULL;
        if (!record) {
            Py_XDECREF(offset);
            Py_XDECREF(timestamp);
            Py_DECREF(key);
            Py_DECREF(value);
            Py_DECREF(headers);
            goto fail;
        }
        for (Py_ssize_t h = 0; h < head_len; h++) {
            PyObject *item = PyTuple_GET_ITEM(head, h);
            Py_INCREF(item);
            PyTuple_SET_ITEM(record, h, item);
        }
        PyTuple_SET_ITEM(record, head_len, offset);
        PyTuple_SET_ITEM(record, head_len + 1, timestamp);
        PyTuple_SET_ITEM(record, head_len + 2, key);
        PyTuple_SET_ITEM(record, head_len + 3, value);
        PyTuple_SET_ITEM(record, head_len + 4, headers);
        int failed = PyList_Append(out, record) < 0;
        Py_DECREF(record);
        if (failed)
            goto fail;
    }
    if (r.p != r.len) {
        bytes_remain(r.len, r.p, count_obj);
        goto fail;
    }
    return out;
fail:
    if (r.truncated && !PyErr_Occurred())
        ended_inside(i, count_obj, (Py_ssize_t)r.len);
    Py_DECREF(out);
    return NULL;
}

static PyObject *
check_records(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (!InvalidRecordError) {
        PyErr_SetString(PyExc_RuntimeError, "_records_c.init() was not called (import client.protocol.records)");
        return NULL;
    }
    static char *names[] = {"data", "count", "keys_required", NULL};
    PyObject *data, *count_obj;
    int keys_required;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOp:check_records", names, &data, &count_obj, &keys_required))
        return NULL;
    Reader r;
    long long count;
    if (!parse_bytes(data, &r) || !parse_count(count_obj, &count))
        return NULL;
    wide top = 0;
    int any = 0;
    long long i = 0;
    for (; i < count; i++) {
        wide n, td, od;
        READ(&r, n);
        wide end = r.p + n;
        r.p += 1;
        READ(&r, td);
        if (!any || td > top) {
            top = td;
            any = 1;
        }
        READ(&r, od);
        if (od != i) {
            PyObject *delta = wide_to_py(od);
            if (delta) {
                invalid("record %lld of the batch has offset delta %S, not %lld: deltas must run 0..%lld in order",
                        i, delta, i, count - 1);
                Py_DECREF(delta);
            }
            goto fail;
        }
        READ(&r, n);
        if (n >= 0) {
            r.p += n;
        } else if (keys_required) {
            invalid("a compacted topic cannot accept a record without a key (record %lld of the batch has none)", i);
            goto fail;
        }
        READ(&r, n);
        if (n > 0)
            r.p += n;
        unsigned char first = AT(&r, r.p);
        if (r.truncated)
            goto fail;
        if (first == 0) {
            r.p += 1;
        } else {
            PyObject *ok = read_headers(&r, 0);
            if (!ok)
                goto fail;
            Py_DECREF(ok);
        }
        if (r.p != end) {
            fields_mismatch(i, r.p, end);
            goto fail;
        }
    }
    if (r.p != r.len) {
        bytes_remain(r.len, r.p, count_obj);
        return NULL;
    }
    if (!any)
        Py_RETURN_NONE;
    return wide_to_py(top);
fail:
    if (r.truncated && !PyErr_Occurred())
        ended_inside(i, count_obj, (Py_ssize_t)r.len);
    return NULL;
}

/* ---- encoding ---- */

typedef struct {
    PyObject *bytes; /* the output, grown by doubling and cut to size at the end */
    char *buf;
    Py_ssize_t len, cap;
} Writer;

static int
reserve(Writer *w, Py_ssize_t more)
{
    if (w->len + more <= w->cap)
        return 1;
    Py_ssize_t cap = w->cap * 2;
    if (cap < w->len + more)
        cap = w->len + more;
    if (_PyBytes_Resize(&w->bytes, cap) < 0)
        return 0;
    w->buf = PyBytes_AS_STRING(w->bytes);
    w->cap = cap;
    return 1;
}

static int
varint_size(long long n)
{
    uint64_t z = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    int size = 1;
    while (z >= 0x80) {
        z >>= 7;
        size++;
    }
    return size;
}

/* Only after reserve(): writes at most 10 bytes. */
static void
put_varint(Writer *w, long long n)
{
    uint64_t z = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    while (z >= 0x80) {
        w->buf[w->len++] = (char)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    w->buf[w->len++] = (char)z;
}

static void
put(Writer *w, const void *src, Py_ssize_t n)
{
    memcpy(w->buf + w->len, src, (size_t)n);
    w->len += n;
}

/* A key or value: its buffer (null when None). */
static int
get_payload(PyObject *obj, Py_buffer *view, int *present)
{
    if (obj == Py_None) {
        *present = 0;
        return 1;
    }
    *present = 1;
    return PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) == 0;
}

/* The size of the encoded headers (a sequence of (str, bytes | None) or None). */
static int
headers_size(PyObject *headers, Py_ssize_t *out)
{
    if (headers == Py_None) {
        *out = 1;
        return 1;
    }
    PyObject *seq = PySequence_Fast(headers, "headers must be a sequence of (key, value) pairs");
    if (!seq)
        return 0;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq), size = varint_size(count);
    for (Py_ssize_t h = 0; h < count; h++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, h);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "a header must be a (str, bytes | None) tuple");
            goto fail;
        }
        Py_ssize_t klen;
        if (!PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &klen))
            goto fail;
        size += varint_size(klen) + klen;
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        if (value == Py_None) {
            size += 1;
        } else {
            Py_buffer view;
            if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) < 0)
                goto fail;
            size += varint_size(view.len) + view.len;
            PyBuffer_Release(&view);
        }
    }
    Py_DECREF(seq);
    *out = size;
    return 1;
fail:
    Py_DECREF(seq);
    return 0;
}

static int
put_headers(Writer *w, PyObject *headers)
{
    if (headers == Py_None) {
        put_varint(w, 0);
        return 1;
    }
    PyObject *seq = PySequence_Fast(headers, "headers must be a sequence of (key, value) pairs");
    if (!seq)
        return 0;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    put_varint(w, count);
    for (Py_ssize_t h = 0; h < count; h++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, h);
        Py_ssize_t klen;
        const char *key = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &klen);
        put_varint(w, klen);
        put(w, key, klen);
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        if (value == Py_None) {
            put_varint(w, -1);
        } else {
            Py_buffer view;
            if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) < 0) {
                Py_DECREF(seq);
                return 0;
            }
            put_varint(w, view.len);
            put(w, view.buf, view.len);
            PyBuffer_Release(&view);
        }
    }
    Py_DECREF(seq);
    return 1;
}

static PyObject *
encode_records(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (!InvalidRecordError) {
        PyErr_SetString(PyExc_RuntimeError, "_records_c.init() was not called (import client.protocol.records)");
        return NULL;
    }
    static char *names[] = {"records", "base_timestamp", "offset_deltas", NULL};
    PyObject *records, *deltas = Py_None;
    long long base_ts;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OL|O:encode_records", names, &records, &base_ts, &deltas))
        return NULL;
    PyObject *seq = PySequence_Fast(records, "records must be a sequence");
    if (!seq)
        return NULL;
    PyObject *dseq = deltas == Py_None ? NULL : PySequence_Fast(deltas, "offset_deltas must be a sequence");
    if (deltas != Py_None && !dseq) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    if (dseq && PySequence_Fast_GET_SIZE(dseq) < count) /* zip() stops at the shorter */
        count = PySequence_Fast_GET_SIZE(dseq);
    Writer w = {PyBytes_FromStringAndSize(NULL, 64 + count * 32), NULL, 0, 64 + count * 32};
    if (!w.bytes)
        goto fail;
    w.buf = PyBytes_AS_STRING(w.bytes);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(record) || PyTuple_GET_SIZE(record) != 4) {
            PyErr_SetString(PyExc_TypeError, "a record must be a (key, value, headers, timestamp) tuple");
            goto fail;
        }
        long long delta = i;
        if (dseq && (delta = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(dseq, i))) == -1 && PyErr_Occurred())
            goto fail;
        long long ts = PyLong_AsLongLong(PyTuple_GET_ITEM(record, 3));
        if (ts == -1 && PyErr_Occurred())
            goto fail;
        long long td;
        if (__builtin_sub_overflow(ts, base_ts, &td)) {
            PyErr_SetString(PyExc_OverflowError, "a timestamp delta does not fit in 64 bits");
            goto fail;
        }
        PyObject *headers = PyTuple_GET_ITEM(record, 2);
        Py_buffer key, value;
        int has_key, has_value;
        Py_ssize_t hsize;
        if (!get_payload(PyTuple_GET_ITEM(record, 0), &key, &has_key))
            goto fail;
        if (!get_payload(PyTuple_GET_ITEM(record, 1), &value, &has_value)) {
            if (has_key)
                PyBuffer_Release(&key);
            goto fail;
        }
        int ok = headers_size(headers, &hsize);
        if (ok) {
            Py_ssize_t size = 1 + varint_size(td) + varint_size(delta) + hsize +
                              (has_key ? varint_size(key.len) + key.len : 1) +
                              (has_value ? varint_size(value.len) + value.len : 1);
            ok = reserve(&w, size + 10);
            if (ok) {
                put_varint(&w, size);
                w.buf[w.len++] = 0;
                put_varint(&w, td);
                put_varint(&w, delta);
                put_varint(&w, has_key ? key.len : -1);
                if (has_key)
                    put(&w, key.buf, key.len);
                put_varint(&w, has_value ? value.len : -1);
                if (has_value)
                    put(&w, value.buf, value.len);
                ok = put_headers(&w, headers);
            }
        }
        if (has_key)
            PyBuffer_Release(&key);
        if (has_value)
            PyBuffer_Release(&value);
        if (!ok)
            goto fail;
    }
    Py_DECREF(seq);
    Py_XDECREF(dseq);
    if (_PyBytes_Resize(&w.bytes, w.len) < 0)
        return NULL;
    return w.bytes;
fail:
    Py_DECREF(seq);
    Py_XDECREF(dseq);
    Py_XDECREF(w.bytes);
    return NULL;
}

static PyMethodDef methods[] = {
    {"encode_records", (PyCFunction)(void (*)(void))encode_records, METH_VARARGS | METH_KEYWORDS,
     "encode_records(records, base_timestamp, offset_deltas=None) -> bytes (see records.py)"},
    {"decode_records", (PyCFunction)(void (*)(void))decode_records, METH_VARARGS | METH_KEYWORDS,
     "decode_records(data, count, base_offset, base_timestamp, cls=Record, head=()) -> list (see records.py)"},
    {"check_records", (PyCFunction)(void (*)(void))check_records, METH_VARARGS | METH_KEYWORDS,
     "check_records(data, count, keys_required) -> int | None (see records.py)"},
    {NULL, NULL, 0, NULL},
};

/* init(InvalidRecordError, Record): records.py hands over the two Python types it owns. */
static PyObject *
init(PyObject *self, PyObject *args)
{
    PyObject *error, *record;
    if (!PyArg_ParseTuple(args, "OO:init", &error, &record))
        return NULL;
    Py_XSETREF(InvalidRecordError, Py_NewRef(error));
    Py_XSETREF(RecordType, Py_NewRef(record));
    Py_RETURN_NONE;
}

static PyMethodDef init_method = {"init", init, METH_VARARGS, "init(InvalidRecordError, Record)"};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_records_c",
                                    "Kafka's v2 records, compiled: the twin of client.protocol.records.", -1,
                                    methods};

PyMODINIT_FUNC
PyInit__records_c(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    PyObject *f = PyCFunction_New(&init_method, NULL);
    if (!f || PyModule_AddObject(m, "init", f) < 0) {
        Py_XDECREF(f);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
