"""The reachability model and the equivalence check behind `verify`.

Intended reachability comes from the flows alone: a flow names exactly the
connections it allows (its source's points x its destination's points x its
ports). It is never built by joining per-end openings, which is how targets
evaluate rules and how two flows through a shared address range could bridge
segments that no flow connects.

Actual reachability is the join of what a target's records allow at each end
(`Reachability`, built by a provider's `evaluate`): a connection passes when
the source side lets it out and the destination side lets it in. The world is
open: besides the segments it holds every other address, the background ends
a target declares (pods of no segment, the cluster DNS pods), and platform
endpoints; only connections with a governed segment at one end are judged.

Points are addresses, or opaque names for what is known by identity (segments
without a cidr, pods, background ends, platform endpoints). A rule's addresses
reach an opaque point according to the target's reading: for "nothing extra"
the widest (any overlap with where it may be), for "nothing missing" the
narrowest (the rule holds all of it, or never). A connection that passes under
one reading only is reported as such.

The join is sparse: work grows with rules and the address boundaries they
mention, never with segments squared times ports.
"""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from cloudfence.addresses import AddressSet, address_text
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.intervals import EMPTY, IntervalSet
from cloudfence.ports import FULL, PORTLESS, PROTOCOLS, PortSet, format_interval
from cloudfence.reachability import (
    EGRESS,
    INGRESS,
    NEVER,
    OVERLAP,
    SUPERSET,
    Peer,
    Points,
    Reachability,
)
from cloudfence.space import Space

__all__ = ["EGRESS", "INGRESS", "Peer", "Points", "Reachability"]

WIDE, NARROW = 0, 1

Allowed = list[tuple[Points, PortSet]]  # one end's effective rules in one direction: (peer, ports)


# ------------------------------------------------------------------- joining


@dataclass(frozen=True)
class Cube:
    src: Points
    dst: Points
    ports: PortSet
    # The addresses of every end are removed from this side. Kept as a flag,
    # not subtracted, so a rule to "internet" stays one interval instead of
    # one per segment hole.
    src_outside: bool = False
    dst_outside: bool = False


