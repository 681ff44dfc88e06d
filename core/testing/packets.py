"""An independent packet-level judge for the conformance kit's mutants.

verify compares interval classes with the core's join; a mutant is only worth
counting if it changes a connection, and that must be decided by other code, or
a bug shared by verify and the judge would hide itself. So this module tries
concrete packets (a source point, a destination point, a protocol, a port) one
by one: what is *intended* comes straight from the spec's flows (a flow names
exactly the connections it allows), what is *allowed* from the provider's
`evaluate` of the records, read at each governed end. It never uses
`cloudfence.reach`.

A packet "surely" differs when it is allowed under the target's narrowest
reading but not intended, or intended but refused under its widest reading:
only those count, so an implementation-defined corner never counts a mutant.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cloudfence.addresses import PUBLIC, AddressSet
from cloudfence.families import compatible
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.intervals import IntervalSet
from cloudfence.ports import PORTED, PortSet
from cloudfence.reachability import EGRESS, INGRESS, NEVER, OVERLAP, Peer, Reachability
from cloudfence.space import Space

V4_MAX, V6_MAX = 2**32 - 1, 2**128 - 1
# Addresses worth trying on every target: public, each private range, metadata, IPv6.
FIXED = ("0.0.0.0", "8.8.8.8", "198.51.100.7", "203.0.113.9", "10.0.0.1", "10.255.255.254",
         "172.16.0.1", "192.168.200.1", "100.64.0.1", "169.254.169.254", "255.255.255.255",
         "::", "2001:db8:ffff::7", "2600:1f18:aa:bbff::1", "fd00::7", "fe80::1")
WIDE, NARROW = 0, 1


@dataclass(frozen=True, order=True)
class Point:
    """One end of a packet: a segment host (or the segment itself when it is known
    by identity only), a platform endpoint, or an address that is no segment's."""

    kind: str  # "segment" | "platform" | "address"
    name: str = ""
    family: int = 0
    address: int = -1

    def __str__(self) -> str:
        if self.address < 0:
            return self.name
        kind = ipaddress.IPv4Address if self.family == 4 else ipaddress.IPv6Address
        text = str(kind(self.address))
        return f"{self.name} ({text})" if self.name else text


@dataclass(frozen=True)
class Packet:
    kind: str  # "extra" | "missing"
    src: Point
    dst: Point
    protocol: str
    port: int

    def __str__(self) -> str:
        port = f"/{self.port}" if self.protocol in PORTED else ""
        return f"{self.kind} {self.src} -> {self.dst} {self.protocol}{port}"


def _contains(addresses: AddressSet, family: int, value: int) -> bool:
    return value in (addresses.v4 if family == 4 else addresses.v6)


def _boundaries(addresses: AddressSet) -> Iterator[tuple[int, int]]:
    for family, ivs, top in ((4, addresses.v4, V4_MAX), (6, addresses.v6, V6_MAX)):
        for lo, hi in ivs:
            for v in (lo - 1, lo, hi, hi + 1):
                if 0 <= v <= top:
                    yield family, v


