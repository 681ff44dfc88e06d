"""A mutation sweep over generated AWS plans: widen a CIDR, swap a reference, swap
exports, drop a rule. verify --plan must catch every widening; whether a mutation
widens is decided from the flows alone (a probe address no flow names on those
ports), never by the code under test."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.addresses import AddressSet
from cloudfence.intent import Intent, parse_intent
from cloudfence.plan import Plan, Resource, ref
from cloudfence.provider import checked_plan, find_problems, validated
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.wire import EGRESS_RULE, INGRESS_RULE, SECURITY_GROUP
from cloudfence.space import space_for
from cloudfence.verify import verify_plan
from tests.strategies import examples, specs, to_text
from tests.test_aws_property import for_network_mode, without_sctp_ports

AWS = AwsProvider()
EXISTING = {"vpcId": "vpc-0abc1234def567890", "vpcCidrs": ["10.0.0.0/8", "fd00::/44"]}
SWEEP = settings(max_examples=examples(10))
# Addresses outside every generated segment cidr: public and private, per family.
PROBES = {4: ["198.51.100.7", "100.64.0.7", "192.0.2.7"], 6: ["2001:db8:ffff::7", "fc00::7"]}


def compiled(spec: dict, options: dict) -> tuple[Intent, Plan] | None:
    text = without_sctp_ports(to_text(for_network_mode(spec) if "vpcId" not in options else spec))
    intent = parse_intent(text)
    if find_problems(AWS, intent, options):
        return None
    return intent, checked_plan(AWS, intent, options)


def options_for(data: st.DataObject) -> dict:
    return data.draw(st.sampled_from([{}, {"nacls": False, "prefixLists": False}, EXISTING]))


def address_rules(plan: Plan) -> list[Resource]:
    return [r for r in plan.resources if r.type in (INGRESS_RULE, EGRESS_RULE)
            and ("cidrIpv4" in r.inputs or "cidrIpv6" in r.inputs or "prefixListId" in r.inputs)]


def segment_of(plan: Plan, rule: Resource) -> str:
    group = plan.get(rule.inputs["securityGroupId"][2:-4])
    return group.inputs["tags"]["cloudfence:segment"]


def intended_at(intent: Intent, plan: Plan, segment: str, egress: bool, address: str, proto: str,
                port: int) -> bool:
    """Whether a flow names this packet between the segment and the address."""
    space = space_for(intent, validated(AWS, plan.settings))
    probe = AddressSet.from_cidrs([ipaddress.ip_network(address)])
    for f in intent.flows:
        here, there = (f.src, f.dst) if egress else (f.dst, f.src)
        if here.kind != "segment" or here.name != segment or there.kind != "network":
            continue
        ports = f.ports.get(proto)
        if (f.ports.is_any() or (ports and port in ports)) and space.network(there.name) & probe:
            return True
    return False


@SWEEP
@given(specs(allow_icmp=False, full_range=True), st.data())
def test_a_widened_cidr_is_caught(spec, data):
    made = compiled(spec, options_for(data))
    if made is None:
        return
    intent, plan = made
    rules = address_rules(plan)
    if not rules:
        return
    rule = data.draw(st.sampled_from(rules))
    proto = rule.inputs["ipProtocol"]
    if proto not in ("tcp", "udp"):
        return
    family = 4 if "cidrIpv4" in rule.inputs or "ipv4" in rule.inputs.get("prefixListId", "") else 6
    segment, egress = segment_of(plan, rule), rule.type == EGRESS_RULE
    port = rule.inputs["fromPort"]
    probes = [a for a in PROBES[family] if not intended_at(intent, plan, segment, egress, a, proto, port)]
    if not probes:
        return
    inputs = {k: v for k, v in rule.inputs.items() if k not in ("cidrIpv4", "cidrIpv6", "prefixListId")}
    inputs["cidrIpv4" if family == 4 else "cidrIpv6"] = "0.0.0.0/0" if family == 4 else "::/0"
    widened = replace(plan, resources=tuple(Resource(r.type, r.name, inputs) if r is rule else r
                                            for r in plan.resources))
    verdict = verify_plan(intent, AWS, widened)
    assert any(c.kind == "extra" for c in verdict.counterexamples), (rule.name, probes)


@SWEEP
@given(specs(allow_icmp=False, full_range=True), st.data())
def test_a_swapped_reference_is_caught_when_both_ends_agree(spec, data):
    """Swapping the group a rule names at both ends (A's egress and the new peer's
    ingress) opens A to a segment no flow names, unless a flow already does."""
    made = compiled(spec, options_for(data))
    if made is None:
        return
    intent, plan = made
    refs = [r for r in plan.by_type(EGRESS_RULE) if "referencedSecurityGroupId" in r.inputs
            and r.inputs["ipProtocol"] in ("tcp", "udp")]
    own = {g.inputs["tags"]["cloudfence:segment"]: g.name for g in plan.by_type(SECURITY_GROUP)
           if "cloudfence:group" not in g.inputs["tags"]}
    if not refs or len(own) < 2:
        return
    rule = data.draw(st.sampled_from(refs))
    src = segment_of(plan, rule)
    others = [s for s in own if ref(own[s]) != rule.inputs["referencedSecurityGroupId"]]
    dst = data.draw(st.sampled_from(others))
    port, proto = rule.inputs["fromPort"], rule.inputs["ipProtocol"]
    if any(f.src.name == src and f.dst.name == dst and (f.ports.is_any() or port in f.ports.get(proto))
           for f in intent.flows):
        return
    swapped = Resource(rule.type, rule.name, {**rule.inputs, "referencedSecurityGroupId": ref(own[dst])})
    back = Resource(INGRESS_RULE, f"{rule.name}-mirror", {
        "securityGroupId": ref(own[dst]), "ipProtocol": proto, "fromPort": port, "toPort": port,
        "referencedSecurityGroupId": ref(own[src])})
    mutated = replace(plan, resources=tuple([*(swapped if r is rule else r for r in plan.resources), back]))
    verdict = verify_plan(intent, AWS, mutated)
    assert any(c.kind == "extra" and c.source.startswith(src) and c.destination.startswith(dst)
               for c in verdict.counterexamples), (rule.name, dst)


@SWEEP
@given(specs(allow_icmp=False, full_range=True), st.data())
def test_swapped_exports_are_caught(spec, data):
    made = compiled(spec, options_for(data))
    if made is None:
        return
    intent, plan = made
    names = sorted(plan.exports)
    if len(names) < 2:
        return
    a, b = data.draw(st.sampled_from([(x, y) for x in names for y in names if x < y]))
    swapped = replace(plan, exports={**plan.exports, a: plan.exports[b], b: plan.exports[a]})
    verdict = verify_plan(intent, AWS, swapped)
    assert {c.source for c in verdict.counterexamples if c.kind == "export"} == {a, b}


@SWEEP
@given(specs(allow_icmp=False, full_range=True), st.data())
def test_the_unmutated_plan_verifies(spec, data):
    made = compiled(spec, options_for(data))
    if made is not None:
        intent, plan = made
        verdict = verify_plan(intent, AWS, plan)
        assert verdict.equivalent, verdict.counterexamples


# ------------------------------------------------- the load balancer's listener

LISTENER = """version: 1
name: lb
segments:
  gateway: {cidr: 10.30.1.0/24}
  clients: {cidr: 10.30.2.0/24}