class World:
    """What points exist on one target, and how rules name them."""

    def __init__(self, intent: Intent, space: Space | None = None, reach: Reachability | None = None,
                 extra_platform: Iterable[str] = ()):
        self.intent = intent
        self.space = space or Space(intent)
        reach = reach or Reachability("intent", intent.segments)
        self.ends = reach.ends
        self.governed = reach.governed
        self.members = reach.endpoint_members
        self.background = dict(reach.background)
        self.address_match = reach.address_match
        self.judged = reach.judged_protocols
        self.reading_note = reach.reading_note
        self.seg_points: dict[str, Points] = {}
        regions: dict[str, AddressSet] = {}
        phantom = reach.phantom
        for name, seg in intent.segments.items():
            if seg.cidrs and name not in reach.opaque_segments:
                self.seg_points[name] = Points(addresses=seg.addresses)
                continue
            self.seg_points[name] = Points(opaque=frozenset([name]))
            if seg.cidrs:
                regions[name] = seg.addresses
                phantom = phantom | seg.addresses  # its cidr holds only its members
            else:
                regions[name] = reach.regions.get(name, self.space.hidden)
        for name, bg in self.background.items():
            regions[name] = bg.region
        platform = set(extra_platform)
        for flow in intent.flows:
            platform.update(ep.name for ep in (flow.src, flow.dst) if ep.kind == "platform")
        resolved = self.space.endpoints
        #: Endpoints the target's rules write as addresses: they are those addresses.
        self.by_address = frozenset(n for n in platform if n in resolved and not resolved[n].by_name)
        for name in sorted(platform - self.by_address):
            known = self.space.network(name) if name in resolved else AddressSet()
            regions.setdefault(name, reach.regions.get(name, known))
        # Endpoints named natively that sit inside a network belong to it (DESIGN section 3).
        self._named = {n: regions[n] for n in sorted(platform) if n in resolved and n in regions
                       and regions[n]}
        # Such an endpoint (a dual-stack service) is surely reached by addresses that hold
        # all of it in one IP family: a segment of that family alone reaches it there.
        self.regions = regions
        self.phantom = phantom
        self.opaque = frozenset(regions)
        by_region: dict[AddressSet, list[str]] = defaultdict(list)
        for name, region in sorted(regions.items()):
            if region:
                by_region[region].append(name)
        self._by_region = dict(by_region)
        self._regions = _RegionIndex(list(self._by_region))
        self._matched: dict[tuple[AddressSet, int], frozenset[str]] = {}
        self._judged_ports = PortSet({p: FULL for p in self.judged})
        self._all_judged = self.judged >= frozenset(PROTOCOLS)
        self._resolved: dict[tuple[Peer, int], Points] = {}

    def label(self, name: str) -> str:
        bg = self.background.get(name)
        return bg.label if bg else name

    def matched(self, addresses: AddressSet, reading: int) -> frozenset[str]:
        """Opaque points a rule's addresses reach under a reading."""
        mode = self.address_match[reading]
        if mode == NEVER or not addresses:
            return frozenset()
        key = (addresses, reading)
        if key not in self._matched:
            found: list[str] = []
            # Either reading reaches only regions the addresses overlap: those are looked up.
            for region in self._regions.overlapping(addresses):
                names = self._by_region[region]
                if mode == OVERLAP:
                    found.extend(names if region & addresses else ())
                elif mode == SUPERSET:
                    found.extend(n for n in names if region.issubset(addresses) or (
                        n in self._named and _one_family_within(region, addresses)))
            self._matched[key] = frozenset(found)
        return self._matched[key]

    def resolve(self, peer: Peer, reading: int = WIDE) -> Points:
        """The points a rule's peer names. Cached: one peer recurs in a rule per
        port range (an AWS rule holds one range), and resolving is not cheap."""
        key = (peer, reading)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(peer, reading)
        return found

    def _resolve(self, peer: Peer, reading: int) -> Points:
        if peer.everything:
            return Points(self.opaque, AddressSet.everything())
        pts = Points(frozenset(peer.platform) | frozenset(peer.others), peer.addresses)
        for name in peer.segments | (peer.partly if reading == WIDE else frozenset()):
            pts = pts | self.seg_points.get(name, Points(opaque=frozenset([name])))
        if peer.addresses:
            pts = pts | Points(opaque=self.matched(peer.addresses, reading))
        return pts

    def end_points(self, end: str) -> Points:
        return self.seg_points[end] if end in self.seg_points else Points(opaque=frozenset([end]))

    def points_of(self, ep: Endpoint) -> Points:
        """What a flow's endpoint stands for: a network is addresses (no segment
        member, pod or background end belongs to one) and the natively named
        endpoints inside them; an endpoint the target writes as addresses is them."""
        if ep.kind == "segment":
            return self.seg_points[ep.name]
        if ep.kind == "network":
            held = self.space.network(ep.name)
            inside = frozenset(n for n, region in self._named.items() if _one_family_within(region, held))
            return Points(inside, held)
        members = Points(opaque=self.members.get(ep.name, frozenset()))
        if ep.name in self.by_address:
            return Points(addresses=self.space.network(ep.name)) | members
        return Points(opaque=frozenset([ep.name])) | members

    def judged_ports(self, ports: PortSet) -> PortSet:
        # Every protocol judged: the intersection is `ports` itself, skip building it.
        return ports if self._all_judged else ports & self._judged_ports


_WIDE_REGION = 1 << 16  # IPv4 addresses: a region spanning more is tested for every rule


class _RegionIndex:
    """The opaque points' regions, so those a rule's addresses overlap are found by
    bisection (a pod segment's cidr, say) rather than by testing every region: a few
    wide regions (the pod space) are tested always."""

    def __init__(self, regions: list[AddressSet]) -> None:
        self.always: list[AddressSet] = []
        spans: list[tuple[int, int, int]] = []
        for i, region in enumerate(regions):
            v4 = region.v4.intervals
            if region.v6 or not v4 or v4[-1][1] - v4[0][0] >= _WIDE_REGION:
                self.always.append(region)
            else:
                spans.append((v4[0][0], v4[-1][1], i))
        spans.sort()
        self.regions = regions
        self.spans = spans
        self.starts = [lo for lo, _, _ in spans]

    def overlapping(self, addresses: AddressSet) -> list[AddressSet]:
        out = [r for r in self.always if r & addresses]
        found: set[int] = set()
        for lo, hi in addresses.v4:
            # A narrow region starts at most _WIDE_REGION before any address it holds.
            i = bisect.bisect_left(self.starts, lo - _WIDE_REGION)
            while i < len(self.spans) and self.spans[i][0] <= hi:
                if self.spans[i][1] >= lo:
                    found.add(self.spans[i][2])
                i += 1
        out.extend(r for i in sorted(found) if (r := self.regions[i]) & addresses)
        return out


