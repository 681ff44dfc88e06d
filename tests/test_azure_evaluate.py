"""Azure provider, evaluate side: NSG semantics read from the records (first match by
priority, the default rules, ASG membership, both ends), and mutated plans that verify
must catch."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from cloudfence.intent import Intent, load_intent, parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.provider import checked_plan
from cloudfence.providers.azure.provider import AzureProvider
from cloudfence.providers.azure.wire import NSG, SECURITY_RULE, SUBNET
from cloudfence.reach import Verdict
from cloudfence.verify import verify_plan
from tests.test_azure_compile import BASE, EXAMPLE, EXISTING, spec

AZURE = AzureProvider()
INTENT = load_intent(EXAMPLE)


def edit_rules(plan: Plan, nsg: str, change) -> Plan:
    """The plan with one NSG's securityRules replaced by change(rules)."""
    out = []
    for r in plan.resources:
        if r.name == nsg:
            rules = change(copy.deepcopy(r.inputs["securityRules"]))
            r = Resource(r.type, r.name, {**r.inputs, "securityRules": rules})
        out.append(r)
    return replace(plan, resources=tuple(out))


def by_name(rules: list[dict], name: str) -> dict:
    return next(r for r in rules if r["name"] == name)


def differences(verdict: Verdict) -> set[tuple[str, str, str, str]]:
    return {(c.kind, c.source.split(" ")[0], c.destination.split(" ")[0], c.protocol)
            for c in verdict.counterexamples}


PROBES = {**BASE, "loadBalancerProbes": {"inference": ["tcp/8000"]}}


@pytest.mark.parametrize("settings", [BASE, EXISTING, PROBES])
def test_the_compiled_example_is_equivalent(settings):
    plan = checked_plan(AZURE, INTENT, settings)
    verdict = verify_plan(INTENT, AZURE, plan)
    assert verdict.equivalent, verdict.counterexamples
    assert verdict.implied == tuple(str(f) for f in plan.implied)


# ------------------------------------------------------------ mutations verify catches


def test_a_dropped_inbound_deny_all_opens_the_defaults():
    plan = checked_plan(AZURE, INTENT, BASE)
    mutated = edit_rules(plan, "ai-inference-vector-db-nsg",
                         lambda rules: [r for r in rules if r["name"] != "deny-all-in"])
    found = differences(verify_plan(INTENT, AZURE, mutated))
    # 65001 AllowAzureLoadBalancerInBound: probes reach the segment on every port
    assert ("extra", "@load-balancer", "vector-db", "tcp") in found


def test_a_dropped_outbound_deny_all_opens_the_internet():
    plan = checked_plan(AZURE, INTENT, BASE)
    mutated = edit_rules(plan, "ai-inference-model-store-nsg",
                         lambda rules: [r for r in rules if r["name"] != "deny-all-out"])
    found = differences(verify_plan(INTENT, AZURE, mutated))
    assert ("extra", "model-store", "internet", "tcp") in found  # 65001 AllowInternetOutBound
    assert ("extra", "model-store", "unnamed", "udp") in found  # Internet: all outside the network


def test_a_deny_all_given_an_allows_priority_shadows_it():
    plan = checked_plan(AZURE, INTENT, BASE)

    def swap(rules):
        allow, deny = by_name(rules, "in-tcp-from-gateway"), by_name(rules, "deny-all-in")
        allow["priority"], deny["priority"] = deny["priority"], allow["priority"]
        return rules

    found = differences(verify_plan(INTENT, AZURE, edit_rules(plan, "ai-inference-inference-nsg", swap)))
    assert ("missing", "gateway", "inference", "tcp") in found
    assert all(kind == "missing" and dst == "inference" for kind, _, dst, _ in found)  # nothing opened


