"""Azure provider, compile side: what the plan holds (golden files, identity, inline
rules, the deny-alls, priorities, exact addresses, network mode) for the example and
small crafted specs."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from cloudfence.addresses import AddressSet
from cloudfence.intent import load_intent, parse_intent
from cloudfence.plan import Plan
from cloudfence.provider import checked_plan
from cloudfence.providers.azure.compile import SUBNET_DEFAULTS
from cloudfence.providers.azure.priorities import priorities
from cloudfence.providers.azure.provider import AzureProvider
from cloudfence.providers.azure.settings import AzureSettings
from cloudfence.providers.azure.wire import ASG, NSG, SUBNET, VIRTUAL_NETWORK
from cloudfence.space import space_for
from tests.goldens import assert_golden

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "stacks" / "ai-inference" / "segments.yaml"
GOLDEN = ROOT / "tests" / "golden" / "azure"
AZURE = AzureProvider()
BASE = {"resourceGroupName": "rg-inference", "location": "westeurope"}
EXISTING = {**BASE, "virtualNetworkName": "vnet-inference", "addressSpace": ["10.20.0.0/16"]}
RULE_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,78}[A-Za-z0-9_])?$")


def spec(segments: str, flows: str, extra: str = "") -> str:
    return f"version: 1\nname: t\nsegments:\n{segments}\n{extra}\nflows:\n{flows}\n"


def compile_text(text: str, **settings) -> Plan:
    return checked_plan(AZURE, parse_intent(text), {**BASE, **settings})


def nsg_rules(plan: Plan, segment: str) -> dict[str, dict]:
    return {r["name"]: r for r in plan.get(f"{plan.spec}-{segment}-nsg").inputs["securityRules"]}


# ------------------------------------------------------------ the example


@pytest.mark.parametrize("variant, settings", [("ai-inference", BASE), ("ai-inference-existing", EXISTING)])
def test_example_plan_matches_golden_file(variant, settings):
    plan = checked_plan(AZURE, load_intent(EXAMPLE), settings)
    text = json.dumps({**plan.to_json(), "exports": plan.exports}, indent=2) + "\n"
    assert_golden(GOLDEN / f"{variant}.json", text, "tests/test_azure_compile.py")


def test_compiling_twice_gives_the_same_bytes():
    intent = load_intent(EXAMPLE)
    assert checked_plan(AZURE, intent, BASE).dumps() == checked_plan(AZURE, intent, BASE).dumps()


def test_one_asg_and_one_nsg_per_segment_exported_for_workloads():
    plan = checked_plan(AZURE, load_intent(EXAMPLE), EXISTING)
    segments = sorted(load_intent(EXAMPLE).segments)
    assert sorted(r.inputs["tags"]["cloudfence:segment"] for r in plan.by_type(ASG)) == segments
    assert sorted(r.inputs["tags"]["cloudfence:segment"] for r in plan.by_type(NSG)) == segments
    assert not plan.by_type(VIRTUAL_NETWORK) and not plan.by_type(SUBNET)  # an existing network
    assert plan.exports["gateway"] == {"applicationSecurityGroupId": "${ai-inference-gateway-asg.id}",
                                       "networkSecurityGroupId": "${ai-inference-gateway-nsg.id}"}
    for r in (*plan.by_type(ASG), *plan.by_type(NSG)):
        assert (r.inputs["resourceGroupName"], r.inputs["location"]) == ("rg-inference", "westeurope")


def test_every_nsg_ends_each_direction_with_deny_all_and_unique_priorities():
    plan = checked_plan(AZURE, load_intent(EXAMPLE), BASE)
    for nsg in plan.by_type(NSG):
        rules = nsg.inputs["securityRules"]
        for direction in ("Inbound", "Outbound"):
            mine = [r for r in rules if r["direction"] == direction]
            last = mine[-1]
            assert (last["access"], last["priority"], last["protocol"]) == ("Deny", 4096, "*")
            assert (last["sourceAddressPrefix"], last["destinationAddressPrefix"]) == ("*", "*")
            allows = mine[:-1]
            assert all(r["access"] == "Allow" for r in allows)
            prios = [r["priority"] for r in allows]
            assert len(set(prios)) == len(prios) and all(100 <= p <= 4095 for p in prios)
        assert all(r["sourcePortRange"] == "*" for r in rules)
        assert all(RULE_NAME.match(r["name"]) for r in rules)
        assert len({r["name"] for r in rules}) == len(rules)


def test_flows_are_inbound_on_the_destination_and_outbound_on_the_source_by_asg():
    plan = checked_plan(AZURE, load_intent(EXAMPLE), BASE)
    inbound = nsg_rules(plan, "inference")["in-tcp-from-gateway"]
    assert inbound["sourceApplicationSecurityGroups"] == [{"id": "${ai-inference-gateway-asg.id}"}]
    assert inbound["destinationApplicationSecurityGroups"] == [{"id": "${ai-inference-inference-asg.id}"}]
    assert (inbound["protocol"], inbound["destinationPortRanges"]) == ("Tcp", ["80"])
    outbound = nsg_rules(plan, "gateway")["out-tcp-to-inference"]
    assert outbound["sourceApplicationSecurityGroups"] == [{"id": "${ai-inference-gateway-asg.id}"}]
    assert outbound["destinationApplicationSecurityGroups"] == [{"id": "${ai-inference-inference-asg.id}"}]


def test_augmented_rules_hold_every_port_range_of_a_peer():
    plan = compile_text(spec("  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}",
                             "  - {from: a, to: b, ports: [tcp/80, tcp/8000-8002, udp/53, tcp/443]}"))
    rules = nsg_rules(plan, "b")
    assert rules["in-tcp-from-a"]["destinationPortRanges"] == ["80", "443", "8000-8002"]
    assert rules["in-udp-from-a"]["destinationPortRanges"] == ["53"]
    assert sorted(rules) == ["deny-all-in", "deny-all-out", "in-tcp-from-a", "in-udp-from-a"]


def test_any_is_one_rule_for_every_protocol_and_icmp_maps_to_icmp():
    plan = compile_text(spec("  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}",
                             "  - {from: a, to: b, ports: [any]}\n  - {from: b, to: a, ports: [icmp]}"))
    anything = nsg_rules(plan, "b")["in-any-from-a"]
    assert (anything["protocol"], anything["destinationPortRange"]) == ("*", "*")
    icmp = nsg_rules(plan, "a")["in-icmp-from-b"]
    assert (icmp["protocol"], icmp["destinationPortRange"]) == ("Icmp", "*")


def test_internet_is_compiled_exactly_as_the_space_defines_it():
    text = spec("  web: {cidr: [10.0.1.0/24, 'fd00:1::/64']}",
                "  - {from: internet, to: web, ports: [tcp/443]}")
    settings = {**BASE, "egressIps": ["20.30.40.0/28"], "addressSpace": ["10.0.0.0/16", "fd00:1::/64"]}
    intent = parse_intent(text)
    plan = checked_plan(AZURE, intent, settings)
    rules = nsg_rules(plan, "web")
    written = AddressSet.from_cidrs([*rules["in-tcp-from-internet"]["sourceAddressPrefixes"],
                                     *rules["in-tcp-from-internet.ipv6"]["sourceAddressPrefixes"]])
    exact = space_for(intent, AzureSettings.model_validate(settings)).network("internet")
    assert written == exact
    assert not written & AddressSet.from_cidrs(["20.30.40.0/28", "10.0.0.0/8", "192.168.0.0/16"])
    # one family per rule
    assert all(":" not in p for p in rules["in-tcp-from-internet"]["sourceAddressPrefixes"])


def test_a_network_never_names_a_segments_cidr():
    text = spec("  a: {cidr: 10.1.0.0/24}\n  b: {cidr: 10.2.0.0/24}",
                "  - {from: a, to: wide, ports: [tcp/443]}",
                "networks:\n  wide: [10.0.0.0/8]")
    prefixes = nsg_rules(compile_text(text), "a")["out-tcp-to-wide"]["destinationAddressPrefixes"]
    written = AddressSet.from_cidrs(prefixes)
    assert written == AddressSet.from_cidrs(["10.0.0.0/8"]) - AddressSet.from_cidrs(["10.1.0.0/24",
                                                                                     "10.2.0.0/24"])


def test_a_segment_writes_no_addresses_of_a_family_it_does_not_use():
    text = spec("  web: {cidr: 10.0.1.0/24}", "  - {from: internet, to: web, ports: [tcp/443]}")
    assert "in-tcp-from-internet.ipv6" not in nsg_rules(compile_text(text), "web")


def test_network_mode_creates_the_network_and_a_subnet_per_segment_cidr():
    text = spec("  a: {cidr: [10.0.1.0/24, 10.0.3.0/24]}\n  b: {cidr: [10.0.2.0/24, 'fd00:2::/64']}\n  c: {}",
                "  - {from: a, to: b, ports: [tcp/443]}")
    plan = compile_text(text)
    (vnet,) = plan.by_type(VIRTUAL_NETWORK)
    assert vnet.name == "t"
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": ["10.0.1.0/24", "10.0.2.0/23", "fd00:2::/64"]}
    subnets = {s.name: s.inputs for s in plan.by_type(SUBNET)}
    assert subnets == {
        "t-a-subnet": {"resourceGroupName": "rg-inference", "virtualNetworkName": "${t.name}",
                       "addressPrefixes": ["10.0.1.0/24", "10.0.3.0/24"],
                       "networkSecurityGroup": {"id": "${t-a-nsg.id}"}, **SUBNET_DEFAULTS},
        "t-b-subnet": {"resourceGroupName": "rg-inference", "virtualNetworkName": "${t.name}",
                       "addressPrefixes": ["10.0.2.0/24", "fd00:2::/64"],
                       "networkSecurityGroup": {"id": "${t-b-nsg.id}"}, **SUBNET_DEFAULTS},
    }
    assert plan.exports["a"]["subnetId"] == "${t-a-subnet.id}"
    assert "subnetId" not in plan.exports["c"]  # no cidr, no subnet: its NSG is exported for NICs


def test_an_address_space_setting_is_the_networks_space():
    text = spec("  a: {cidr: 10.0.1.0/24}", "  - {from: a, to: internet, ports: [tcp/443]}")
    plan = compile_text(text, addressSpace=["10.0.0.0/16"])
    assert plan.get("t").inputs["addressSpace"] == {"addressPrefixes": ["10.0.0.0/16"]}


def test_load_balancer_probes_are_an_implied_flow_through_the_service_tag():
    text = spec("  web: {cidr: 10.0.1.0/24}", "  - {from: internet, to: web, ports: [tcp/443]}")
    plan = compile_text(text, loadBalancerProbes={"web": ["tcp/8080"]})
    assert [str(f) for f in plan.implied] == ["@load-balancer -> web tcp/8080"]
    probe = nsg_rules(plan, "web")["in-tcp-from-azure_load_balancer"]
    assert (probe["sourceAddressPrefix"], probe["destinationPortRanges"]) == ("AzureLoadBalancer", ["8080"])
    assert probe["priority"] < 4096
    assert "in-tcp-from-azure_load_balancer" not in nsg_rules(compile_text(text), "web")


# ------------------------------------------------------------ priorities and names


def test_editing_one_flow_moves_no_other_rule():
    before = load_intent(EXAMPLE)
    text = EXAMPLE.read_text().replace("ports: [qdrant]\n    description: retrieval",
                                       "ports: [qdrant, tcp/7000]\n    description: retrieval")
    text = text + "  - {from: monitoring, to: vector-db, ports: [tcp/9100]}\n"
    after = parse_intent(text, str(EXAMPLE))
    old, new = checked_plan(AZURE, before, BASE), checked_plan(AZURE, after, BASE)
    for nsg in old.by_type(NSG):
        was = {r["name"]: r for r in nsg.inputs["securityRules"]}
        now = {r["name"]: r for r in new.get(nsg.name).inputs["securityRules"]}
        for name, rule in was.items():
            if name in now and "vector-db" not in name and nsg.name != "ai-inference-vector-db-nsg":
                assert now[name] == rule, name
            if name in now:
                assert now[name]["priority"] == rule["priority"], name  # even where ports changed
    assert sorted(r.name for r in old.resources) == sorted(r.name for r in new.resources)


def test_priorities_are_unique_in_range_and_one_change_moves_few_others():
    rnd = random.Random(7)
    names = [f"in-tcp-from-seg{rnd.randrange(10**6)}" for _ in range(900)]
    base = priorities(names)
    assert len(set(base.values())) == len(base) and all(100 <= p <= 4095 for p in base.values())
    for removed in rnd.sample(names, 20):
        after = priorities(n for n in names if n != removed)
        moved = [n for n in after if after[n] != base[n]]
        assert len(moved) <= 3, (removed, moved)
    assert priorities(reversed(names)) == base  # the set alone decides


def test_rule_names_fit_azure_even_for_the_longest_names():
    seg = "s" * 40
    text = f"version: 1\nname: {'p' * 40}\nsegments:\n  {seg}: {{cidr: [10.0.1.0/24, 'fd00::/64']}}\n" \
           f"networks:\n  {'n' * 40}: ['2001:db8::/32']\n" \
           f"flows:\n  - {{from: {seg}, to: {'n' * 40}, ports: [icmpv6]}}\n"
    plan = checked_plan(AZURE, parse_intent(text), {**BASE, "addressSpace": ["10.0.0.0/16", "fd00::/48"]})
    assert plan.by_type(NSG)
    for nsg in plan.by_type(NSG):
        for r in nsg.inputs["securityRules"]:
            assert len(r["name"]) <= 80 and RULE_NAME.match(r["name"]) and len(r["description"]) <= 140


def test_moving_to_another_location_replaces_and_a_rule_change_updates():
    """`cloudfence diff` calls out what Pulumi would delete and create: leaving a region or
    resource group does; a new flow only rewrites the NSG's rule list in place."""
    segments = "  a: {cidr: 10.0.1.0/24}\n  b: {}"
    intent = parse_intent(spec(segments, "  - {from: a, to: b, ports: [tcp/443]}"))
    wider = parse_intent(spec(segments, "  - {from: a, to: b, ports: [tcp/443, tcp/80]}"))
    old = {(r.type, r.name): r for r in checked_plan(AZURE, intent, BASE).resources}
    moved = checked_plan(AZURE, intent, {**BASE, "location": "northeurope", "resourceGroupName": "rg2"})
    edited = checked_plan(AZURE, wider, BASE)
    for r in moved.resources:
        want = ["resourceGroupName"] if r.type == SUBNET else ["location", "resourceGroupName"]
        assert sorted(AZURE.replaced_by(old[r.type, r.name], r)) == want, r.type
    changed = [r for r in edited.resources if r.inputs != old[r.type, r.name].inputs]
    assert {r.type for r in changed} == {NSG}
    assert all(AZURE.replaced_by(old[r.type, r.name], r) == [] for r in changed)