def _one_family_within(region: AddressSet, addresses: AddressSet) -> bool:
    """Whether `addresses` hold all of `region` in an IP family it has addresses in."""
    return any(part and (AddressSet(part, IntervalSet()) if v == 4 else AddressSet(IntervalSet(), part))
               .issubset(addresses) for v, part in ((4, region.v4), (6, region.v6)))


def _effective(reach: Reachability, world: World, end: str, direction: str,
               reading: int) -> Allowed:
    """Intersect the layers governing one end; each layer is a union of rules."""
    result: Allowed | None = None
    for layer in reach.layers_of(end):
        rules = [(world.resolve(p, reading), ports)
                 for p, ports in _merged(reach.rules(end, direction, layer))]
        if result is None:
            result = rules
            continue
        nxt = []
        for pa, qa in result:
            for pb, qb in rules:
                pts, ports = pa & pb, qa & qb
                if pts and ports:
                    nxt.append((pts, ports))
        result = nxt
    return result or []


def _merged(rules: list[tuple[Peer, PortSet]]) -> list[tuple[Peer, PortSet]]:
    """One peer per port set: a layer allows the union of its rules, and a point known
    only to be somewhere in a region (a prefix list, a service tag) is surely reached
    by addresses that hold all of that region together (an AWS rule holds one CIDR:
    `internet` is many), though by no one rule alone."""
    by_ports: dict[PortSet, list[Peer]] = {}
    for peer, ports in rules:
        by_ports.setdefault(ports, []).append(peer)
    return [(peers[0] if len(peers) == 1 else _union(peers), ports) for ports, peers in by_ports.items()]


def _union(peers: list[Peer]) -> Peer:
    return Peer(segments=frozenset().union(*(p.segments for p in peers)),
                platform=frozenset().union(*(p.platform for p in peers)),
                addresses=AddressSet.of_all(p.addresses for p in peers),
                everything=any(p.everything for p in peers),
                others=frozenset().union(*(p.others for p in peers)),
                partly=frozenset().union(*(p.partly for p in peers)))


class _SegmentIndex:
    """Which governed segments a set of points touches, found by bisection so
    that a narrow rule costs a lookup, not a scan of every segment."""

    def __init__(self, governed: Iterable[str], world: World):
        self.by_opaque: dict[str, list[str]] = defaultdict(list)
        self.spans: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for seg in governed:
            pts = world.end_points(seg)
            for name in pts.opaque:
                self.by_opaque[name].append(seg)
            for version, ivs in ((4, pts.addresses.v4), (6, pts.addresses.v6)):
                self.spans[version].extend((lo, hi, seg) for lo, hi in ivs)
        for spans in self.spans.values():
            spans.sort()
        self.starts = {v: [lo for lo, _, _ in spans] for v, spans in self.spans.items()}

    def touched(self, pts: Points) -> list[str]:
        found: set[str] = set()
        for name in pts.opaque:
            found.update(self.by_opaque.get(name, ()))
        for version, ivs in ((4, pts.addresses.v4), (6, pts.addresses.v6)):
            spans, starts = self.spans[version], self.starts[version]
            for lo, hi in ivs:
                # Segment spans are disjoint: start one before the first start above lo.
                i = max(bisect.bisect_right(starts, lo) - 1, 0)
                while i < len(spans) and spans[i][0] <= hi:
                    if spans[i][1] >= lo:
                        found.add(spans[i][2])
                    i += 1
        return sorted(found)


_NARROW = 8


def join(reach: Reachability, world: World, reading: int = WIDE) -> list[Cube]:
    """Connections a target allows end to end that it is judged on: those with
    a governed segment (or an end the target governs, `judged_ends`) at one end."""
    ends = sorted(reach.ends)
    governed = reach.judged_ends
    gov = ends_points(reach, world)
    index = _SegmentIndex(ends, world)
    eg = {s: _effective(reach, world, s, EGRESS, reading) for s in ends}
    ing = {s: _effective(reach, world, s, INGRESS, reading) for s in ends}
    inbound = _Inbound(ends, ing, index)
    cubes: list[Cube] = []
    for a in ends:
        cubes.extend(_from_end(a, eg[a], world, governed, gov, index, inbound))
    for b in sorted(governed):
        for src, ports in ing[b]:
            outside = _outside(src, gov)
            if outside is not None:
                cubes.append(Cube(outside, world.end_points(b), ports, src_outside=True))
    return _judged(cubes, world)


