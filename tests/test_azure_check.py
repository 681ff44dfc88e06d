"""Azure provider, check side: what Azure cannot express or hold is refused before
anything is built, naming the flow, the segment and its count, or the setting."""

from __future__ import annotations

import pytest

from cloudfence.errors import CheckError, SpecError
from cloudfence.intent import parse_intent
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.azure.checks import quota_problems
from cloudfence.providers.azure.provider import AzureProvider
from cloudfence.providers.azure.rules import Counts
from tests.test_azure_compile import BASE, spec

AZURE = AzureProvider()
TWO = "  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}"


def problems(text: str, **settings) -> list[str]:
    return [str(p) for p in find_problems(AZURE, parse_intent(text), {**BASE, **settings})]


def test_a_valid_spec_has_no_problems():
    assert problems(spec(TWO, "  - {from: a, to: b, ports: [tcp/443, icmp]}")) == []


def test_sctp_is_refused_naming_the_flow_but_any_is_not():
    flows = "  - {from: a, to: b, ports: [sctp/9899]}\n  - {from: b, to: a, ports: [any]}"
    found = problems(spec(TWO, flows))
    assert len(found) == 1
    assert found[0].startswith("<spec>:8: flows[0] (a -> b): azure cannot express sctp")


def test_an_icmp_type_stops_at_the_spec_naming_the_flow():
    """Azure's Icmp matches every type; the spec has no literal for one, so no plan can
    silently widen a typed flow to all of ICMP."""
    with pytest.raises(SpecError, match=r"flows\[0\]\.ports: 'icmp/8': icmp takes no port or type"):
        parse_intent(spec(TWO, "  - {from: a, to: b, ports: [icmp/8]}"))
    assert not AZURE.capabilities.icmp_types


def test_icmp_alone_between_segments_that_may_use_ipv6_is_refused():
    found = problems(spec("  a: {}\n  b: {cidr: [10.0.2.0/24, 'fd00:2::/64']}",
                          "  - {from: a, to: b, ports: [icmp]}"), addressSpace=["10.0.0.0/16", "fd00:2::/64"])
    assert len(found) == 1 and "flows[0] (a -> b)" in found[0] and "ICMP and ICMPv6 alike" in found[0]
    assert problems(spec("  a: {}\n  b: {cidr: [10.0.2.0/24, 'fd00:2::/64']}",
                         "  - {from: a, to: b, ports: [icmp, icmpv6]}"),
                    addressSpace=["10.0.0.0/16", "fd00:2::/64"]) == []
    # with addresses, icmp and icmpv6 go to rules of their own family
    assert problems(spec("  a: {cidr: [10.0.1.0/24, 'fd00:1::/64']}",
                         "  - {from: a, to: pub, ports: [icmp]}",
                         "networks:\n  pub: [0.0.0.0/0, '::/0']")) == []


def test_the_load_balancer_is_only_a_source():
    found = problems(spec(TWO, "  - {from: a, to: '@load-balancer', ports: [tcp/80]}"))
    assert found == ["<spec>:8: flows[0] (a -> @load-balancer): '@load-balancer' takes no rules on azure: "
                     "its load balancers have no filter that cloudfence writes, so nothing enforces a flow "
                     "into it; write the clients' flow to the segment behind it (`a -> <segment>`), and "
                     "`@load-balancer -> <segment>` for what the load balancer delivers"]
    assert problems(spec(TWO, "  - {from: '@load-balancer', to: a, ports: [tcp/80]}")) == []


def test_other_platform_endpoints_are_unknown_to_azure():
    found = problems(spec(TWO, "  - {from: a, to: '@cluster-dns', ports: [udp/53]}"))
    assert len(found) == 1 and "'@cluster-dns' is not known to azure" in found[0]


def test_dead_flows_are_refused():
    found = problems(spec("  a: {cidr: 10.0.1.0/24}", "  - {from: a, to: v6, ports: [tcp/443]}",
                          "networks:\n  v6: ['2001:db8::/32']"))
    assert len(found) == 1 and "share no address family" in found[0]


@pytest.mark.parametrize("raw, where, words", [
    ({"location": "westeurope"}, "settings.resourceGroupName", "required (resource group of every NSG"),
    ({"resourceGroupName": "rg"}, "settings.location", "required (Azure region name"),
    ({**BASE, "location": "West Europe"}, "settings.location", "westeurope"),
    ({**BASE, "resourcegroup": "x"}, "settings.resourcegroup", "unknown azure setting"),
    ({**BASE, "rulesPerNsg": 5000}, "settings.rulesPerNsg", "1000"),
    ({**BASE, "rulesPerNsg": "100"}, "settings.rulesPerNsg", "integer"),
    ({**BASE, "egressIps": ["20.1.2.3/24"]}, "settings.egressIps", "did you mean 20.1.2.0/24"),
    ({**BASE, "virtualNetworkName": "vnet"}, "settings.addressSpace", "required with virtualNetworkName"),
    ({**BASE, "loadBalancerProbes": {"a": ["udp/53"]}}, "settings.loadBalancerProbes", "tcp"),
    ({**BASE, "loadBalancerProbes": {"c": ["tcp/80"]}}, "settings.loadBalancerProbes.c", "unknown segment"),
])
def test_settings_problems_name_the_key(raw, where, words):
    found = find_problems(AZURE, parse_intent(spec(TWO, "  - {from: a, to: b, ports: [tcp/443]}")), raw)
    assert [p.where for p in found] == [where], found
    assert words in found[0].message
    with pytest.raises(CheckError):
        checked_plan(AZURE, parse_intent(spec(TWO, "  - {from: a, to: b, ports: [tcp/443]}")), raw)


