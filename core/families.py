"""IP families: which a segment can use, and an address set split by family.

Targets that write one IP family per rule (GCP firewall rules, Azure and AWS
per-family limits) need the split; a rule for a family neither end holds
could never match, so none is written.
"""

from __future__ import annotations

from cloudfence.addresses import AddressSet
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet

FAMILIES = (4, 6)


def split(addresses: AddressSet) -> dict[int, AddressSet]:
    """The non-empty families of a set: {4: the IPv4 part, 6: the IPv6 part}."""
    out = {}
    if addresses.v4:
        out[4] = AddressSet(addresses.v4, IntervalSet())
    if addresses.v6:
        out[6] = AddressSet(IntervalSet(), addresses.v6)
    return out


def whole(version: int) -> AddressSet:
    """Every address of one family (0.0.0.0/0 or ::/0)."""
    every = AddressSet.everything()
    return split(every)[version]


def of_segment(intent: Intent, segment: str) -> frozenset[int]:
    """Families a segment's members use: those of its cidrs, or both when it has none."""
    cidrs = intent.segments[segment].cidrs
    return frozenset(c.version for c in cidrs) if cidrs else frozenset(FAMILIES)


def useful(proto: str, families: frozenset[int]) -> bool:
    """Whether a rule for `proto` can match traffic between ends sharing `families`."""
    return bool(families) and not ((proto == "icmp" and 4 not in families)
                                   or (proto == "icmpv6" and 6 not in families))
