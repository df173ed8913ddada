"""Runs a long-lived asyncio service until SIGINT or SIGTERM, then lets it stop cleanly.

Every long-running command (servers, load generators, demos) goes through here so that
Ctrl-C and `kill` behave the same everywhere: the first signal asks the service to stop
and waits for it to flush and close; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

Service = Callable[[asyncio.Event], Awaitable[int | None]]


def run_until_signal(service: Service) -> int:
    """Run `service(stop)`; `stop` is set on the first SIGINT/SIGTERM."""

    async def _main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals_seen = 0

        def _on_signal() -> None:
            nonlocal signals_seen
            signals_seen += 1
            if signals_seen > 1:
                os._exit(130)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _on_signal)
        try:
            return int(await service(stop) or 0)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(_main())