class Judge:
    """Packets tried against one intent on one target (the original plan's reach
    fixes the target's readings: where opaque points may be, phantom ranges)."""

    def __init__(self, intent: Intent, space: Space, implied: Iterable[Flow], base: Reachability):
        self.intent = intent
        self.space = space
        self.flows = (*intent.flows, *implied)
        self.base = base
        self.segment_addresses = AddressSet()
        for seg in intent.segments.values():
            self.segment_addresses = self.segment_addresses | seg.addresses
        self.networks = {name: self._meaning(name) for name in intent.networks}
        # Platform endpoints the target resolves: by address (they are those addresses)
        # or by a name of their own (a point somewhere in those addresses).
        named = {ep.name for f in self.flows for ep in (f.src, f.dst) if ep.kind == "platform"}
        self.endpoint_addresses = {n: r.addresses - self.segment_addresses - (
            ((space.internal or AddressSet()) | space.egress_ips) if r.public else AddressSet())
            for n, r in space.endpoints.items() if n in named}
        self.by_address = frozenset(n for n in self.endpoint_addresses if not space.endpoints[n].by_name)

    # ------------------------------------------------------------ what the spec says

    def _meaning(self, name: str) -> AddressSet:
        """A network's addresses on this target: what it lists less every segment's
        cidr; the built-in internet is public space less the internal space and the
        deployment's egress addresses (DESIGN section 3)."""
        net = self.intent.networks[name]
        if net.builtin:
            listed = PUBLIC - (self.space.internal or AddressSet()) - self.space.egress_ips
        else:
            listed = net.addresses
        return listed - self.segment_addresses

    def _member(self, point: Point, ep: Endpoint) -> bool:
        if ep.kind == "network":
            held = self.networks[ep.name]
            if point.kind == "platform" and point.name in self.endpoint_addresses:
                return _within_a_family(self.endpoint_addresses[point.name], held)  # part of it
            return point.kind == "address" and _contains(held, point.family, point.address)
        if point.kind == "platform" and point.name in self.base.endpoint_members.get(ep.name, ()):
            return True  # a declared end that is part of the endpoint (ingress controller pods)
        if ep.name in self.by_address:
            return point.kind == "address" and _contains(self.endpoint_addresses[ep.name], point.family,
                                                         point.address)
        return point.kind == ep.kind and point.name == ep.name

    def intended(self, src: Point, dst: Point) -> PortSet:
        """The ports the flows name from src to dst."""
        out = PortSet()
        for f in self.flows:
            if self._member(src, f.src) and self._member(dst, f.dst):
                out = out | f.ports
        return out

    # ------------------------------------------------------------ what the records allow

    def _region(self, point: Point) -> AddressSet:
        if point.kind == "segment" and self.intent.segments[point.name].cidrs:
            return self.intent.segments[point.name].addresses
        if point.name in self.base.background:
            return self.base.background[point.name].region
        if point.name in self.base.regions:
            return self.base.regions[point.name]
        if point.kind == "platform":
            return self.endpoint_addresses.get(point.name, AddressSet())
        return self.space.hidden if point.kind == "segment" else AddressSet()

    def _by_address(self, peer: Peer, point: Point, reading: int) -> bool:
        if point.address >= 0:
            return _contains(peer.addresses, point.family, point.address)
        region = self._region(point)
        mode = self.base.address_match[reading]
        if mode == NEVER or not region:
            return False
        if mode == OVERLAP:
            return bool(peer.addresses & region)
        if point.kind == "platform" and point.name in self.endpoint_addresses:
            return _within_a_family(region, peer.addresses)  # a dual-stack service
        return region.issubset(peer.addresses)

    def _matches(self, peer: Peer, point: Point, reading: int) -> bool:
        if peer.everything:
            return True
        partly = peer.partly if reading == WIDE else frozenset()
        if point.name and point.name in peer.segments | partly | peer.others | peer.platform:
            return True
        return bool(peer.addresses) and self._by_address(peer, point, reading)

    def _side(self, reach: Reachability, end: Point, direction: str, other: Point, reading: int) -> PortSet:
        """What the end lets through to or from `other`: every layer must allow it."""
        if end.kind == "address" or end.name not in reach.ends:
            return PortSet.any()  # no end of the target: not restricted here
        allowed = PortSet.any()
        for layer in reach.layers_of(end.name):
            union = PortSet()
            for peer, ports in reach.rules(end.name, direction, layer):
                if self._matches(peer, other, reading):
                    union = union | ports
            allowed = allowed & union
        return allowed

    def allowed(self, reach: Reachability, src: Point, dst: Point, reading: int) -> PortSet:
        return (self._side(reach, src, EGRESS, dst, reading)
                & self._side(reach, dst, INGRESS, src, reading))

    def differs(self, reach: Reachability, src: Point, dst: Point) -> Packet | None:
        """A packet from src to dst that surely differs from the flows, else None:
        allowed under the narrowest reading but not intended (extra), or intended
        but refused under the widest (missing)."""
        if src.family and dst.family and src.family != dst.family:
            return None  # no such packet
        wanted = self.intended(src, dst)
        family = src.family or dst.family
        for kind, diff in (("extra", self.allowed(reach, src, dst, NARROW) - wanted),
                           ("missing", wanted - self.allowed(reach, src, dst, WIDE))):
            for proto, ivs in diff.items():
                if family and not compatible(proto, family):
                    continue  # ICMP over IPv6, ICMPv6 over IPv4: no such packet
                if proto in self.base.judged_protocols:
                    return Packet(kind, src, dst, proto, ivs.first() if proto in PORTED else 0)
        return None

    # ------------------------------------------------------------ which packets to try

    def points(self, extra: AddressSet) -> list[Point]:
        """Segment hosts at the ends of their cidrs (or the segment itself), platform
        endpoints, and addresses at the boundaries of every network, of the internal
        space and of `extra` (what a mutant changed), plus fixed public and private ones."""
        sets = [*self.networks.values(), *self.endpoint_addresses.values(),
                self.space.internal or AddressSet(), self.space.egress_ips, extra]
        values = {v for one in sets for v in _boundaries(one)}  # each apart: a union hides inner edges
        for text in FIXED:
            addr = ipaddress.ip_address(text)
            values.add((addr.version, int(addr)))
        out: set[Point] = set()
        for family, value in values:
            out.add(self._point_at(family, value))
        for name, seg in self.intent.segments.items():
            if seg.cidrs and name not in self.base.opaque_segments:
                out.update(Point("segment", name, f, v) for f, v in _boundaries(seg.addresses)
                           if _contains(seg.addresses, f, v))
            else:
                out.add(Point("segment", name))
        out.update(Point("platform", ep.name) for f in self.flows for ep in (f.src, f.dst)
                   if ep.kind == "platform" and ep.name not in self.by_address)
        out.update(Point("platform", name) for name in self.base.background)
        phantom = self.base.phantom
        return sorted(p for p in out if p.address < 0 or p.kind == "segment"
                      or not _contains(phantom, p.family, p.address))

    def _point_at(self, family: int, value: int) -> Point:
        for name, seg in self.intent.segments.items():
            if _contains(seg.addresses, family, value):
                if name in self.base.opaque_segments:
                    return Point("segment", name)
                return Point("segment", name, family, value)
        return Point("address", "", family, value)


