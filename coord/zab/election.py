"""Fast leader election (the LOOKING role), as in ZooKeeper's FastLeaderElection.

Each LOOKING server votes for the best candidate it has heard of, ordered by
(current epoch, last zxid, server id), and re-broadcasts whenever its vote improves.
Votes only count within one election round; a higher round resets what was counted.
A server decides once a quorum of the round votes for the same candidate and no
better vote arrived for one more tick (ZooKeeper's finalize wait), or at once when every
member agrees. A server
that comes back while an ensemble already runs joins the leader that a quorum of
FOLLOWING/LEADING servers report, provided that leader reports LEADING itself.

Election only picks a candidate. It must never be what makes ZAB safe: that is the
epoch established in discovery (leader.py), which tolerates any election outcome.
"""

from __future__ import annotations

from coord.zab.messages import FOLLOWING, LEADING, LOOKING, Notification
from coord.zab.quorum import is_quorum
from coord.zab.roles import PeerView, Role, RoleState

Vote = tuple[int, int, int]


def answer_looking(peer: PeerView, sender: int, msg: Notification, state: int, leader: int | None) -> None:
    """How a FOLLOWING / LEADING server answers a LOOKING server: name its leader."""
    if msg.state == LOOKING and leader is not None:
        peer.send(sender, Notification(msg.round, state, peer.current_epoch, 0, leader))


class Looking(RoleState):
    role = Role.LOOKING

    def __init__(self, peer: PeerView) -> None:
        super().__init__(peer)
        self.vote: Vote = peer.own_vote()
        self.votes: dict[int, Vote] = {}
        self.reports: dict[int, tuple[int, int, int]] = {}  # sid -> (state, epoch, leader)
        self.next_retry = 0.0
        self.decide_at: float | None = None

    def start(self, now: float) -> None:
        self.peer.round += 1
        self._announce(now)
        self._check(now)

    def on_tick(self, now: float) -> None:
        if self.decide_at is not None and now >= self.decide_at:
            self._decide(now)
        elif now >= self.next_retry:
            self._announce(now)

    def on_notification(self, sender: int, msg: Notification, now: float) -> None:
        if msg.state != LOOKING:
            self.reports[sender] = (msg.state, msg.vote_epoch, msg.vote_id)
            self._check_established(now)
            return
        peer = self.peer
        theirs: Vote = (msg.vote_epoch, msg.vote_zxid, msg.vote_id)
        if msg.round < peer.round:
            peer.send(sender, self._notification())
            return
        if msg.round > peer.round:
            peer.round = msg.round
            self.votes.clear()
            self.vote = max(peer.own_vote(), theirs)
            self.decide_at = None
            self._announce(now)
        elif theirs > self.vote:
            self.vote = theirs
            self.decide_at = None  # a better vote: count again before deciding
            self._announce(now)
        self.votes[sender] = theirs
        self._check(now)

    def _notification(self) -> Notification:
        epoch, zxid, sid = self.vote
        return Notification(self.peer.round, LOOKING, epoch, zxid, sid)

    def _announce(self, now: float) -> None:
        self.peer.broadcast(self._notification())
        self.next_retry = now + self.peer.config.election_retry * self.peer.config.tick

    def _check(self, now: float) -> None:
        peer = self.peer
        self.votes[peer.sid] = self.vote
        agreeing = [sid for sid, vote in self.votes.items() if vote == self.vote]
        if len(agreeing) == len(peer.members):
            self._decide(now)
        elif is_quorum(agreeing, peer.members) and self.decide_at is None:
            self.decide_at = now + peer.config.tick

    def _decide(self, now: float) -> None:
        peer = self.peer
        if self.vote[2] == peer.sid:
            peer.become_leading(now)
        else:
            peer.become_following(self.vote[2], now)

    def _check_established(self, now: float) -> None:
        """Join a running ensemble: a quorum names the same (epoch, leader)."""
        for sid, (state, epoch, leader) in self.reports.items():
            if state != LEADING or leader != sid:
                continue
            backers = [
                s
                for s, (st, ep, ld) in self.reports.items()
                if st in (FOLLOWING, LEADING) and ep == epoch and ld == leader
            ]
            if is_quorum(backers, self.peer.members):
                self.peer.become_following(leader, now)
                return
