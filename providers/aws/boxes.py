"""Pack permissions into AWS-shaped rules: one CIDR, one protocol, one port range.

Security group rules and network ACL entries both name a single CIDR and a
single contiguous port range, and every rule counts against a quota. The
packer takes (CIDR, ports) permissions of one direction and returns an exact
cover with few rules: per protocol and port range, the CIDRs that allow it
are collapsed (two /25 become one /24, a CIDR inside another disappears),
then every rule that the others already cover is dropped (a 10.0.0.0/8 rule
next to 0.0.0.0/0 on the same ports), smallest first, so no rule left is
redundant. The union is always exactly the input.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from cloudfence.addresses import IPNetwork
from cloudfence.families import collapse, compatible
from cloudfence.intervals import IntervalSet
from cloudfence.ports import MAX_PORT, PortSet

ANY = "any"  # every protocol and port: AWS protocol "-1"
RULE_PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")  # "other" exists only inside ANY


@dataclass(frozen=True)
class Box:
    """One rule's worth of permission. `net` is None for a rule naming a group."""

    proto: str
    lo: int
    hi: int
    net: IPNetwork | None = None

    @property
    def full(self) -> bool:
        """Whether the rule carries no port restriction."""
        return self.proto == ANY or (self.lo, self.hi) == (0, MAX_PORT)

    def covers(self, other: Box) -> bool:
        if self.net is None or other.net is None or self.net.version != other.net.version:
            return False
        if not other.net.subnet_of(self.net):  # type: ignore[arg-type]
            return False
        if self.proto == ANY:
            return True
        return self.proto == other.proto and self.lo <= other.lo and other.hi <= self.hi

    def ports(self) -> PortSet:
        if self.proto == ANY:
            return PortSet.any()
        return PortSet({self.proto: IntervalSet.of(self.lo, self.hi)})

    def sort_key(self) -> tuple[tuple[int, int, int], int, int, int]:
        net = (0, 0, 0) if self.net is None else (
            self.net.version, int(self.net.network_address), self.net.prefixlen)
        return (net, _PROTO_ORDER[self.proto], self.lo, self.hi)


_PROTO_ORDER = {p: i for i, p in enumerate((ANY, *RULE_PROTOCOLS))}


def spans(ports: PortSet) -> list[tuple[str, int, int]]:
    """The (protocol, lo, hi) rules for one peer: a single ANY rule for `any`."""
    if ports.is_any():
        return [(ANY, 0, MAX_PORT)]
    return [(p, lo, hi) for p, ivs in ports.items() if p in RULE_PROTOCOLS for lo, hi in ivs]


def pack(entries: Iterable[tuple[IPNetwork, PortSet]]) -> list[Box]:
    by_net: dict[IPNetwork, PortSet] = {}
    for net, ports in entries:
        by_net[net] = by_net[net] | ports if net in by_net else ports
    found: set[Box] = set()
    for net in collapse(n for n, ps in by_net.items() if ps.is_any()):
        found.add(Box(ANY, 0, MAX_PORT, net))
    for proto in RULE_PROTOCOLS:
        candidates = {iv for ps in by_net.values() for iv in ps.get(proto)}
        for lo, hi in candidates:
            want = IntervalSet.of(lo, hi)
            nets = [n for n, ps in by_net.items()
                    if compatible(proto, n.version) and want.issubset(ps.get(proto))]
            for net in collapse(nets):
                found.add(Box(proto, lo, hi, net))
    boxes = sorted(found, key=Box.sort_key)
    # Only boxes whose CIDRs overlap can cover one another, and two CIDRs overlap
    # only when one holds the other: look those up instead of testing every pair.
    index = _NetIndex(boxes)
    boxes = [b for b in boxes if not any(o is not b and o.covers(b) for o in index.supernets(b))]
    index = _NetIndex(boxes)
    kept = set(boxes)
    for b in sorted(boxes, key=_smallest_first):
        if _covered(b, [o for o in index.overlapping(b) if o is not b and o in kept]):
            kept.discard(b)
    return [b for b in boxes if b in kept]


class _NetIndex:
    """Boxes by CIDR, to find those whose CIDR holds a box's (its supernets, at
    most one per prefix length) or lies inside it (a range of network addresses)."""

    def __init__(self, boxes: list[Box]):
        self.by_net: dict[tuple[int, int, int], list[Box]] = {}
        by_start: dict[int, list[tuple[int, int, Box]]] = {4: [], 6: []}
        for i, b in enumerate(boxes):
            assert b.net is not None
            key = (b.net.version, int(b.net.network_address), b.net.prefixlen)
            self.by_net.setdefault(key, []).append(b)
            by_start[b.net.version].append((int(b.net.network_address), i, b))
        for entries in by_start.values():
            entries.sort(key=lambda e: e[:2])
        self.spans = by_start
        self.starts = {v: [lo for lo, _, _ in entries] for v, entries in by_start.items()}

    def supernets(self, b: Box) -> list[Box]:
        """Boxes whose CIDR holds b's, b's own CIDR included."""
        assert b.net is not None
        version, bits = b.net.version, b.net.max_prefixlen
        address = int(b.net.network_address)
        out: list[Box] = []
        for length in range(b.net.prefixlen + 1):
            mask = ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1)
            out.extend(self.by_net.get((version, address & mask, length), ()))
        return out

    def overlapping(self, b: Box) -> list[Box]:
        """Boxes whose CIDR overlaps b's: its supernets and the CIDRs inside it."""
        assert b.net is not None
        version = b.net.version
        lo, hi = int(b.net.network_address), int(b.net.broadcast_address)
        starts, entries = self.starts[version], self.spans[version]
        found = {id(o): o for o in self.supernets(b)}
        for i in range(bisect.bisect_left(starts, lo), bisect.bisect_right(starts, hi)):
            o = entries[i][2]
            found.setdefault(id(o), o)  # starts inside b's CIDR: inside it, or b's own CIDR
        return list(found.values())


def _smallest_first(b: Box) -> tuple[object, ...]:
    assert b.net is not None
    return (-b.net.prefixlen, b.proto == ANY, b.hi - b.lo, b.sort_key())


def _covered(b: Box, others: list[Box]) -> bool:
    """Whether the union of `others` holds every (address, port) of `b`."""
    assert b.net is not None
    lo, hi = int(b.net.network_address), int(b.net.broadcast_address)
    rel = [o for o in others if o.net is not None and o.net.version == b.net.version
           and o.net.overlaps(b.net) and (o.proto == ANY or (o.proto == b.proto and b.proto != ANY))]
    if not rel:
        return False
    cuts = {lo}
    for o in rel:
        olo, ohi = int(o.net.network_address), int(o.net.broadcast_address)  # type: ignore[union-attr]
        cuts.update(c for c in (olo, ohi + 1) if lo < c <= hi)
    need = IntervalSet.of(b.lo, b.hi)
    for start in cuts:
        have = IntervalSet()
        for o in rel:
            if int(o.net.network_address) <= start <= int(o.net.broadcast_address):  # type: ignore[union-attr]
                have = have | IntervalSet.of(o.lo, o.hi)
        if not need.issubset(have):
            return False
    return True