def _within_a_family(region: AddressSet, addresses: AddressSet) -> bool:
    """All of `region` in one IP family it has addresses in lies in `addresses`."""
    v4 = AddressSet(region.v4, IntervalSet())
    v6 = AddressSet(IntervalSet(), region.v6)
    return any(part and part.issubset(addresses) for part in (v4, v6))


def changed_ends(before: Reachability, after: Reachability) -> tuple[set[tuple[str, str]], AddressSet]:
    """The (segment, direction) ends whose rules differ, and the addresses the
    difference names (where to probe)."""
    ends: set[tuple[str, str]] = set()
    moved = AddressSet()
    for end in before.ends | after.ends:
        if before.layers_of(end) != after.layers_of(end):
            ends.update({(end, EGRESS), (end, INGRESS)})
        for layer in set(before.layers_of(end)) | set(after.layers_of(end)):
            for direction in (EGRESS, INGRESS):
                old, new = before.rules(end, direction, layer), after.rules(end, direction, layer)
                if old != new:
                    ends.add((end, direction))
                    moved = moved | _sym(_union(p.addresses for p, _ in old),
                                         _union(p.addresses for p, _ in new))
    return ends, moved


def _union(sets: Iterable[AddressSet]) -> AddressSet:
    out = AddressSet()
    for s in sets:
        out = out | s
    return out


def _sym(a: AddressSet, b: AddressSet) -> AddressSet:
    return (a - b) | (b - a)
