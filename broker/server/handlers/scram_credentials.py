"""DescribeUserScramCredentials (API 50) and AlterUserScramCredentials (API 51), KIP-554.

Both work on the SCRAM credentials under /config/users/<user> through
`broker.security.credentials`, the code `pybroker users` runs, so a user added by either is
the same credential and takes effect at that user's next login. Describe answers mechanisms
and iteration counts, never salts or keys. Alter carries what the client derived (salt and
salted password, never the password); each user's deletions and upsertions are checked
together and written in one conditional write, or not at all, with Kafka's errors: an
unknown mechanism UNSUPPORTED_SASL_MECHANISM, an empty name or iterations outside
4096-16384 UNACCEPTABLE_CREDENTIAL, a (user, mechanism) named twice DUPLICATE_RESOURCE, a
deletion of a credential that is not there RESOURCE_NOT_FOUND. The gate asks DESCRIBE
(Describe) or ALTER (Alter) on the cluster when ACLs are on. Any broker may answer.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from broker.security.credentials import Changes, alter_user, list_users, user_credentials
from broker.server.handlers.common import BrokerContext, Reply
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import AlterUserScramCredentialsResponse as AR
from client.protocol.messages import DescribeUserScramCredentialsResponse as DR
from client.scram import MAX_ITERATIONS, MIN_ITERATIONS, credential_from_salted

# Kafka's ScramMechanism type codes (0 is UNKNOWN).
MECHANISMS = {1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}
CODES = {name: code for code, name in MECHANISMS.items()}


def _infos(credentials: dict[str, int]) -> list[Any]:
    return [DR.CredentialInfo(mechanism=CODES[m], iterations=i) for m, i in credentials.items()]


async def describe(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    coord = ctx.controller.coord
    if not body.users:  # null or empty: every user that has a credential
        users = await list_users(coord)
        return Reply(
            DR(
                error_code=0,
                results=[
                    DR.DescribeUserScramCredentialsResult(user=u, error_code=0, credential_infos=_infos(c))
                    for u, c in users.items()
                    if c
                ],
            )
        )
    counts = Counter(u.name for u in body.users)
    results = []
    for name in dict.fromkeys(u.name for u in body.users):
        out = DR.DescribeUserScramCredentialsResult(user=name, error_code=0)
        if counts[name] > 1:
            out.error_code = int(ErrorCode.DUPLICATE_RESOURCE)
            out.error_message = "a user may be described only once in a request"
        elif not (found := await user_credentials(coord, name) if name and "/" not in name else {}):
            out.error_code = int(ErrorCode.RESOURCE_NOT_FOUND)
            out.error_message = f"user {name!r} has no SCRAM credential"
        else:
            out.credential_infos = _infos(found)
        results.append(out)
    return Reply(DR(error_code=0, results=results))


def _refusal(user: str, items: list[tuple[int, Any]]) -> tuple[ErrorCode, str] | None:
    """Why this user's changes (deletions: None, upsertions: the request entry) are refused."""
    if not user or "/" in user:
        return ErrorCode.UNACCEPTABLE_CREDENTIAL, "the user name must be non-empty and contain no '/'"
    unknown = sorted({m for m, _ in items if m not in MECHANISMS})
    if unknown:
        return ErrorCode.UNSUPPORTED_SASL_MECHANISM, f"unknown SCRAM mechanism(s) {unknown} (1: SHA-256, 2: SHA-512)"
    twice = sorted(MECHANISMS[m] for m, n in Counter(m for m, _ in items).items() if n > 1)
    if twice:
        return ErrorCode.DUPLICATE_RESOURCE, f"{', '.join(twice)} altered more than once for one user"
    for mechanism, up in items:
        if up is not None and not MIN_ITERATIONS <= up.iterations <= MAX_ITERATIONS:
            return (
                ErrorCode.UNACCEPTABLE_CREDENTIAL,
                f"{MECHANISMS[mechanism]}: iterations {up.iterations} outside {MIN_ITERATIONS}-{MAX_ITERATIONS}",
            )
        if up is not None and not (up.salt and up.salted_password):
            return ErrorCode.UNACCEPTABLE_CREDENTIAL, f"{MECHANISMS[mechanism]}: empty salt or salted password"
    return None


async def alter(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    per_user: dict[str, list[tuple[int, Any]]] = {}
    for d in body.deletions:
        per_user.setdefault(d.name, []).append((d.mechanism, None))
    for u in body.upsertions:
        per_user.setdefault(u.name, []).append((u.mechanism, u))
    results = []
    for user, items in per_user.items():
        out = AR.AlterUserScramCredentialsResult(user=user, error_code=0)
        refusal = _refusal(user, items)
        if refusal is None:
            changes: Changes = {
                MECHANISMS[m]: None
                if up is None
                else credential_from_salted(MECHANISMS[m], bytes(up.salt), bytes(up.salted_password), up.iterations)
                for m, up in items
            }
            try:
                await alter_user(ctx.controller.coord, user, changes, require_present=True)
            except LookupError as exc:
                refusal = ErrorCode.RESOURCE_NOT_FOUND, str(exc)
        if refusal is not None:
            out.error_code, out.error_message = int(refusal[0]), refusal[1]
        results.append(out)
    return Reply(AR(results=results))