def test_network_mode_needs_subnet_shaped_cidrs():
    found = find_problems(AZURE, parse_intent(spec("  a: {cidr: 'fd00:1::/64'}\n  b: {cidr: 10.0.2.0/30}\n"
                                          "  c: {cidr: [10.0.3.0/24, 'fd00:3::/56']}",
                                          "  - {from: b, to: c, ports: [tcp/443]}")), BASE)
    assert [(p.where, p.message.split(":")[0]) for p in found] == [
        ("segments.a.cidr", "Azure subnets need an IPv4 prefix (IPv6 is added to dual-stack subnets)"),
        ("segments.b.cidr", "10.0.2.0/30 is too small for an Azure subnet (at most /29)"),
        ("segments.c.cidr", "fd00"),
    ]
    existing = {**BASE, "virtualNetworkName": "vnet", "addressSpace": ["10.0.0.0/16", "fd00::/16"]}
    assert find_problems(AZURE, parse_intent(spec("  a: {cidr: 'fd00:1::/64'}\n  b: {cidr: 10.0.2.0/30}",
                                         "  - {from: b, to: b, ports: [tcp/443]}")), existing) == []


def test_a_segment_outside_the_address_space_is_refused():
    found = problems(spec(TWO, "  - {from: a, to: b, ports: [tcp/443]}"), addressSpace=["10.0.1.0/24"])
    assert len(found) == 1 and found[0].startswith("<spec>:5: segments.b.cidr: 10.0.2.0/24 is outside "
                                                   "settings.addressSpace (10.0.1.0/24)")


def test_network_mode_without_any_address_is_refused():
    found = problems(spec("  a: {}", "  - {from: a, to: internet, ports: [tcp/443]}"))
    assert len(found) == 1 and found[0].startswith("settings.addressSpace: cloudfence creates the virtual")
    assert problems(spec("  a: {}", "  - {from: a, to: internet, ports: [tcp/443]}"),
                    addressSpace=["10.9.0.0/16"]) == []


def test_rule_quota_names_the_segment_and_the_count():
    segs = "\n".join(f"  s{i}: {{cidr: 10.0.{i}.0/24}}" for i in range(1, 6))
    flows = "\n".join(f"  - {{from: s1, to: s{i}, ports: [tcp/443, udp/53]}}" for i in range(2, 6))
    found = problems(spec(segs, flows), rulesPerNsg=9)
    assert found == ["<spec>:4: segments.s1: its NSG needs 10 security rules (the two deny-all rules "
                     "included), over the quota of 9 (settings.rulesPerNsg): merge ports or peers into "
                     "fewer flows"]
    assert problems(spec(segs, flows), rulesPerNsg=10) == []


def test_prefix_quota_counts_sources_and_destinations_apart():
    text = spec("  web: {cidr: 10.0.1.0/24}",
                "  - {from: internet, to: web, ports: [tcp/443]}\n"
                "  - {from: web, to: internet, ports: [tcp/443]}")
    # internet is 47 IPv4 prefixes here: 47 sources inbound, 47 destinations outbound
    found = problems(text, prefixesPerNsg=46)
    assert [f.split(", over")[0] for f in found] == [
        "<spec>:4: segments.web: its NSG needs 47 source address prefixes",
        "<spec>:4: segments.web: its NSG needs 47 destination address prefixes"]
    assert problems(text, prefixesPerNsg=47) == []


def test_priority_range_and_asg_limits_name_the_segment():
    intent = parse_intent(spec(TWO, "  - {from: a, to: b, ports: [tcp/443]}"))
    counts = {"a": Counts(rules=4000, sources=0, destinations=0, asgs=101,
                          per_direction={"Inbound": 3997, "Outbound": 1})}
    found = [str(p) for p in quota_problems(intent, counts, 10_000, 4000)]
    assert found == [
        "<spec>:4: segments.a: its NSG references 101 application security groups, over Azure's limit of 100 "
        "per NSG: split the segment's flows across fewer peer segments",
        "<spec>:4: segments.a: its NSG needs 3997 inbound allow rules, more than the 3996 priorities below "
        "the deny-all (100-4095)",
    ]


def test_a_network_that_would_bridge_segments_without_a_cidr_is_refused():
    text = spec("  batch: {}\n  payments: {}", "  - {from: batch, to: internal, ports: [tcp/443]}\n"
                "  - {from: internal, to: payments, ports: [tcp/443]}", "networks:\n  internal: [10.0.0.0/8]")
    found = problems(text, addressSpace=["10.0.0.0/16"])
    assert len(found) == 1 and "'batch' could reach 'payments' on tcp/443" in found[0]
    assert "settings.addressSpace" in found[0]
