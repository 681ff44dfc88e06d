"""The reachability model and the equivalence check behind `verify`.

A target says, per segment and direction, which peers on which ports it lets
through (`Reachability`, built by a provider's `evaluate` from plan records).
The core joins the two ends of every connection, the way clouds do: allowed
when the source side lets it out and the destination side lets it in.

Points are what a connection can start or end at:
- an address (a segment that has a `cidr` is exactly its addresses),
- an opaque name: a segment without addresses, or a platform endpoint `@...`.
Address rules reach opaque points only where, on a protocol and port, the
address rules at that end together cover a whole address family: only then do
they surely contain addresses we do not know.

The join is sparse: work grows with rules and the address boundaries they
mention, never with segments squared times ports.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from cloudfence.addresses import AddressSet, address_text
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.ports import PORTLESS, PROTOCOLS, PortSet, format_interval
from cloudfence.reachability import EGRESS, INGRESS, Peer, Points, Reachability

__all__ = ["EGRESS", "INGRESS", "Peer", "Points", "Reachability"]

# ------------------------------------------------------------------- joining


@dataclass(frozen=True)
class Cube:
    src: Points
    dst: Points
    ports: PortSet
    # The addresses of every governed segment are removed from this side. Kept
    # as a flag, not subtracted, so a rule to "internet" stays one interval
    # instead of one per segment hole.
    src_outside: bool = False
    dst_outside: bool = False


class World:
    """What points exist: resolves peers named by rules into points."""

    def __init__(self, intent: Intent, extra_platform: Iterable[str] = ()):
        self.intent = intent
        self.seg_points: dict[str, Points] = {}
        opaque = set(extra_platform)
        for name, seg in intent.segments.items():
            if seg.cidrs:
                self.seg_points[name] = Points(addresses=seg.addresses)
            else:
                self.seg_points[name] = Points(opaque=frozenset([name]))
                opaque.add(name)
        for flow in intent.flows:
            for ep in (flow.src, flow.dst):
                if ep.kind == "platform":
                    opaque.add(ep.name)
        self.opaque = frozenset(opaque)

    def resolve(self, peer: Peer) -> Points:
        if peer.everything:
            return Points(self.opaque, AddressSet.everything())
        pts = Points(frozenset(peer.platform), peer.addresses)
        for name in peer.segments:
            pts = pts | self.seg_points.get(name, Points(opaque=frozenset([name])))
        if peer.addresses.covers_a_family():
            pts = pts | Points(opaque=self.opaque)
        return pts


def _effective(reach: Reachability, world: World, segment: str,
               direction: str) -> list[tuple[Points, PortSet]]:
    """Intersect the layers governing one end; each layer is a union of rules."""
    result: list[tuple[Points, PortSet]] | None = None
    for layer in reach.layers_of(segment):
        raw = reach.rules(segment, direction, layer)
        rules = [(world.resolve(p), ports) for p, ports in raw]
        rules += _unknown_addresses(raw, world)
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


def _unknown_addresses(rules: list[tuple[Peer, PortSet]], world: World) -> list[tuple[Points, PortSet]]:
    """Opaque points (addresses unknown) pass where the rules' addresses
    together cover a whole family, however the rules split that space: a rule
    set is judged by what it allows, not by how it is written."""
    addressed = [(p.addresses, ports) for p, ports in rules if p.addresses]
    if not world.opaque or len(addressed) < 2:
        return []  # a single rule is handled by World.resolve
    total = AddressSet()
    for addrs, _ in addressed:
        total = total | addrs
    if not total.covers_a_family():
        return []
    covered: dict[str, IntervalSet] = {}
    for proto in PROTOCOLS:
        items = [(addrs, ports.get(proto)) for addrs, ports in addressed if ports.get(proto)]
        cuts = sorted({b for _, ivs in items for b in ivs.boundaries()})
        for lo, nxt in itertools.pairwise(cuts):
            union = AddressSet()
            for addrs, ivs in items:
                if lo in ivs:
                    union = union | addrs
            if union.covers_a_family():
                covered[proto] = covered.get(proto, IntervalSet()) | IntervalSet.of(lo, nxt - 1)
    ports = PortSet(covered)
    return [(Points(opaque=world.opaque), ports)] if ports else []


class _SegmentIndex:
    """Which governed segments a set of points touches, found by bisection so
    that a narrow rule costs a lookup, not a scan of every segment."""

    def __init__(self, governed: Iterable[str], world: World):
        self.by_opaque: dict[str, list[str]] = defaultdict(list)
        self.spans: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for seg in governed:
            pts = world.seg_points[seg]
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


def join(reach: Reachability, world: World) -> list[Cube]:
    """Connections a target allows end to end, among those it governs."""
    governed = sorted(reach.governed)
    gov = governed_points(reach, world)
    index = _SegmentIndex(governed, world)
    eg = {s: _effective(reach, world, s, EGRESS) for s in governed}
    ing = {s: _effective(reach, world, s, INGRESS) for s in governed}
    # inbound[a][b]: b's narrow ingress rules whose sources touch a; rules whose
    # sources touch many segments (e.g. 0.0.0.0/0) stay in wide[b]. Pairing each
    # egress rule only with these keeps the work proportional to rule pairs
    # that meet, not to segments squared.
    inbound: dict[str, dict[str, list[tuple[Points, PortSet]]]] = defaultdict(dict)
    wide: dict[str, list[tuple[Points, PortSet]]] = defaultdict(list)
    for b in governed:
        for src, in_ports in ing[b]:
            touched = index.touched(src)
            if len(touched) > _NARROW:
                wide[b].append((src, in_ports))
                continue
            for a in touched:
                inbound[a].setdefault(b, []).append((src, in_ports))
    wide_segments = set(wide)
    cubes: list[Cube] = []
    for a in governed:
        a_pts = world.seg_points[a]
        narrow = inbound.get(a, {})
        candidates = sorted(set(narrow) | wide_segments)
        for dst, ports in eg[a]:
            outside = Points(dst.opaque - gov.opaque, dst.addresses)
            if outside.opaque or not _covered(dst.addresses, gov.addresses):
                cubes.append(Cube(a_pts, outside, ports, dst_outside=True))
            targets = candidates if len(candidates) <= _NARROW else index.touched(dst)
            for b in targets:
                rules = [*narrow.get(b, ()), *wide.get(b, ())]
                if not rules:
                    continue
                b_dst = dst & world.seg_points[b]
                if not b_dst:
                    continue
                for src, in_ports in rules:
                    s = a_pts & src
                    p = ports & in_ports
                    if s and p:
                        cubes.append(Cube(s, b_dst, p))
    for b in governed:
        for src, ports in ing[b]:
            outside = Points(src.opaque - gov.opaque, src.addresses)
            if outside.opaque or not _covered(src.addresses, gov.addresses):
                cubes.append(Cube(outside, world.seg_points[b], ports, src_outside=True))
    return cubes


def governed_points(reach: Reachability, world: World) -> Points:
    """Every point of a governed segment, normalised once (not union by union)."""
    opaque: set[str] = set()
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    for s in reach.governed:
        pts = world.seg_points[s]
        opaque |= pts.opaque
        v4.extend(pts.addresses.v4)
        v6.extend(pts.addresses.v6)
    return Points(frozenset(opaque), AddressSet(IntervalSet(v4), IntervalSet(v6)))


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


def intended(intent: Intent, governed: Iterable[str], extra_flows: Iterable = ()) -> Reachability:
    """The intent as a target would ideally evaluate: each flow opens its
    source's egress and its destination's ingress."""
    reach = Reachability("intent", governed)
    for flow in (*intent.flows, *extra_flows):
        if flow.src.is_segment and flow.src.name in reach.governed:
            reach.allow(flow.src.name, EGRESS, Peer.of(flow.dst, intent), flow.ports)
        if flow.dst.is_segment and flow.dst.name in reach.governed:
            reach.allow(flow.dst.name, INGRESS, Peer.of(flow.src, intent), flow.ports)
    return reach


# --------------------------------------------------------------- comparison

Key = tuple[tuple, tuple, str]


class Classes:
    """Address classes: addresses that lie in exactly the same cube sides
    behave alike, so each class is compared once. Found by one sweep over
    interval boundaries per family, with Zobrist hashing of the active sides,
    so cost grows with the intervals the rules mention, not with their product.
    """

    def __init__(self, cubes: list[Cube], gov: AddressSet):
        rng = random.Random(0x5EED)
        self.sides: dict[tuple[int, int], list[tuple]] = defaultdict(list)  # (cube, role) -> keys
        for version in (4, 6):
            self._sweep(version, cubes, gov, rng)

    def _sweep(self, version: int, cubes: list[Cube], gov: AddressSet, rng: random.Random) -> None:
        events: dict[int, list[tuple[int, tuple[int, int] | None, bool]]] = defaultdict(list)
        for lo, hi in gov.v4 if version == 4 else gov.v6:
            events[lo].append((+1, None, False))
            events[hi + 1].append((-1, None, False))
        for ci, cube in enumerate(cubes):
            for role, pts, outside in ((0, cube.src, cube.src_outside), (1, cube.dst, cube.dst_outside)):
                ivs = pts.addresses.v4 if version == 4 else pts.addresses.v6
                for lo, hi in ivs:
                    events[lo].append((+1, (ci, role), outside))
                    events[hi + 1].append((-1, (ci, role), outside))
        if not events:
            return
        zob: dict[tuple[int, int], int] = {}
        plain: set[tuple[int, int]] = set()
        flagged: set[tuple[int, int]] = set()
        h_plain = h_flag = 0
        in_gov = 0
        seen: dict[int, tuple] = {}
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
            h = h_plain ^ (h_flag if in_gov == 0 else 0)
            if not h:
                continue
            hi = positions[i + 1] - 1 if i + 1 < len(positions) else pos
            if h in seen:
                continue
            key = (version, pos, hi)
            seen[h] = key
            members = plain | flagged if in_gov == 0 else set(plain)
            for side in members:
                self.sides[side].append(key)

    def keys(self, ci: int, role: int, pts: Points) -> list[tuple]:
        return [("o", n) for n in sorted(pts.opaque)] + self.sides.get((ci, role), [])


def _compatible(src: tuple, dst: tuple, proto: str) -> bool:
    fam = {k[0] for k in (src, dst) if k[0] in (4, 6)}
    if len(fam) > 1:
        return False
    if proto == "icmp" and 6 in fam:
        return False
    return not (proto == "icmpv6" and 4 in fam)


def canonical(cubes: list[Cube], classes: Classes, offset: int = 0) -> dict[Key, IntervalSet]:
    out: dict[Key, IntervalSet] = {}
    for ci, c in enumerate(cubes, start=offset):
        sk, dk = classes.keys(ci, 0, c.src), classes.keys(ci, 1, c.dst)
        for proto, ports in c.ports.items():
            for s in sk:
                for d in dk:
                    if not _compatible(s, d, proto):
                        continue
                    k = (s, d, proto)
                    out[k] = out[k] | ports if k in out else ports
    return out


@dataclass(frozen=True)
class Counterexample:
    kind: str  # "missing": intended but not allowed; "extra": allowed but not intended
    source: str
    destination: str
    protocol: str
    ports: str  # the differing ports, e.g. "8003" or "1-65535"; "" for port-less protocols
    port: int | None  # one concrete port to try

    @property
    def explanation(self) -> str:
        return ("intended but not allowed" if self.kind == "missing"
                else "allowed but not intended")

    def to_json(self) -> dict:
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


def describe(key: tuple, intent: Intent) -> str:
    if key[0] == "o":
        return key[1]
    version, lo, hi = key
    # A host address reads better than a network address in an example packet.
    addr = address_text(version, lo + 1 if hi - lo >= 2 else lo)
    for name, seg in intent.segments.items():
        if seg.cidrs and lo in (seg.addresses.v4 if version == 4 else seg.addresses.v6):
            return f"{name} ({addr})"
    names = [n for n, net in intent.networks.items()
             if lo in (net.addresses.v4 if version == 4 else net.addresses.v6)]
    names = [n for n in names if n != "internet"] or names
    label = ", ".join(names) if names else "external"
    span = "" if lo == hi else f" .. {address_text(version, hi)}"
    return f"{label} ({addr}{span})"


def compare(intent: Intent, expected: Reachability, actual: Reachability,
            world: World | None = None, limit: int = 20,
            implied: Iterable[str] = (), not_governed: Iterable[str] = ()) -> Verdict:
    world = world or World(intent)
    if expected.governed != actual.governed:
        raise ValueError(f"{actual.target} judges {sorted(actual.governed)}, "
                         f"the intent was built for {sorted(expected.governed)}")
    exp_cubes = join(expected, world)
    act_cubes = join(actual, world)
    classes = Classes([*exp_cubes, *act_cubes], governed_points(expected, world).addresses)
    exp = canonical(exp_cubes, classes)
    act = canonical(act_cubes, classes, offset=len(exp_cubes))
    diffs: list[Counterexample] = []
    for key in sorted(set(exp) | set(act), key=_sort_key):
        e = exp.get(key, IntervalSet())
        a = act.get(key, IntervalSet())
        if e == a:
            continue
        for kind, delta in (("missing", e - a), ("extra", a - e)):
            if not delta:
                continue
            src, dst, proto = key
            if proto in PORTLESS:
                ports, port = "", None
            else:
                ports = ",".join(format_interval(lo, hi) for lo, hi in delta)
                port = delta.first()
            diffs.append(Counterexample(kind, describe(src, intent), describe(dst, intent),
                                        proto, ports, port))
    return Verdict(
        target=actual.target,
        equivalent=not diffs,
        counterexamples=tuple(diffs[:limit]),
        total_differences=len(diffs),
        governed=actual.governed,
        not_governed=tuple(not_governed),
        implied=tuple(implied),
        connections=len(set(exp) | set(act)),
    )


def _sort_key(key: Key) -> tuple:
    def part(p: tuple) -> tuple:
        return (0, p[1], 0, 0) if p[0] == "o" else (p[0], "", p[1], p[2])

    return (part(key[0]), part(key[1]), key[2])