def readings_agree(reach: Reachability, world: World) -> bool:
    """Whether every rule's peer names the same points under both readings. A join
    depends on the reading through its peers alone, so then the narrow join is the
    wide one and need not be built again."""
    for end in reach.ends:
        for layer in reach.layers_of(end):
            for direction in (EGRESS, INGRESS):
                for peer, _ in reach.rules(end, direction, layer):
                    # The readings part only on `partly` segments and on what addresses
                    # match (`_resolve`): a peer with neither is read alike.
                    if peer.everything or not (peer.partly or peer.addresses):
                        continue
                    if world.resolve(peer, WIDE) != world.resolve(peer, NARROW):
                        return False
    return True


class _Inbound:
    """Each end's ingress rules, filed under the ends their sources touch, so an
    egress rule is paired only with the ingress rules it can meet: the work stays
    proportional to rule pairs that meet, not to segments squared."""

    def __init__(self, ends: list[str], ing: dict[str, Allowed], index: _SegmentIndex):
        # narrow[a][b]: b's ingress rules whose sources touch a; rules whose sources
        # touch many ends (e.g. 0.0.0.0/0) stay in wide[b].
        self.narrow: dict[str, dict[str, Allowed]] = defaultdict(dict)
        self.wide: dict[str, Allowed] = defaultdict(list)
        for b in ends:
            for src, in_ports in ing[b]:
                touched = index.touched(src)
                if len(touched) > _NARROW:
                    self.wide[b].append((src, in_ports))
                    continue
                for a in touched:
                    self.narrow[a].setdefault(b, []).append((src, in_ports))
        self.wide_ends = set(self.wide)

    def candidates(self, a: str) -> list[str]:
        """The ends with an ingress rule that may admit `a`."""
        return sorted(set(self.narrow.get(a, {})) | self.wide_ends)

    def rules(self, a: str, b: str) -> Allowed:
        """b's ingress rules that may admit `a`."""
        return [*self.narrow.get(a, {}).get(b, ()), *self.wide.get(b, ())]


def _from_end(a: str, egress: Allowed, world: World, governed: frozenset[str], gov: Points,
              index: _SegmentIndex, inbound: _Inbound) -> list[Cube]:
    """What leaves end `a`: where each egress rule meets another end's ingress, and,
    when `a` is governed, what it lets out to points of no end."""
    a_pts = world.end_points(a)
    candidates = inbound.candidates(a)
    admitting = set(candidates)
    cubes: list[Cube] = []
    for dst, ports in egress:
        if a in governed:
            outside = _outside(dst, gov)
            if outside is not None:
                cubes.append(Cube(a_pts, outside, ports, dst_outside=True))
        # The ends both admitting `a` and reached by this rule, in the same (sorted) order:
        # a lookup is cheaper than meeting the rule with each of a few candidates.
        targets = candidates if len(candidates) <= 2 else [b for b in index.touched(dst) if b in admitting]
        for b in targets:
            if a not in governed and b not in governed:
                continue
            b_dst = dst & world.end_points(b)  # most candidates are ends this rule does not reach
            if b_dst:
                cubes.extend(_meet(a_pts, b_dst, ports, inbound.rules(a, b)))
    return cubes


def _meet(a_pts: Points, b_dst: Points, ports: PortSet, rules: Allowed) -> list[Cube]:
    """One egress rule of `a` (reaching `b_dst` of b on `ports`) against b's ingress rules."""
    cubes = []
    for src, in_ports in rules:
        s = a_pts & src
        p = ports & in_ports
        if s and p:
            cubes.append(Cube(s, b_dst, p))
    return cubes


def _outside(pts: Points, gov: Points) -> Points | None:
    """The part of a rule's peer beyond every end (kept as a flag on the cube, not
    subtracted), or None when the ends hold all of it."""
    outside = Points(pts.opaque - gov.opaque, pts.addresses)
    if outside.opaque or not _covered(pts.addresses, gov.addresses):
        return outside
    return None


