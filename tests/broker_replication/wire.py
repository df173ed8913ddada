"""Hand-driven message passing between Replica cores for the scenario tests.

`Wire.run` carries every peer message to its destination until the cluster is quiet and
hands back what was meant for the outside (produce completions, ISR proposals). Nodes in
`down` swallow what is sent to them. A leader's answer to a follower's fetch that found
nothing new is held, as the broker's long poll holds it, and never delivered here: the
exchange ends, and a later `Tick` past the follower's retry time asks again. It must never
reorder or drop unless told to.
"""

from __future__ import annotations

from broker.replication import ErrorCode, Replica
from broker.replication.messages import (
    Action,
    CompleteProduce,
    Event,
    IsrChangeResult,
    ProposeIsr,
    ReplyEpochQuery,
    ReplyFetch,
    SendEpochQuery,
    SendFetch,
)


class Wire:
    def __init__(self, replicas: dict[int, Replica]) -> None:
        self.replicas = replicas
        self.down: set[int] = set()
        self.completed: dict[int, CompleteProduce] = {}
        self.proposals: list[ProposeIsr] = []
        self.now_ms = 0

    def step(self, node: int, event: Event, *, accept_isr: bool = True) -> None:
        self.run(node, self.replicas[node].step(event, self.now_ms), accept_isr=accept_isr)

    def run(self, origin: int, actions: list[Action], *, accept_isr: bool = True, max_messages: int = 1000) -> None:
        queue = [(origin, a) for a in actions]
        for _ in range(max_messages):
            if not queue:
                return
            src, action = queue.pop(0)
            dst, event = self._route(src, action, accept_isr)
            if dst is None or dst in self.down:
                continue
            queue += [(dst, a) for a in self.replicas[dst].step(event, self.now_ms)]
        raise AssertionError("messages still flowing after max_messages")

    def _route(self, src: int, action: Action, accept_isr: bool) -> tuple[int | None, Event]:
        match action:
            case SendFetch(leader, request):
                return leader, request
            case SendEpochQuery(leader, query):
                return leader, query
            case ReplyFetch(to, response):
                if to >= 0 and not response.batches and response.error == ErrorCode.NONE:
                    return None, action  # long-polled: held at the leader
                return to, response
            case ReplyEpochQuery(to, answer):
                return to, answer
            case CompleteProduce():
                self.completed[action.request_id] = action
            case ProposeIsr():
                self.proposals.append(action)
                if accept_isr:
                    return src, IsrChangeResult(action, True, action.expected_version + 1)
        return None, action
