"""The helpers every provider shares: names, families, CIDR reading (first-match rule lists:
test_firstmatch.py)."""

from __future__ import annotations

import ipaddress

from cloudfence.addresses import AddressSet, cidr_problem, record_cidr
from cloudfence.families import by_family, collapse, compatible, segment_families, split, useful, whole
from cloudfence.intent import parse_intent
from cloudfence.names import cidr_label, digest, unique
from cloudfence.plan import ref, ref_name

N = ipaddress.ip_network


def test_unique_names_respect_the_length_limit_and_clashes() -> None:
    names = unique([("k1", "a" * 70), ("k2", "short"), ("k3", "dup"), ("k4", "dup")], reserved=["short"],
                   max_len=63)
    assert all(len(n) <= 63 for n in names.values())
    assert names["k1"].endswith(digest("k1")) and names["k2"] == f"short-{digest('k2')}"
    assert names["k3"] != names["k4"]
    assert unique([("k", "plain")]) == {"k": "plain"}
    assert cidr_label(N("2001:db8::/32")) == "ipv6-2001-db8-32"


def test_families() -> None:
    v4, v6 = split([N("10.0.0.0/8"), N("::/0"), N("192.168.0.0/16")])
    assert (v4, v6) == ([N("10.0.0.0/8"), N("192.168.0.0/16")], [N("::/0")])
    assert collapse([N("10.0.0.0/25"), N("10.0.0.128/25"), N("fd00::/8")]) == [
        N("10.0.0.0/24"), N("fd00::/8")]
    assert not compatible("icmp", 6) and not compatible("icmpv6", 4) and compatible("tcp", 6)
    assert useful("icmpv6", frozenset({4, 6})) and not useful("icmpv6", frozenset({4}))
    assert not useful("tcp", frozenset())
    intent = parse_intent("version: 1\nname: t\nsegments:\n  a: {cidr: 10.0.0.0/24}\n  b: {}\nflows: []\n")
    assert segment_families(intent, "a") == {4} and segment_families(intent, "b") == {4, 6}


def test_families_of_an_address_set() -> None:
    mixed = AddressSet.from_cidrs(["10.0.0.0/8", "fd00::/8", "192.168.0.0/16"])
    parts = by_family(mixed)
    assert parts[4].cidrs() == [N("10.0.0.0/8"), N("192.168.0.0/16")] and parts[6].cidrs() == [N("fd00::/8")]
    assert set(by_family(AddressSet.from_cidrs(["fd00::/8"]))) == {6} and by_family(AddressSet()) == {}
    assert whole(4).cidrs() == [N("0.0.0.0/0")] and whole(6).cidrs() == [N("::/0")]


def test_cidr_reading() -> None:
    assert cidr_problem("10.0.0.0/16") is None
    assert cidr_problem("10.0.0.1/16") == "host bits are set in '10.0.0.1/16': did you mean 10.0.0.0/16?"
    assert cidr_problem("banana").startswith("'banana' is not a CIDR")
    assert cidr_problem(7, kind="an IPv4 CIDR") == "expected an IPv4 CIDR such as 10.0.0.0/16, got 7"
    assert record_cidr("10.0.0.1/16") == N("10.0.0.0/16")
    assert ref_name(ref("web", "id")) == "web" and ref_name("sg-123") is None and ref_name(3) is None