def _judged(cubes: list[Cube], world: World) -> list[Cube]:
    """Drop what is not judged: phantom addresses (no host holds them) and
    protocols whose behaviour the target leaves undefined."""
    out = []
    phantom = world.phantom
    for c in cubes:
        ports = world.judged_ports(c.ports)
        if not ports:
            continue
        if ports is c.ports and not phantom:
            out.append(c)  # all of it judged: the cube itself
            continue
        src, dst = c.src, c.dst
        if phantom:
            src = Points(src.opaque, src.addresses - phantom)
            dst = Points(dst.opaque, dst.addresses - phantom)
            if not src or not dst:
                continue
        out.append(Cube(src, dst, ports, c.src_outside, c.dst_outside))
    return out


def ends_points(reach: Reachability, world: World) -> Points:
    """Every point of an end, normalised once (not union by union)."""
    points = [world.end_points(s) for s in reach.ends]
    return Points(frozenset().union(*(p.opaque for p in points)),
                  AddressSet.of_all(p.addresses for p in points))


def judged_flow(flow: Flow, governed: frozenset[str]) -> bool:
    """Whether a flow has a governed segment, or a platform endpoint the target
    governs (its name in `governed` too), at one end."""
    return any((ep.is_segment or ep.kind == "platform") and ep.name in governed
               for ep in (flow.src, flow.dst))


def intended(intent: Intent, world: World, governed: Iterable[str],
             extra_flows: Iterable[Flow] = ()) -> list[Cube]:
    """The flows alone, as cubes: each flow's source points x destination
    points x ports, for the flows with a governed segment (or a governed
    platform endpoint) at one end."""
    gov = frozenset(governed)
    cubes = [Cube(world.points_of(f.src), world.points_of(f.dst), f.ports)
             for f in (*intent.flows, *extra_flows) if judged_flow(f, gov)]
    return _judged(cubes, world)


def _covered(a: AddressSet, by: AddressSet) -> bool:
    return _iv_covered(a.v4, by.v4) and _iv_covered(a.v6, by.v6)


def _iv_covered(a: IntervalSet, by: IntervalSet) -> bool:
    """a ⊆ by, by bisection: cheap when `a` is small and `by` is large."""
    ivs = by.intervals
    starts = [lo for lo, _ in ivs]
    for lo, hi in a:
        i = bisect.bisect_right(starts, lo) - 1
        if i < 0 or ivs[i][1] < hi:
            return False
    return True


# --------------------------------------------------------------- comparison

OpaqueKey = tuple[str, str]  # ("o", name): a point known by identity
SpanKey = tuple[int, int, int]  # (family, lo, hi): addresses that behave alike
ClassKey = OpaqueKey | SpanKey
Key = tuple[ClassKey, ClassKey, str]  # (source class, destination class, protocol)
Side = tuple[int, int]  # (cube index, role): role 0 is the cube's source, 1 its destination


class Classes:
    """Address classes: addresses that lie in exactly the same cube sides
    behave alike, so each class is compared once. Found by one sweep over
    interval boundaries per family, with Zobrist hashing of the active sides,
    so cost grows with the intervals the rules mention, not with their product.
    """

    def __init__(self, cubes: list[Cube], gov: AddressSet):
        rng = random.Random(0x5EED)
        self.sides: dict[Side, list[SpanKey]] = defaultdict(list)
        for version in (4, 6):
            self._sweep(version, cubes, gov, rng)

    def _sweep(self, version: int, cubes: list[Cube], gov: AddressSet, rng: random.Random) -> None:
        """One pass over a family's boundaries: the hash of the sides active between
        two boundaries names the class of that range."""
        events = _boundaries(version, cubes, gov)
        if not events:
            return
        zob: dict[Side, int] = {}
        plain: set[Side] = set()
        flagged: set[Side] = set()
        h_plain = h_flag = 0
        in_gov = 0
        seen: dict[int, SpanKey] = {}
        positions = sorted(events)
        for i, pos in enumerate(positions):
            for delta, side, outside in events[pos]:
                if side is None:
                    in_gov += delta
                    continue
                z = zob.setdefault(side, rng.getrandbits(64) or 1)
                target = flagged if outside else plain
                if delta > 0:
                    target.add(side)
                else:
                    target.discard(side)
                if outside:
                    h_flag ^= z
                else:
                    h_plain ^= z
            # A side flagged "outside" does not cover the addresses of an end.
            h = h_plain ^ (h_flag if in_gov == 0 else 0)
            if not h or h in seen:
                continue
            hi = positions[i + 1] - 1 if i + 1 < len(positions) else pos
            seen[h] = (version, pos, hi)
            self._add_class((version, pos, hi), plain | flagged if in_gov == 0 else plain)

    def _add_class(self, key: SpanKey, members: set[Side]) -> None:
        """A class met for the first time: every side covering it lists it. A class
        met again (same hash) is already listed, so one class may span many ranges."""
        for side in members:
            self.sides[side].append(key)

    def keys(self, ci: int, role: int, pts: Points) -> list[ClassKey]:
        out: list[ClassKey] = [("o", n) for n in sorted(pts.opaque)]
        out.extend(self.sides.get((ci, role), []))
        return out


