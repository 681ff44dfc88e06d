"""First-match lists read as allow-only permissions (cloudfence.ordered), checked
against a packet-by-packet oracle on a small universe."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.addresses import AddressSet
from cloudfence.intervals import IntervalSet
from cloudfence.ordered import Ordered, first_match
from cloudfence.ports import PortSet
from cloudfence.reachability import Points


def pts(*cidrs: str, opaque: tuple[str, ...] = ()) -> Points:
    return Points(frozenset(opaque), AddressSet.from_cidrs(cidrs))


def tcp(lo: int, hi: int | None = None) -> PortSet:
    return PortSet({"tcp": IntervalSet.of(lo, lo if hi is None else hi)})


def allowed(pieces, address: str | None, name: str | None, port: int) -> bool:
    probe = pts(f"{address}/32") if address else Points(opaque=frozenset([name]))
    return any((region & probe) and (ports & tcp(port)) for region, ports in pieces)


def test_an_earlier_deny_takes_its_part_of_a_later_allow():
    pieces = first_match([
        Ordered(False, pts("10.0.1.0/24"), tcp(22)),
        Ordered(True, pts("10.0.0.0/16"), tcp(0, 65535)),
    ])
    assert allowed(pieces, "10.0.1.5", None, 443)  # the deny named port 22 only
    assert not allowed(pieces, "10.0.1.5", None, 22)
    assert allowed(pieces, "10.0.2.5", None, 22)
    assert not allowed(pieces, "10.1.0.1", None, 22)


def test_a_later_deny_changes_nothing_and_a_total_deny_ends_the_list():
    allow = Ordered(True, pts("10.0.0.0/16", opaque=("x",)), tcp(443))
    deny_all = Ordered(False, Points(frozenset(["x", "y"]), AddressSet.everything()), PortSet.any())
    late = Ordered(True, pts("0.0.0.0/0", opaque=("y",)), PortSet.any())
    pieces = first_match([allow, deny_all, late])
    assert pieces == [(allow.region, allow.ports)]


def test_opaque_points_are_subtracted_by_name():
    pieces = first_match([
        Ordered(False, Points(opaque=frozenset(["db"])), tcp(5432)),
        Ordered(True, Points(opaque=frozenset(["db", "web"])), tcp(5432)),
    ])
    assert allowed(pieces, None, "web", 5432)
    assert not allowed(pieces, None, "db", 5432)


RULES = st.lists(st.tuples(st.booleans(), st.sampled_from(["10.0.0.0/30", "10.0.0.0/31", "10.0.0.2/32",
                                                             "10.0.0.1/32"]),
                           st.integers(1, 4), st.integers(0, 2)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(RULES)
def test_equals_first_match_packet_by_packet(rules):
    ordered = [Ordered(allow, pts(cidr), tcp(lo, lo + width)) for allow, cidr, lo, width in rules]
    pieces = first_match(ordered)
    for host in range(4):
        address = f"10.0.0.{host}"
        for port in range(0, 8):
            verdict = False
            for rule in ordered:
                if (rule.region & pts(f"{address}/32")) and (rule.ports & tcp(port)):
                    verdict = rule.allow
                    break
            assert allowed(pieces, address, None, port) == verdict, (address, port)
