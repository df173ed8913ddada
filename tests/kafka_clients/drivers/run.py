"""Entry point for a driver run in another Python process: `python -m
tests.kafka_clients.drivers.run MODULE ACTION`, a JSON request on stdin, a JSON answer on
stdout. It lets one test use a second build of a client (Debian's python3-confluent-kafka,
kafka-python 2.x) that cannot share a process with the first. It must never print
anything to stdout but the answer.
"""

from __future__ import annotations

import importlib
import json
import sys

from tests.kafka_clients.records import Record


def main() -> None:
    module_name, action = sys.argv[1], sys.argv[2]
    module = importlib.import_module(f"tests.kafka_clients.drivers.{module_name}")
    request = json.load(sys.stdin)
    if action == "produce":
        records = module.produce(
            request["bootstrap"],
            request["topic"],
            [Record.from_json(r) for r in request["records"]],
            **request["options"],
        )
    else:
        records = module.consume(
            request["bootstrap"],
            request["topic"],
            {int(p): n for p, n in request["counts"].items()},
            **request["options"],
        )
    json.dump(
        {"version": module.version(), "loaded_from": module.client_file(), "records": [r.to_json() for r in records]},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