Event = tuple[int, Side | None, bool]  # (+1 opens / -1 closes, the side or None for the ends, outside)


def _boundaries(version: int, cubes: list[Cube], gov: AddressSet) -> dict[int, list[Event]]:
    """Where each cube side's intervals, and the ends' addresses, open and close."""
    events: dict[int, list[Event]] = defaultdict(list)
    for lo, hi in gov.v4 if version == 4 else gov.v6:
        events[lo].append((+1, None, False))
        events[hi + 1].append((-1, None, False))
    for ci, cube in enumerate(cubes):
        for role, pts, outside in ((0, cube.src, cube.src_outside), (1, cube.dst, cube.dst_outside)):
            ivs = pts.addresses.v4 if version == 4 else pts.addresses.v6
            for lo, hi in ivs:
                events[lo].append((+1, (ci, role), outside))
                events[hi + 1].append((-1, (ci, role), outside))
    return events


def canonical(cubes: list[Cube], classes: Classes, offset: int = 0) -> dict[Key, IntervalSet]:
    """Ports per (source class, destination class, protocol). A key one cube reaches
    keeps that cube's ports as they are (already canonical); the intervals of a key
    many reach are gathered first and normalised once: merging them cube by cube
    would re-sort the growing set each time, costing ports squared per key."""
    single: dict[Key, IntervalSet] = {}
    gathered: dict[Key, list[tuple[int, int]]] = {}
    for ci, c in enumerate(cubes, start=offset):
        sk, dk = _by_family(classes.keys(ci, 0, c.src)), _by_family(classes.keys(ci, 1, c.dst))
        for proto, ports in c.ports.items():
            for s_keys, d_keys in _pairs(sk, dk, proto):
                for s in s_keys:
                    for d in d_keys:
                        key = (s, d, proto)
                        if key in gathered:
                            gathered[key].extend(ports)
                        elif key in single:
                            gathered[key] = [*single.pop(key), *ports]
                        else:
                            single[key] = ports
    return single | {k: IntervalSet(ivs) for k, ivs in gathered.items()}


def _by_family(keys: list[ClassKey]) -> dict[int | str, list[ClassKey]]:
    out: dict[int | str, list[ClassKey]] = {4: [], 6: [], "o": []}
    for k in keys:
        out[k[0]].append(k)
    return out


def _pairs(src: dict[int | str, list[ClassKey]], dst: dict[int | str, list[ClassKey]],
           proto: str) -> list[tuple[list[ClassKey], list[ClassKey]]]:
    """The (source, destination) class lists whose pairs may carry `proto`: an IPv4
    address never talks to an IPv6 one, icmp is IPv4's and icmpv6 IPv6's, opaque points
    take the other end's family. Found by family once per cube, not pair by pair."""
    out = [(src["o"], dst["o"])]
    for fam in (4, 6):
        if (proto == "icmp" and fam == 6) or (proto == "icmpv6" and fam == 4):
            continue
        out += [(src[fam], dst[fam]), (src["o"], dst[fam]), (src[fam], dst["o"])]
    return out


