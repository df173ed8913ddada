"""Per-listener security settings, looked up as Kafka does: `listener.name.<listener>.<setting>`
first (the listener name in lower case), then the broker-wide `<setting>`.

This module must never interpret a value; it only finds it.
"""

from __future__ import annotations

from typing import Any


def setting(config: Any, listener: str, name: str, mechanism: str | None = None) -> Any:
    """The value of Kafka setting `name` for `listener` (and SASL `mechanism`, for the
    per-mechanism `listener.name.<l>.<mechanism>.sasl.jaas.config`), or None."""
    prefix = f"listener.name.{listener.lower()}."
    keys = [f"{prefix}{mechanism.lower()}.{name}"] if mechanism else []
    keys.append(prefix + name)
    for key in keys:
        if key in config.listener_settings:
            return config.listener_settings[key]
    return getattr(config, name.replace(".", "_"), None)
