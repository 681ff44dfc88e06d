"""The sparse join and address classes agree with a brute-force oracle that
checks concrete packets one by one against the per-end rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.addresses import AddressSet
from cloudfence.intent import parse_intent
from cloudfence.ports import PortSet, parse_port
from cloudfence.reach import EGRESS, INGRESS, Peer, Reachability, World, compare, intended

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


def member(point: tuple, pts) -> bool:
    if point[0] == "o":
        return point[1] in pts.opaque
    ivs = pts.addresses.v4 if point[0] == 4 else pts.addresses.v6
    return point[1] in ivs


def owner(point: tuple, world: World) -> str | None:
    for seg, pts in world.seg_points.items():
        if member(point, pts):
            return seg
    return None


def allows(reach: Reachability, world: World, seg: str, direction: str, peer_point: tuple,
           proto: str, port: int) -> bool:
    for layer in reach.layers_of(seg):
        rules = [(p, ports) for p, ports in reach.rules(seg, direction, layer)
                 if port in ports.get(proto)]
        if any(member(peer_point, world.resolve(p)) for p, _ in rules):
            continue
        # A point of unknown address passes where the matching rules together
        # cover a whole address family.
        union = AddressSet()
        for p, _ in rules:
            union = union | p.addresses
        if not (peer_point[0] == "o" and union.covers_a_family()):
            return False
    return True


def packet_allowed(reach: Reachability, world: World, src: tuple, dst: tuple, proto: str,
                   port: int) -> bool | None:
    s, d = owner(src, world), owner(dst, world)
    sg, dg = s in reach.governed, d in reach.governed
    if not sg and not dg:
        return None
    return ((not sg or allows(reach, world, s, EGRESS, dst, proto, port)) and
            (not dg or allows(reach, world, d, INGRESS, src, proto, port)))


def valid(src: tuple, dst: tuple, proto: str) -> bool:
    fams = {p[0] for p in (src, dst) if p[0] != "o"}
    return len(fams) <= 1 and not (proto == "icmp" and 6 in fams) and not (
        proto == "icmpv6" and 4 in fams)


@settings(max_examples=30, deadline=None)
@given(rules, st.sampled_from([("a", "b", "c", "d"), ("c",), ("a", "b")]))
def test_compare_agrees_with_packet_by_packet_oracle(extra: list, governed: tuple) -> None:
    expected = intended(SPEC, governed)
    actual = intended(SPEC, governed)
    for seg, direction, peer, ports in extra:
        if seg in governed:
            actual.allow(seg, direction, peer, parse_port(ports) if ports != "any" else PortSet.any())
    world = World(SPEC)
    verdict = compare(SPEC, expected, actual, world)
    differs = False
    for src in PROBES:
        for dst in PROBES:
            for proto in ("tcp", "udp", "icmp", "icmpv6", "other"):
                if not valid(src, dst, proto):
                    continue
                for port in PORT_PROBES:
                    e = packet_allowed(expected, world, src, dst, proto, port)
                    a = packet_allowed(actual, world, src, dst, proto, port)
                    if e != a:
                        differs = True
                        break
                if differs:
                    break
            if differs:
                break
        if differs:
            break
    assert verdict.equivalent == (not differs)