def test_an_allow_below_the_deny_all_is_harmless_and_caught_once_it_precedes_it():
    plan = checked_plan(AZURE, INTENT, BASE)
    wide = {"name": "allow-everything", "priority": 4095, "direction": "Inbound", "access": "Allow",
            "protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "*"}

    def below(rules):
        deny = by_name(rules, "deny-all-in")
        deny["priority"] = 4095
        return [*rules, {**wide, "priority": 4096}]

    assert verify_plan(INTENT, AZURE, edit_rules(plan, "ai-inference-feature-db-nsg", below)).equivalent

    def above(rules):
        return [*rules, wide]

    # every difference (the platform endpoints' come first and would fill the default 20)
    found = differences(verify_plan(INTENT, AZURE, edit_rules(plan, "ai-inference-feature-db-nsg", above),
                                    limit=1000))
    assert ("extra", "corp-vpn", "feature-db", "tcp") in found
    assert ("extra", "gateway", "feature-db", "tcp") not in found  # gateway's own NSG keeps it in


def test_a_widened_prefix_is_caught():
    plan = checked_plan(AZURE, INTENT, BASE)

    def widen(rules):
        by_name(rules, "in-tcp-from-corp-vpn")["sourceAddressPrefixes"] = ["10.200.0.0/15"]
        return rules

    verdict = verify_plan(INTENT, AZURE, edit_rules(plan, "ai-inference-vector-db-nsg", widen))
    assert {(c.kind, c.source, c.destination, c.ports) for c in verdict.counterexamples} == {
        ("extra", "unnamed address (10.201.0.1 .. 10.201.255.255)", "vector-db (10.20.3.1)", "6333-6334")}


def test_a_rule_naming_another_segments_asg_does_not_apply():
    plan = checked_plan(AZURE, INTENT, BASE)

    def retarget(rules):
        rule = by_name(rules, "in-tcp-from-gateway")
        rule["destinationApplicationSecurityGroups"] = [{"id": "${ai-inference-model-store-asg.id}"}]
        return rules

    found = differences(verify_plan(INTENT, AZURE, edit_rules(plan, "ai-inference-inference-nsg", retarget)))
    assert found == {("missing", "gateway", "inference", "tcp")}


def test_both_ends_are_needed():
    plan = checked_plan(AZURE, INTENT, BASE)
    mutated = edit_rules(plan, "ai-inference-gateway-nsg",
                         lambda rules: [r for r in rules if r["name"] != "out-tcp-to-inference"])
    assert differences(verify_plan(INTENT, AZURE, mutated)) == {("missing", "gateway", "inference", "tcp")}


def test_a_subnet_without_its_nsg_is_unfiltered():
    plan = checked_plan(AZURE, INTENT, BASE)
    resources = tuple(Resource(r.type, r.name, {k: v for k, v in r.inputs.items()
                                                if k != "networkSecurityGroup"})
                      if r.name == "ai-inference-vector-db-subnet" else r for r in plan.resources)
    found = differences(verify_plan(INTENT, AZURE, replace(plan, resources=resources)))
    assert ("extra", "unnamed", "vector-db", "udp") in found


def test_a_segment_without_any_nsg_is_unfiltered():
    plan = checked_plan(AZURE, INTENT, EXISTING)
    resources = tuple(r for r in plan.resources if r.name != "ai-inference-monitoring-nsg")
    found = differences(verify_plan(INTENT, AZURE, replace(plan, resources=resources), limit=1000))
    assert ("extra", "monitoring", "unnamed", "tcp") in found


# ------------------------------------------------------------ reading rules


def one_nsg(rules: list[dict], text: str | None = None) -> tuple[Intent, Plan]:
    intent = parse_intent(text or spec("  a: {cidr: 10.20.1.0/24}\n  b: {cidr: 10.20.2.0/24}",
                                       "  - {from: a, to: b, ports: [tcp/443]}"))
    plan = checked_plan(AZURE, intent, EXISTING)
    return intent, edit_rules(plan, "t-b-nsg", lambda old: [r for r in old if r["direction"] == "Outbound"]
                              + rules)


def rule(name: str, priority: int, access: str = "Allow", **fields) -> dict:
    return {"name": name, "priority": priority, "direction": "Inbound", "access": access,
            "protocol": "Tcp", "sourcePortRange": "*", "sourceAddressPrefix": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "*", **fields}


def test_first_match_by_priority_not_by_list_order():
    allow_a = rule("a", 300, sourceApplicationSecurityGroups=[{"id": "${t-a-asg.id}"}],
                   sourceAddressPrefix=None, destinationPortRanges=["443"], destinationPortRange=None)
    deny = rule("deny", 200, access="Deny", destinationPortRanges=["443"], destinationPortRange=None)
    deny_all = rule("deny-all", 4096, access="Deny", protocol="*")
    intent, plan = one_nsg([allow_a, deny, deny_all])
    assert differences(verify_plan(intent, AZURE, plan)) == {("missing", "a", "b", "tcp")}
    intent, plan = one_nsg([allow_a, {**deny, "priority": 400}, deny_all])
    assert verify_plan(intent, AZURE, plan).equivalent


def test_a_deny_takes_only_its_ports_from_a_later_allow():
    allow_all = rule("all", 300, sourceApplicationSecurityGroups=[{"id": "${t-a-asg.id}"}],
                     sourceAddressPrefix=None, destinationPortRanges=["400-500"], destinationPortRange=None)
    deny = rule("deny", 200, access="Deny", destinationPortRanges=["400-442", "444-500"],
                destinationPortRange=None)
    intent, plan = one_nsg([allow_all, deny, rule("deny-all", 4096, access="Deny", protocol="*")])
    assert verify_plan(intent, AZURE, plan).equivalent


def test_standalone_security_rules_are_enforced_too():
    intent, plan = one_nsg([rule("deny-all", 4096, access="Deny", protocol="*")])
    assert differences(verify_plan(intent, AZURE, plan)) == {("missing", "a", "b", "tcp")}
    standalone = Resource(SECURITY_RULE, "extra-rule", {
        "networkSecurityGroupName": "${t-b-nsg.name}", "resourceGroupName": "rg", "priority": 100,
        "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "sourcePortRange": "*",
        "sourceApplicationSecurityGroups": [{"id": "${t-a-asg.id}"}],
        "destinationAddressPrefix": "*", "destinationPortRange": "443"})
    assert verify_plan(intent, AZURE, replace(plan, resources=(*plan.resources, standalone))).equivalent


def test_icmp_reads_as_icmp_and_icmpv6():
    text = spec("  a: {}\n  b: {}", "  - {from: a, to: b, ports: [icmp, icmpv6]}")
    intent = parse_intent(text)
    plan = checked_plan(AZURE, intent, EXISTING)
    assert verify_plan(intent, AZURE, plan).equivalent
    narrower = parse_intent(text.replace("[icmp, icmpv6]", "[icmp]"))
    # judged against a spec check would refuse on azure (icmp alone between dual-stack ends)
    found = differences(verify_plan(narrower, AZURE, plan, checked=True))
    assert found == {("extra", "a", "b", "icmpv6")}


def test_virtual_network_tag_is_the_address_space_and_every_segment():
    text = spec("  a: {cidr: 10.20.1.0/24}\n  b: {}\n  c: {cidr: 10.20.3.0/24}",
                "  - {from: a, to: c, ports: [tcp/443]}")
    intent = parse_intent(text)
    plan = checked_plan(AZURE, intent, {**BASE, "addressSpace": ["10.20.0.0/16"]})  # the VNet record says it
    vnet_in = rule("vnet", 100, sourceAddressPrefix="VirtualNetwork",
                   destinationAddressPrefix="VirtualNetwork")
    mutated = edit_rules(plan, "t-c-nsg", lambda rules: [vnet_in, *rules])
    found = differences(verify_plan(intent, AZURE, mutated))
    assert found == {("extra", "unnamed", "c", "tcp")}  # unmanaged hosts of 10.20.0.0/16, not internet
    vnet_out = {**vnet_in, "name": "vnet-out", "direction": "Outbound"}
    mutated = edit_rules(mutated, "t-b-nsg", lambda rules: [vnet_out, *rules])
    found = differences(verify_plan(intent, AZURE, mutated))
    assert ("extra", "b", "c", "tcp") in found  # b has no cidr: a member of the network by identity
    assert all(c.source != "internet" and c.destination != "internet"
               for c in verify_plan(intent, AZURE, mutated).counterexamples)


def test_a_subnet_names_its_segment_by_address():
    plan = checked_plan(AZURE, INTENT, BASE)
    subnet = plan.get("ai-inference-gateway-subnet")
    assert subnet.type == SUBNET and plan.get("ai-inference-gateway-nsg").type == NSG
    # point the gateway subnet at the monitoring NSG: gateway is then filtered by monitoring's rules
    resources = tuple(Resource(r.type, r.name, {**r.inputs, "networkSecurityGroup": {
        "id": "${ai-inference-monitoring-nsg.id}"}}) if r is subnet else r for r in plan.resources)
    found = differences(verify_plan(INTENT, AZURE, replace(plan, resources=resources)))
    assert ("missing", "internet", "gateway", "tcp") in found
