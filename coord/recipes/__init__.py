"""Coordination recipes on top of CoordClient: leader `Election` and `Lock`.

Both queue contenders as ephemeral-sequential znodes where each waiter watches only its
predecessor (no herd effect). They must never claim leadership or a lock while the
session is in doubt: SUSPENDED or LOST ends it and tells the caller.
"""

from coord.recipes.election import Election, LeadershipLostError
from coord.recipes.lock import Lock

__all__ = ["Election", "LeadershipLostError", "Lock"]
