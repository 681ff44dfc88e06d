"""IP families: which addresses are IPv4 and which IPv6, and which protocols can
travel over which. Every target writes rules per family (AWS counts quotas per
family, Azure and GCP refuse mixed lists), so the split lives here once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.intent import Intent

BOTH: frozenset[int] = frozenset((4, 6))


def split(nets: Iterable[IPNetwork]) -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv6Network]]:
    """The IPv4 networks and the IPv6 networks, each in the order given."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for n in nets:
        if isinstance(n, ipaddress.IPv4Network):
            v4.append(n)
        else:
            v6.append(n)
    return v4, v6


def collapse(nets: Iterable[IPNetwork]) -> list[IPNetwork]:
    """The fewest networks covering the same addresses: IPv4 first, then IPv6."""
    v4, v6 = split(nets)
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def compatible(proto: str, version: int) -> bool:
    """ICMP exists only over IPv4, ICMPv6 only over IPv6: other pairs never match a packet."""
    return not ((proto == "icmp" and version == 6) or (proto == "icmpv6" and version == 4))


def useful(proto: str, families: frozenset[int]) -> bool:
    """Whether a rule for `proto` can match traffic between ends that share `families`."""
    return any(compatible(proto, f) for f in families)


def segment_families(intent: Intent, segment: str) -> frozenset[int]:
    """The families a segment's members use: those of its cidrs, or both when it has none.
    A rule for another family could never match a packet, so none need be written."""
    cidrs = intent.segments[segment].cidrs
    return frozenset(c.version for c in cidrs) if cidrs else BOTH


def by_family(addresses: AddressSet) -> dict[int, AddressSet]:
    """The non-empty families of an address set, {4: its IPv4 part, 6: its IPv6 part}:
    for targets that write one family per rule from a computed set, not a list of CIDRs."""
    out: dict[int, AddressSet] = {}
    if addresses.v4:
        out[4] = AddressSet(v4=addresses.v4)
    if addresses.v6:
        out[6] = AddressSet(v6=addresses.v6)
    return out


def whole(version: int) -> AddressSet:
    """Every address of one family (0.0.0.0/0 or ::/0)."""
    return by_family(AddressSet.everything())[version]
