"""Rule priorities: unique per NSG and direction, from content, stable under edits.

Every cloudfence rule but the deny-alls allows, so the order among them does
not change what passes; the priority only has to be unique and inside the user
range. Each rule starts at a slot hashed from its name and probes upwards to
the next free one, so adding or removing one rule moves at most the rules that
probed past its slot, never the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cloudfence.providers.azure.wire import DENY_ALL_PRIORITY, MIN_PRIORITY

#: Slots for allow rules: MIN_PRIORITY .. DENY_ALL_PRIORITY - 1.
SLOTS = DENY_ALL_PRIORITY - MIN_PRIORITY


def home(name: str) -> int:
    """The slot a rule prefers, from its name alone."""
    return MIN_PRIORITY + int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) % SLOTS


def priorities(names: Iterable[str]) -> dict[str, int]:
    """Priority per rule name (the names of one NSG direction, distinct), all below
    the deny-all. Placed in order of (home slot, name), so the result depends on the
    set of names only."""
    names = sorted(set(names), key=lambda n: (home(n), n))
    if len(names) > SLOTS:
        raise ValueError(f"{len(names)} rules do not fit the {SLOTS} priorities below the deny-all")
    taken: set[int] = set()
    out = {}
    for name in names:
        slot = home(name)
        while slot in taken:
            slot = MIN_PRIORITY + (slot - MIN_PRIORITY + 1) % SLOTS
        taken.add(slot)
        out[name] = slot
    return out
