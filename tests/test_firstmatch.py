"""First-match rule lists to allow-only sets (cloudfence.firstmatch): priority
order, deny wins ties, what an earlier rule took is gone, identities by
region."""

from __future__ import annotations

from cloudfence.addresses import AddressSet
from cloudfence.firstmatch import Rule, Scope, first_match
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


def test_an_earlier_allow_takes_its_part_once():
    rules = [Rule(100, True, a("10.0.0.0/8"), parse_port("tcp/80")),
             Rule(200, True, a("10.0.0.0/8"), parse_port("tcp/80") | parse_port("udp/53"))]
    assert allowed(rules) == [(a("10.0.0.0/8"), parse_port("tcp/80")),
                              (a("10.0.0.0/8"), parse_port("udp/53"))]


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
