"""Normalisation: names resolved, flows merged, exclusions subtracted."""

from __future__ import annotations

import ipaddress

import pytest

from cloudfence.addresses import PUBLIC, AddressSet
from cloudfence.errors import SpecError
from cloudfence.intent import parse_intent
from cloudfence.ports import PortSet, format_ports, parse_port

BASE = """
version: 1
name: demo
segments:
  gateway: {kubernetes: {namespace: serving, labels: {role: frontend}}, cidr: 10.20.1.0/24}
  inference: {cidr: [10.20.2.0/24, "fd00:20:2::/64"]}
  vector-db: {cidr: 10.20.3.0/24}
networks:
  corp-vpn: [10.200.0.0/16]
  partners: {include: [0.0.0.0/0], exclude: [10.0.0.0/8, 192.168.0.0/16]}
services:
  https: tcp/443
  triton: [tcp/8000-8002]
  dns: [udp/53, tcp/53]
"""


def intent(flows: str):
    return parse_intent(BASE + "flows:\n" + flows, "spec.yaml")


def test_lists_on_either_side_expand_and_duplicates_merge() -> None:
    i = intent("""
  - {from: [gateway, corp-vpn], to: inference, ports: [triton, tcp/80]}
  - {from: gateway, to: inference, ports: [tcp/8002-8010, tcp/81]}
""")
    pairs = {(f.src.name, f.dst.name): f for f in i.flows}
    assert set(pairs) == {("gateway", "inference"), ("corp-vpn", "inference")}
    merged = pairs[("gateway", "inference")]
    assert format_ports(merged.ports) == "tcp/80-81,8000-8010"
    assert merged.origins == (0, 1)
    assert merged.where == "flows[0], flows[1] (gateway -> inference)"


def test_exclusions_are_subtracted_and_kept_per_include() -> None:
    i = intent("  - {from: partners, to: gateway, ports: [https]}\n")
    partners = i.networks["partners"]
    assert [str(b.cidr) for b in partners.blocks] == ["0.0.0.0/0"]
    assert [str(e) for e in partners.blocks[0].excepts] == ["10.0.0.0/8", "192.168.0.0/16"]
    cidrs = partners.cidrs()
    assert ipaddress.ip_network("11.0.0.0/8") in cidrs
    assert not any(c.overlaps(ipaddress.ip_network("10.1.0.0/16")) for c in cidrs)


def test_internet_is_built_in_for_both_families() -> None:
    i = intent("  - {from: internet, to: gateway, ports: [https]}\n")
    internet = i.networks["internet"].addresses
    assert internet == PUBLIC  # public space of both families (DESIGN section 3)
    assert AddressSet.from_cidrs(["8.8.8.8/32", "2600::1/128"]).issubset(internet)
    assert not internet & AddressSet.from_cidrs(["10.1.2.3/32", "fd00::1/128", "169.254.169.254/32"])


def test_any_and_icmp_literals() -> None:
    i = intent("  - {from: gateway, to: vector-db, ports: [any]}\n"
               "  - {from: inference, to: vector-db, ports: [icmp, icmpv6, sctp/9899]}\n")
    flows = {f.src.name: f for f in i.flows}
    assert flows["gateway"].ports == PortSet.any()
    assert format_ports(flows["inference"].ports) == "sctp/9899 icmp icmpv6"


def test_segment_cidrs_of_both_families() -> None:
    i = intent("  - {from: gateway, to: inference, ports: [https]}\n")
    assert [str(c) for c in i.segments["inference"].cidrs] == ["10.20.2.0/24", "fd00:20:2::/64"]


@pytest.mark.parametrize(("flows", "expected"), [
    ("  - {from: gateway, to: vectordb, ports: [https]}\n",
     "spec.yaml:16: flows[0].to: unknown segment or network 'vectordb' (did you mean 'vector-db'?)"),
    ("  - {from: corp-vpn, to: partners, ports: [https]}\n",
     "flows[0]: flow between 'corp-vpn' and 'partners', neither a segment"),
    ("  - {from: gateway, to: inference, ports: [htps]}\n",
     "flows[0].ports: unknown service 'htps' (did you mean 'https'?)"),
    ("  - {from: gateway, to: inference, ports: []}\n", "flows[0].ports: empty port list"),
    ("  - {from: gateway, to: inference, ports: [tcp/70000]}\n", "port 70000"),
    ("  - {from: gateway, to: inference, ports: [tcp/90-80]}\n", "reversed: write tcp/80-90"),
    ("  - {from: gateway, to: inference, ports: [gre/1]}\n", "unknown protocol 'gre'"),
    ("  - {from: gateway, to: inference, ports: [tcp]}\n", "'tcp' has no port: write tcp/PORT"),
])
def test_flow_errors_name_the_place_and_the_fix(flows: str, expected: str) -> None:
    with pytest.raises(SpecError) as err:
        intent(flows)
    assert expected in str(err.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("version: 1\nname: d\nsegments:\n  a: {cidr: 10.0.0.1/24}\n",
     "spec.yaml:4: segments.a.cidr: invalid CIDR '10.0.0.1/24': host bits are set, "
     "did you mean 10.0.0.0/24?"),
    ("version: 1\nname: d\nsegments:\n  a: {cidr: 10.0.0.0/24}\n  b: {cidr: 10.0.0.128/25}\n",
     "segments.b.cidr: 10.0.0.128/25 overlaps 10.0.0.0/24 of segment 'a'"),
    ("version: 1\nname: d\nsegments:\n  Web_1: {}\n", "invalid segment name 'Web_1'"),
    ("version: 1\nname: d\nsegments:\n  a: {}\nnetworks:\n  a: [10.0.0.0/8]\n",
     "'a' is both a segment and a network"),
    ("version: 1\nname: d\nsegments:\n  a: {}\nnetworks:\n"
     "  n: {include: [10.0.0.0/8], exclude: [11.0.0.0/16]}\n",
     "networks.n.exclude[0]: exclusion 11.0.0.0/16 is outside every include of 'n'"),
])
def test_spec_errors_name_the_place_and_the_fix(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_intent(text, "spec.yaml")
    assert expected in str(err.value)


def test_port_parsing_round_trip() -> None:
    assert format_ports(parse_port("tcp/8000-8100") | parse_port("udp/53")) == "tcp/8000-8100 udp/53"
    assert parse_port("any").is_any()