@dataclass(frozen=True)
class Counterexample:
    # "missing": intended but not allowed; "extra": allowed but not intended;
    # "unsure": intended, allowed only under the target's wide reading;
    # "export": a segment's export is not the identity its rules grant;
    # "implied": the plan lists an implied flow the target does not add, or omits one it does.
    kind: str
    source: str
    destination: str
    protocol: str
    ports: str  # the differing ports, e.g. "8003" or "1-65535"; "" for port-less protocols
    port: int | None  # one concrete port to try
    note: str = ""

    @property
    def explanation(self) -> str:
        return {"missing": "intended but not allowed", "extra": "allowed but not intended",
                "unsure": f"intended, allowed only {self.note}" if self.note else
                "intended, allowed under one reading only",
                "export": self.note or "export differs from the identity its rules grant",
                "implied": self.note or "implied flows differ from what the target adds"}[self.kind]

    def to_json(self) -> dict[str, str | int | None]:
        return {
            "kind": self.kind, "explanation": self.explanation, "source": self.source,
            "destination": self.destination, "protocol": self.protocol, "port": self.port,
            "ports": self.ports,
        }


@dataclass(frozen=True)
class Verdict:
    target: str
    equivalent: bool
    counterexamples: tuple[Counterexample, ...]
    total_differences: int
    governed: frozenset[str]
    not_governed: tuple[str, ...]  # intended flows this target does not judge
    implied: tuple[str, ...]  # flows the target adds on purpose (e.g. cluster DNS)
    connections: int  # canonical connection classes compared
    assumptions: tuple[str, ...] = ()  # what the verdict rests on, printed with it


def describe(key: ClassKey, world: World) -> str:
    intent = world.intent
    if len(key) == 2:  # ("o", name)
        return world.label(key[1])
    version, lo, hi = key
    # A host address reads better than a network address in an example packet.
    addr = address_text(version, lo + 1 if hi - lo >= 2 else lo)
    for name, seg in intent.segments.items():
        if seg.cidrs and lo in (seg.addresses.v4 if version == 4 else seg.addresses.v6):
            return f"{name} ({addr})"
    names = [n for n in intent.networks
             if lo in (world.space.network(n).v4 if version == 4 else world.space.network(n).v6)]
    names = [n for n in names if n != "internet"] or names
    label = ", ".join(names) if names else "unnamed address"
    span = "" if lo == hi else f" .. {address_text(version, hi)}"
    return f"{label} ({addr}{span})"


def compare(world: World, expected: list[Cube], wide: list[Cube], narrow: list[Cube] | None = None,
            limit: int = 20) -> tuple[list[Counterexample], int]:
    """Differences between the intended cubes and what the target allows under
    its wide reading (extra) and its narrow reading (missing), and the number
    of connection classes compared."""
    narrow = wide if narrow is None else narrow
    gov = AddressSet.of_all(world.end_points(name).addresses
                           for name in world.governed | frozenset(world.background))
    # A narrow reading that is the wide one (the same list) adds no class: it is left out.
    everything = [*expected, *wide] if narrow is wide else [*expected, *wide, *narrow]
    classes = Classes(everything, gov)
    exp = canonical(expected, classes)
    act = canonical(wide, classes, offset=len(expected))
    low = act if narrow is wide else canonical(narrow, classes, offset=len(expected) + len(wide))
    diffs: list[Counterexample] = []
    keys = set(exp) | set(act) | set(low)
    # Most keys agree in a plan close to its intent: only the others are sorted and read.
    differing = [key for key in keys if not exp.get(key, EMPTY) == act.get(key, EMPTY) == low.get(key, EMPTY)]
    for key in sorted(differing, key=_sort_key):
        e = exp.get(key, EMPTY)
        a = act.get(key, EMPTY)
        n = low.get(key, EMPTY)
        missing = e - n
        for kind, delta in (("missing", missing - a), ("unsure", missing & a), ("extra", a - e)):
            if not delta:
                continue
            src, dst, proto = key
            if proto in PORTLESS:
                ports, port = "", None
            else:
                ports = ",".join(format_interval(lo, hi) for lo, hi in delta)
                port = delta.first()
            diffs.append(Counterexample(kind, describe(src, world), describe(dst, world), proto, ports, port,
                                        world.reading_note if kind == "unsure" else ""))
    return diffs, len(keys)


def _sort_key(key: Key) -> tuple[tuple[int, str, int, int], tuple[int, str, int, int], str]:
    def part(p: ClassKey) -> tuple[int, str, int, int]:
        if len(p) == 2:  # ("o", name): opaque points first, by name
            return (0, p[1], 0, 0)
        return (p[0], "", p[1], p[2])

    return (part(key[0]), part(key[1]), key[2])
