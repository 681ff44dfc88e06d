"""First-match rule lists to allow-only sets (cloudfence.firstmatch): priority
order, deny wins ties, what an earlier deny took is gone, identities by
region; and the allow set against a packet-by-packet first match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.addresses import AddressSet
from cloudfence.firstmatch import Rule, Scope, first_match
from cloudfence.intervals import IntervalSet
from cloudfence.ports import PortSet, parse_port

EVERY = AddressSet.everything()


def a(*cidrs: str) -> AddressSet:
    return AddressSet.from_cidrs(cidrs)


def allowed(rules: list[Rule]) -> list[tuple[AddressSet, PortSet]]:
    return [(h.points, h.ports) for h in first_match(rules, EVERY)]


def test_an_allow_below_a_deny_keeps_only_what_the_deny_left():
    rules = [Rule(100, False, a("10.0.0.0/8"), parse_port("tcp/22")),
             Rule(200, True, a("0.0.0.0/0"), parse_port("tcp/20-25"))]
    (first, second) = allowed(rules)
    assert first == (a("0.0.0.0/0") - a("10.0.0.0/8"), parse_port("tcp/20-25"))
    assert second == (a("10.0.0.0/8"), parse_port("tcp/20-21") | parse_port("tcp/23-25"))


def test_order_is_by_priority_not_by_list_position():
    rules = [Rule(200, True, a("10.0.0.0/8"), PortSet.any()),
             Rule(100, False, a("10.1.0.0/16"), PortSet.any())]
    ((points, _),) = allowed(rules)
    assert points == a("10.0.0.0/8") - a("10.1.0.0/16")


def test_at_equal_priority_a_deny_wins():
    rules = [Rule(100, True, a("10.0.0.0/8"), PortSet.any()),
             Rule(100, False, a("10.0.0.0/8"), PortSet.any())]
    assert allowed(rules) == []


def test_allows_above_every_deny_are_read_as_written():
    """The union is what counts, so an earlier allow is not taken out of a later one."""
    both = parse_port("tcp/80") | parse_port("udp/53")
    rules = [Rule(100, True, a("10.0.0.0/8"), parse_port("tcp/80")),
             Rule(200, True, a("10.0.0.0/8"), both),
             Rule(300, False, a("0.0.0.0/0"), PortSet.any())]
    assert allowed(rules) == [(a("10.0.0.0/8"), parse_port("tcp/80")), (a("10.0.0.0/8"), both)]


def test_nothing_after_a_deny_of_everything_is_allowed():
    rules = [Rule(100, False, EVERY, PortSet.any()), Rule(200, True, a("10.0.0.0/8"), PortSet.any())]
    assert allowed(rules) == []


def test_a_deny_by_range_above_an_allow_by_identity_takes_the_identity_only_where_it_may_be():
    region = a("10.0.0.0/8", "fd00::/8")
    regions = {"db": region}
    universe = Scope(EVERY, (("db", region),))
    # Both families denied by two rules: the identity is wholly denied.
    rules = [Rule(100, False, Scope.addresses(a("0.0.0.0/0"), regions), PortSet.any()),
             Rule(100, False, Scope.addresses(a("::/0"), regions), PortSet.any()),
             Rule(200, True, Scope.identity("db", region), PortSet.any())]
    assert first_match(rules, universe) == []
    # One family denied: the identity's workloads of the other family pass.
    (hit,) = first_match(rules[:1] + rules[2:], universe)
    assert hit.points.names() == {"db"} and hit.points.part("db") == a("fd00::/8")


# ------------------------------------------------------------ against packets

SPACE = 16  # addresses 0..15 (IPv4), ports 0..7 of tcp and udp
PACKETS = [(addr, proto, port) for addr in range(SPACE) for proto in ("tcp", "udp") for port in range(8)]


def _spans(limit: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(st.tuples(st.integers(0, limit - 1), st.integers(0, limit - 1)).map(sorted).map(tuple),
                    max_size=3)


def _inside(value: int, spans: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= value <= hi for lo, hi in spans)


RULES = st.lists(st.tuples(st.integers(0, 3), st.booleans(), _spans(SPACE),
                           st.sampled_from(["tcp", "udp", "both"]), _spans(8)), max_size=7)


@settings(max_examples=300, deadline=None)
@given(RULES, _spans(SPACE))
def test_the_allow_set_is_the_first_match_of_every_packet(raw, universe_spans):
    """Brute force: sort the rules as the target does (priority, a deny first at a tie,
    then list order) and let the first that matches each packet decide it."""
    rules = []
    for priority, allow, addr_spans, protos, port_spans in raw:
        named = ("tcp", "udp") if protos == "both" else (protos,)
        ports = PortSet([(p, IntervalSet(port_spans)) for p in named])
        rules.append(Rule(priority, allow, AddressSet(IntervalSet(addr_spans)), ports))
    universe = AddressSet(IntervalSet(universe_spans))
    hits = first_match(rules, universe)
    order = sorted(range(len(raw)), key=lambda i: (raw[i][0], raw[i][1], i))
    for addr, proto, port in PACKETS:
        want = False
        if _inside(addr, tuple(universe_spans)):
            for i in order:
                _, allow, addr_spans, protos, port_spans = raw[i]
                if (_inside(addr, tuple(addr_spans)) and protos in (proto, "both")
                        and _inside(port, tuple(port_spans))):
                    want = allow
                    break
        got = any(_inside(addr, h.points.v4.intervals) and _inside(port, h.ports.get(proto).intervals)
                  for h in hits)
        assert got == want, (addr, proto, port)
