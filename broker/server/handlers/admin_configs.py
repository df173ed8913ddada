"""AlterConfigs (API 33) and IncrementalAlterConfigs (API 44) for topics and brokers.

A topic's configs live in coord at /config/topics/<topic>, where CreateTopics put them and
DescribeConfigs reads them (through the metadata cache). AlterConfigs replaces the whole
set; IncrementalAlterConfigs applies SET, DELETE, APPEND and SUBTRACT (the last two only to
list configs: cleanup.policy) to the current set. The result is checked as CreateTopics
checks configs (known names, values of the right kind and range); validate_only stops
there. Otherwise it is written conditionally on the node's version (a concurrent change
makes us re-read and re-apply) and announced (`topic_config_changes`), so every broker's
logs take it up. Any broker may handle these, as in Kafka's ZooKeeper mode. A BROKER
resource is a dynamic broker config (`broker.server.dynamic_broker_config`): this broker's own
(its id; another id is refused as Kafka refuses it) or the cluster default (""), read, changed,
checked and written the same way. This module must never change a log itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.metadata import znodes as Z
from broker.metadata.validation import LIST_CONFIGS, check_configs
from broker.refusal import RequestRefusedError
from broker.server import dynamic_broker_config as dyn
from broker.server.handlers.common import BrokerContext, Reply
from broker.server.log_manager import log_config_for
from broker.server.topic_config_changes import announce_topic_change
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import AlterConfigsResponse, IncrementalAlterConfigsResponse
from coord.protocol.errors import BadVersionError, NoNodeError

TOPIC, BROKER = 2, 4  # resource types
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3  # IncrementalAlterConfigs operations
WRITE_ATTEMPTS = 5

Change = Callable[[dict[str, str]], dict[str, str]]


def _unique(configs: list[Any]) -> None:
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RequestRefusedError(
            ErrorCode.INVALID_REQUEST, f"config(s) {dupes} appear more than once for one resource"
        )


def _replace_all(configs: list[Any], lists: dict[str, str] | None = None) -> Change:
    """AlterConfigs: the request's set is the topic's whole new set."""
    _unique(configs)
    nulls = [c.name for c in configs if c.value is None]
    if nulls:
        raise RequestRefusedError(
            ErrorCode.INVALID_REQUEST,
            f"config(s) {nulls} have a null value: AlterConfigs sets "
            "values (leave a config out to return it to its default)",
        )
    return lambda current: {c.name: c.value for c in configs}


def _items(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _incremental(configs: list[Any], lists: dict[str, str] | None = None) -> Change:
    """IncrementalAlterConfigs: each operation applied to the current set; `lists`: the list
    configs, each with the value APPEND and SUBTRACT start from when the set lacks it."""
    lists = LIST_CONFIGS if lists is None else lists
    _unique(configs)
    for c in configs:
        if c.config_operation not in (SET, DELETE, APPEND, SUBTRACT):
            raise RequestRefusedError(
                ErrorCode.INVALID_REQUEST,
                f"config {c.name}: operation {c.config_operation} is not "
                "0 (SET), 1 (DELETE), 2 (APPEND) or 3 (SUBTRACT)",
            )
        if c.config_operation in (APPEND, SUBTRACT) and c.name not in lists:
            raise RequestRefusedError(
                ErrorCode.INVALID_CONFIG,
                f"config {c.name} is not a list: APPEND and SUBTRACT apply to {sorted(lists)} only",
            )
        if c.config_operation != DELETE and c.value is None:
            raise RequestRefusedError(
                ErrorCode.INVALID_REQUEST, f"config {c.name}: a null value is only meaningful for DELETE"
            )

    def change(current: dict[str, str]) -> dict[str, str]:
        out = dict(current)
        for c in configs:
            if c.config_operation == SET:
                out[c.name] = c.value
            elif c.config_operation == DELETE:
                out.pop(c.name, None)
            else:
                have = _items(out.get(c.name, lists[c.name]))
                if c.config_operation == APPEND:
                    items = have + [v for v in _items(c.value) if v not in have]
                else:
                    items = [v for v in have if v not in _items(c.value)]
                out[c.name] = ",".join(items)
        return out

    return change


def _check(ctx: BrokerContext, configs: dict[str, str]) -> None:
    refusal = check_configs(configs)
    if refusal is None:
        try:
            log_config_for(ctx.config, configs)
        except ValueError as exc:
            refusal = ErrorCode.INVALID_CONFIG, f"the topic's log would refuse these configs: {exc}"
    if refusal is not None:
        raise RequestRefusedError(*refusal)


async def _alter_topic(ctx: BrokerContext, topic: str, change: Change, validate_only: bool) -> None:
    if ctx.cache.topic(topic) is None:
        raise RequestRefusedError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {topic!r} does not exist")
    coord = ctx.controller.coord
    path = Z.topic_config_path(topic)
    for _ in range(WRITE_ATTEMPTS):
        try:
            data, stat = await coord.get(path)
        except NoNodeError:
            raise RequestRefusedError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {topic!r} does not exist") from None
        new = change(Z.decode_topic_config(data))
        _check(ctx, new)
        if validate_only:
            return
        try:
            await coord.set(path, Z.encode_topic_config(new), version=stat.version)
        except BadVersionError:
            continue  # changed meanwhile: apply the request to the new set
        except NoNodeError:
            raise RequestRefusedError(
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {topic!r} was deleted meanwhile"
            ) from None
        await announce_topic_change(coord, topic)
        return
    raise RequestRefusedError(
        ErrorCode.UNKNOWN_SERVER_ERROR, f"topic {topic!r}'s configs kept changing under this request; try again"
    )


async def _alter_broker(
    ctx: BrokerContext, name: str, make_change: Callable[..., Change], configs: list[Any], validate_only: bool
) -> None:
    """A dynamic broker config: this broker's own ("<id>") or the cluster default ("")."""
    dynamic = ctx.dynamic_config
    if name not in ("", dynamic.entity):
        raise RequestRefusedError(
            ErrorCode.INVALID_REQUEST,
            f"Unexpected broker id, expected {dynamic.entity} or the "
            f'cluster default (""), but received {name!r}: ask that broker',
        )
    entity = dyn.DEFAULT_ENTITY if name == "" else name
    change = make_change(configs, dyn.list_bases(ctx.config, dynamic))
    for _ in range(WRITE_ATTEMPTS):
        current, version = await dyn.read_entity(ctx.controller.coord, entity)
        new = change(current)
        refusal = dyn.check_settings(new)
        if refusal is not None:
            raise RequestRefusedError(*refusal)
        if validate_only:
            return
        if await dyn.write_entity(ctx.controller.coord, entity, new, version):
            await dynamic.reload()  # this broker at once; the others through /config/changes
            return
    raise RequestRefusedError(
        ErrorCode.UNKNOWN_SERVER_ERROR, f"broker config {entity} kept changing under this request; try again"
    )