networks:
  corp-vpn: [10.200.0.0/16]
flows:
  - {from: '@load-balancer', to: gateway, ports: [tcp/8443]}
  - {from: internet, to: '@load-balancer', ports: [tcp/443]}
  - {from: corp-vpn, to: '@load-balancer', ports: [tcp/80]}
  - {from: clients, to: '@load-balancer', ports: [tcp/443]}
"""


def listener_plan() -> tuple[Intent, Plan]:
    intent = parse_intent(LISTENER)
    return intent, checked_plan(AWS, intent, {})


def listener_rule(plan: Plan, **match: object) -> Resource:
    group = "${lb-load-balancer.id}"
    (rule,) = [r for r in plan.by_type(INGRESS_RULE) if r.inputs["securityGroupId"] == group
               and all(r.inputs.get(k) == v for k, v in match.items())]
    return rule


def mutated(plan: Plan, rule: Resource, inputs: dict | None) -> Plan:
    """The plan with one rule's inputs replaced (None: the rule removed)."""
    return replace(plan, resources=tuple(
        r if r is not rule else Resource(r.type, r.name, inputs)
        for r in plan.resources if r is not rule or inputs is not None))


def differences(intent: Intent, plan: Plan) -> set[tuple[str, str, str, str]]:
    verdict = verify_plan(intent, AWS, plan)
    return {(c.kind, c.source.split(" (")[0], c.destination.split(" (")[0], c.ports)
            for c in verdict.counterexamples}


def test_the_listener_plan_verifies_and_its_rules_are_on_the_load_balancer_group():
    intent, plan = listener_plan()
    assert verify_plan(intent, AWS, plan).equivalent
    assert listener_rule(plan, cidrIpv4="10.200.0.0/16").inputs["fromPort"] == 80
    assert listener_rule(plan, referencedSecurityGroupId="${lb-clients.id}").inputs["toPort"] == 443


def test_a_widened_listener_cidr_is_caught():
    intent, plan = listener_plan()
    rule = listener_rule(plan, cidrIpv4="10.200.0.0/16")
    found = differences(intent, mutated(plan, rule, {**rule.inputs, "cidrIpv4": "10.200.0.0/15"}))
    assert ("extra", "unnamed address", "@load-balancer", "80") in found


def test_a_widened_listener_port_is_caught():
    intent, plan = listener_plan()
    rule = listener_rule(plan, cidrIpv6="2000::/3")
    found = differences(intent, mutated(plan, rule, {**rule.inputs, "toPort": 444}))
    assert ("extra", "internet", "@load-balancer", "444") in found


def test_a_listener_rule_opened_to_everything_is_caught():
    intent, plan = listener_plan()
    rule = listener_rule(plan, cidrIpv4="10.200.0.0/16")
    found = differences(intent, mutated(plan, rule, {**rule.inputs, "cidrIpv4": "0.0.0.0/0"}))
    # Public and private addresses alike (a segment needs its own egress to get there).
    assert {("extra", "internet", "@load-balancer", "80"),
            ("extra", "unnamed address", "@load-balancer", "80")} <= found


def test_a_removed_listener_rule_is_caught():
    intent, plan = listener_plan()
    found = differences(intent, mutated(plan, listener_rule(plan, cidrIpv4="10.200.0.0/16"), None))
    assert found == {("missing", "corp-vpn", "@load-balancer", "80")}


def test_load_balancer_egress_to_internet_is_caught():
    """The group sends only to the segments behind it: an egress rule to anywhere
    else is an opening no flow names."""
    intent, plan = listener_plan()
    out = Resource(EGRESS_RULE, "lb-load-balancer-out-any", {
        "securityGroupId": "${lb-load-balancer.id}", "ipProtocol": "tcp", "fromPort": 443,
        "toPort": 443, "cidrIpv4": "0.0.0.0/0"})
    found = differences(intent, replace(plan, resources=(*plan.resources, out)))
    assert ("extra", "@load-balancer", "internet", "443") in found
