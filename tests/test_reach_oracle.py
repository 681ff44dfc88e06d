"""The sparse join and address classes agree with a brute-force oracle that
checks concrete packets one by one: the intent straight from the flows, the
actual side from the per-end rules. The oracle shares no code with
cloudfence.reach: it matches peers and members itself."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.addresses import AddressSet
from cloudfence.intent import parse_intent
from cloudfence.ports import PortSet, parse_port
from cloudfence.reach import NARROW, WIDE, World, compare, intended, join
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability
from cloudfence.space import Space
from tests.strategies import examples

SPEC = parse_intent("""
version: 1
name: oracle
segments:
  a: {cidr: 10.0.1.0/24}
  b: {cidr: [10.0.2.0/24, "fd00::/64"]}
  c: {kubernetes: {namespace: n, labels: {app: c}}}
  d: {cidr: 10.0.4.0/24}
networks:
  wide: {include: [10.0.0.0/8], exclude: [10.0.2.0/25]}
  v6: ["fd00::/16"]
flows:
  - {from: a, to: b, ports: [tcp/80-90]}
  - {from: wide, to: a, ports: [udp/53]}
  - {from: c, to: internet, ports: [tcp/443]}
  - {from: b, to: c, ports: [any]}
  - {from: v6, to: b, ports: [icmpv6]}
""")
CIDRS = ["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8", "10.0.1.0/24", "10.0.2.0/25", "10.0.1.128/25",
         "0.0.0.0/0", "fd00::/16", "::/0", "10.0.4.0/24", "192.168.0.0/16"]
PORTS = ["tcp/80", "tcp/80-90", "tcp/85-100", "udp/53", "icmp", "icmpv6", "any", "tcp/0-65535"]

peers = st.one_of(
    st.sampled_from(["a", "b", "c", "d"]).map(Peer.segment),
    st.lists(st.sampled_from(CIDRS), min_size=1, max_size=2).map(Peer.cidrs),
    st.just(Peer.all()),
)
rules = st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from([EGRESS, INGRESS]),
                           peers, st.sampled_from(PORTS)), max_size=4)


def probe_points() -> list[tuple]:
    pts: list[tuple] = [("o", "c")]
    for text in [*CIDRS, "10.0.2.0/24", "fd00::/64", "10.0.0.0/8"]:
        s = AddressSet.from_cidrs([text])
        for version, ivs in ((4, s.v4), (6, s.v6)):
            for lo, hi in ivs:
                pts += [(version, v) for v in {lo, hi, max(lo - 1, 0), hi + 1, (lo + hi) // 2}]
    return sorted(set(pts), key=str)


PROBES = probe_points()
PORT_PROBES = [0, 52, 53, 79, 80, 85, 90, 91, 100, 443, 65535]
SPACE = Space(SPEC)
HIDDEN = SPACE.hidden  # where c (no cidr) may be


def inside(point: tuple, addrs: AddressSet) -> bool:
    return point[1] in (addrs.v4 if point[0] == 4 else addrs.v6)


def owner(point: tuple) -> str | None:
    if point in OWNER:
        return OWNER[point]
    OWNER[point] = _owner(point)
    return OWNER[point]


OWNER: dict[tuple, str | None] = {}


def _owner(point: tuple) -> str | None:
    if point[0] == "o":
        return point[1]
    for name, seg in SPEC.segments.items():
        if seg.cidrs and inside(point, seg.addresses):
            return name
    return None


def on_side(point: tuple, ep) -> bool:
    """Is the point one of the endpoint's points (flows alone, DESIGN section 3)?"""
    if ep.kind == "segment":
        return owner(point) == ep.name
    if ep.kind == "network":
        return point[0] != "o" and inside(point, SPACE.network(ep.name))
    return point == ("o", ep.name)


def intended_packet(src: tuple, dst: tuple, proto: str, port: int, governed) -> bool | None:
    if owner(src) not in governed and owner(dst) not in governed:
        return None
    return any(port_in(f.ports, proto, port) for f in flows_between(src, dst))


_BETWEEN: dict[tuple, list] = {}