async def _one(
    ctx: BrokerContext, resource: Any, make_change: Callable[..., Change], validate_only: bool
) -> tuple[int, str | None]:
    try:
        if resource.resource_type == TOPIC:
            await _alter_topic(ctx, resource.resource_name, make_change(resource.configs), validate_only)
        elif resource.resource_type == BROKER:
            await _alter_broker(ctx, resource.resource_name, make_change, resource.configs, validate_only)
        else:
            raise RequestRefusedError(
                ErrorCode.INVALID_REQUEST,
                f"resource type {resource.resource_type} cannot be altered here (topics: 2, brokers: 4)",
            )
    except RequestRefusedError as refused:
        return int(refused.code), refused.message
    return 0, None


async def _answer(ctx: BrokerContext, body: Any, response: Any, change: Any) -> Reply:
    """AlterConfigs and IncrementalAlterConfigs answer alike: one result per resource."""
    out = []
    for r in body.resources:
        code, message = await _one(ctx, r, change, body.validate_only)
        out.append(
            response.AlterConfigsResourceResponse(
                error_code=code, error_message=message, resource_type=r.resource_type, resource_name=r.resource_name
            )
        )
    return Reply(response(responses=out))


async def alter_configs(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    return await _answer(ctx, body, AlterConfigsResponse, _replace_all)


async def incremental_alter_configs(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    return await _answer(ctx, body, IncrementalAlterConfigsResponse, _incremental)