def flows_between(src: tuple, dst: tuple) -> list:
    """The flows whose two sides hold these points (the same for every example)."""
    if (src, dst) not in _BETWEEN:
        _BETWEEN[src, dst] = [f for f in SPEC.flows if on_side(src, f.src) and on_side(dst, f.dst)]
    return _BETWEEN[src, dst]


def port_in(ports: PortSet, proto: str, port: int) -> bool:
    return port in ports.get(proto)


def peer_matches(peer: Peer, point: tuple) -> bool:
    """The wide reading: an address rule reaches c where it overlaps where c may be."""
    if peer.everything:
        return True
    if point[0] == "o":
        return point[1] in peer.segments or bool(peer.addresses & HIDDEN)
    return inside(point, peer.addresses) or owner(point) in peer.segments


def end_allows(reach: Reachability, seg: str, direction: str, peer_point: tuple, proto: str,
               port: int) -> bool:
    return all(any(port_in(ports, proto, port) for ports in layer)
               for layer in end_ports(reach, seg, direction, peer_point))


_END_PORTS: dict[tuple, list[list[PortSet]]] = {}


def end_ports(reach: Reachability, seg: str, direction: str, peer_point: tuple) -> list[list[PortSet]]:
    """Per layer, the port sets of the rules whose peer matches the point (cached per example:
    the brute force stays packet by packet, without redoing the peer match per port)."""
    key = (id(reach), seg, direction, peer_point)
    if key not in _END_PORTS:
        _END_PORTS[key] = [[ports for p, ports in reach.rules(seg, direction, layer)
                            if peer_matches(p, peer_point)] for layer in reach.layers_of(seg)]
    return _END_PORTS[key]


def actual_packet(reach: Reachability, src: tuple, dst: tuple, proto: str, port: int) -> bool | None:
    s, d = owner(src), owner(dst)
    sg, dg = s in reach.governed, d in reach.governed
    if not sg and not dg:
        return None
    return ((not sg or end_allows(reach, s, EGRESS, dst, proto, port)) and
            (not dg or end_allows(reach, d, INGRESS, src, proto, port)))


def valid(src: tuple, dst: tuple, proto: str) -> bool:
    fams = {p[0] for p in (src, dst) if p[0] != "o"}
    return len(fams) <= 1 and not (proto == "icmp" and 6 in fams) and not (
        proto == "icmpv6" and 4 in fams)


def openings(governed) -> Reachability:
    reach = Reachability("t", governed)
    for f in SPEC.flows:
        for seg, direction, other in ((f.src, EGRESS, f.dst), (f.dst, INGRESS, f.src)):
            if seg.is_segment and seg.name in governed:
                peer = (Peer(addresses=SPACE.network(other.name)) if other.kind == "network"
                        else Peer.of(other, SPEC))
                reach.allow(seg.name, direction, peer, f.ports)
    return reach


@settings(max_examples=examples(25))
@given(rules, st.sampled_from([("a", "b", "c", "d"), ("c",), ("a", "b")]))
def test_compare_agrees_with_packet_by_packet_oracle(extra: list, governed: tuple) -> None:
    _END_PORTS.clear()
    actual = openings(governed)
    for seg, direction, peer, ports in extra:
        if seg in governed:
            actual.allow(seg, direction, peer, parse_port(ports) if ports != "any" else PortSet.any())
    world = World(SPEC, SPACE, actual)
    expected = intended(SPEC, world, actual.governed)
    diffs, _ = compare(world, expected, join(actual, world, WIDE), join(actual, world, NARROW))
    extra_found = missing_found = False
    for src in PROBES:
        for dst in PROBES:
            for proto in ("tcp", "udp", "icmp", "icmpv6", "other"):
                if not valid(src, dst, proto):
                    continue
                for port in PORT_PROBES:
                    e = intended_packet(src, dst, proto, port, governed)
                    a = actual_packet(actual, src, dst, proto, port)
                    extra_found |= bool(a and not e)
                    missing_found |= bool(e and not a)
    kinds = {c.kind for c in diffs}
    assert ("extra" in kinds) == extra_found
    if missing_found:
        assert kinds & {"missing", "unsure"}
    if "missing" in kinds:  # denied under every reading, so under the oracle's too
        assert missing_found
