"""AWS provider, evaluate side: verify reads the plan records with security
group and network ACL semantics, and catches plans that drift from the intent."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cloudfence.errors import CloudfenceError
from cloudfence.intent import load_intent, parse_intent
from cloudfence.plan import Plan, Resource, ordered, ref
from cloudfence.ports import PortSet, parse_port
from cloudfence.provider import checked_plan
from cloudfence.providers.aws.evaluate import NACL_LAYER, acl_layer, sg_ports
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.wire import (
    EGRESS_RULE,
    INGRESS_RULE,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
    SECURITY_GROUP,
    SUBNET,
)
from cloudfence.reach import EGRESS, INGRESS
from cloudfence.verify import verify, verify_plan
from tests.test_aws_compile import AWS_EXAMPLE, EXAMPLE, EXISTING_VPC_S3, VPC_ID

AWS = AwsProvider()
INTENT = load_intent(EXAMPLE)
P = "ai-inference-"


def drop(plan: Plan, name: str) -> Plan:
    assert any(r.name == name for r in plan.resources), name
    return replace(plan, resources=tuple(r for r in plan.resources if r.name != name))


def change(plan: Plan, name: str, **inputs: Any) -> Plan:
    """The plan with one record's inputs edited (None removes a key)."""
    out = []
    for r in plan.resources:
        if r.name == name:
            new = {**r.inputs, **inputs}
            r = Resource(r.type, r.name, {k: v for k, v in new.items() if v is not None})
        out.append(r)
    return replace(plan, resources=tuple(out))


def add(plan: Plan, *records: Resource) -> Plan:
    return replace(plan, resources=ordered([*plan.resources, *records]))


def diffs(plan: Plan, intent=INTENT) -> set[tuple]:
    v = verify_plan(intent, AWS, plan)
    return {(c.kind, c.source.split(" (")[0], c.destination.split(" (")[0], c.protocol, c.ports)
            for c in v.counterexamples}


# ------------------------------------------------------------ the example is equivalent


@pytest.mark.parametrize("settings", [{}, {"nacls": True}, {**EXISTING_VPC_S3, "vpcId": VPC_ID},
                                      {"nacls": True, "rulesPerNetworkAcl": 40, "region": "us-west-2"}])
def test_example_verifies_equivalent(settings):
    verdict = verify(INTENT, AWS, {**AWS_EXAMPLE, **settings})
    assert verdict.equivalent, verdict.counterexamples
    assert verdict.governed == frozenset(INTENT.segments)
    assert verdict.not_governed == ()


def test_evaluate_layers_nacls_only_when_present():
    plain = AWS.evaluate(checked_plan(AWS, INTENT, AWS_EXAMPLE), INTENT)
    assert plain.layers_of("gateway") == ["main"]
    layered = AWS.evaluate(checked_plan(AWS, INTENT, {**AWS_EXAMPLE, "nacls": True}), INTENT)
    assert layered.layers_of("gateway") == ["main", NACL_LAYER]


# ------------------------------------------------------------ mutated plans are caught


@pytest.mark.parametrize("settings", [{}, {"nacls": True}])
def test_every_single_dropped_rule_is_caught(settings):
    plan = checked_plan(AWS, INTENT, {**AWS_EXAMPLE, **settings})
    names = [r.name for r in plan.resources if r.type in (INGRESS_RULE, EGRESS_RULE, NETWORK_ACL_RULE)
             and r.inputs.get("ruleAction") != "deny"]
    assert names
    for name in names:
        kinds = {kind for kind, *_ in diffs(drop(plan, name))}
        # a network ACL entry for part of where the load balancer may be: its nodes there
        # are cut off, elsewhere not, so the connection is unsure, never equivalent
        assert "missing" in kinds or ("unsure" in kinds and "-10-20-" in name), name


def test_a_dropped_nacl_deny_only_widens_the_nacl_and_the_groups_still_decide():
    plan = checked_plan(AWS, INTENT, {**AWS_EXAMPLE, "nacls": True})
    denies = [r.name for r in plan.by_type(NETWORK_ACL_RULE) if r.inputs["ruleAction"] == "deny"]
    # gateway (from internet) and inference (to @object-storage, public space): the five
    # private ranges, inbound and outbound
    assert len(denies) == 20
    for name in denies:
        assert diffs(drop(plan, name)) == set(), name
    # with the denies gone (both ways: replies cross the NACL too), a group rule widened to
    # 0.0.0.0/0 opens the private range
    wider = drop(drop(plan, P + "gateway-acl-in-deny-from-192-168-0-0-16"),
                 P + "gateway-acl-out-deny-to-192-168-0-0-16")
    wider = change(wider, P + "gateway-in-tcp-443-from-internet-ipv4", prefixListId=None,
                   cidrIpv4="0.0.0.0/0")
    found = verify_plan(INTENT, AWS, wider).counterexamples
    assert [(c.kind, c.destination, c.protocol, c.ports) for c in found] == [
        ("extra", "gateway (10.20.1.1)", "tcp", "443")]
    # an unnamed private host: in 192.168/16 now, or in the VPC where the network ACL
    # admits the load balancer (first, being nearer)
    assert found[0].source.startswith("unnamed address (10.20.0.1 .. 10.20.0.255)")


def test_dropped_rule_reports_the_broken_flow():
    plan = drop(checked_plan(AWS, INTENT, AWS_EXAMPLE), P + "feature-db-in-tcp-5432-from-inference")
    assert diffs(plan) == {("missing", "inference", "feature-db", "tcp", "5432")}


def test_widened_port_is_caught():
    plan = change(checked_plan(AWS, INTENT, AWS_EXAMPLE), P + "gateway-in-tcp-443-from-internet-ipv4",
                  toPort=444)
    found = diffs(plan)
    assert ("extra", "internet", "gateway", "tcp", "444") in found
    assert {kind for kind, *_ in found} == {"extra"}
    assert {port for *_, port in found} == {"444"}


def test_widened_port_at_both_ends_is_caught():
    plan = checked_plan(AWS, INTENT, AWS_EXAMPLE)
    plan = change(plan, P + "gateway-out-tcp-80-to-inference", fromPort=79)
    assert diffs(plan) == set()  # the model servers' group still refuses port 79 ...
    plan = change(plan, P + "inference-in-tcp-80-from-gateway", fromPort=79)
    assert diffs(plan) == {("extra", "gateway", "inference", "tcp", "79")}  # ... until it does not


def test_every_swapped_reference_is_caught():
    plan = checked_plan(AWS, INTENT, AWS_EXAMPLE)
    groups = [g.name for g in plan.by_type(SECURITY_GROUP)]
    refs = [r for r in plan.resources if "referencedSecurityGroupId" in r.inputs]
    assert refs
    for r in refs:
        for g in groups:
            if ref(g) == r.inputs["referencedSecurityGroupId"]:
                continue
            assert diffs(change(plan, r.name, referencedSecurityGroupId=ref(g))), (r.name, g)


def test_swapped_reference_opens_the_other_segment():
    plan = checked_plan(AWS, INTENT, AWS_EXAMPLE)
    plan = change(plan, P + "vector-db-in-tcp-6333-6334-from-inference",
                  referencedSecurityGroupId=ref(P + "monitoring"))
    plan = change(plan, P + "monitoring-out-tcp-9090-9102-to-inference",
                  referencedSecurityGroupId=ref(P + "vector-db"))
    found = diffs(plan)
    assert ("missing", "inference", "vector-db", "tcp", "6333-6334") in found
    assert ("missing", "monitoring", "inference", "tcp", "9090-9102") in found


def test_missing_nacl_return_rule_is_caught():
    plan = checked_plan(AWS, INTENT, {**AWS_EXAMPLE, "nacls": True})
    found = diffs(drop(plan, P + "gateway-acl-out-tcp-1024-65535-to-0-0-0-0-0"))
    # the S3 prefix list is public space, so part of internet: it is named apart
    assert found == {("missing", "internet", "gateway", "tcp", "443"),
                     ("missing", "@object-storage", "gateway", "tcp", "443")}
    # monitoring's replies share one entry with part of where the load balancer may be
    found = diffs(drop(plan, P + "gateway-acl-out-tcp-1024-65535-to-10-20-6-0-23"))
    assert found == {("missing", "monitoring", "gateway", "tcp", "9090-9102"),
                     ("unsure", "@load-balancer", "gateway", "tcp", "443")}


def test_narrowed_nacl_return_range_is_caught():
    # replies land on any ephemeral port: allowing only Linux's 32768-61000 is not enough
    plan = change(checked_plan(AWS, INTENT, {**AWS_EXAMPLE, "nacls": True}),
                  P + "model-store-acl-out-tcp-1024-65535-to-inference", fromPort=32768, toPort=61000)
    assert diffs(plan) == {("missing", "inference", "model-store", "tcp", "443")}


def test_inline_group_rules_are_not_read_as_allowing_anything_extra():
    # compile never writes inline rules; a group whose rules all vanished allows nothing
    plan = checked_plan(AWS, INTENT, {**EXISTING_VPC_S3, "vpcId": VPC_ID})
    plan = replace(plan, resources=tuple(r for r in plan.resources if r.type == SECURITY_GROUP))
    assert {kind for kind, *_ in diffs(plan)} == {"missing"}


# ------------------------------------------------------------ security group semantics

TWO = "version: 1\nname: t\nsegments:\n  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}\nflows: []\n"


def two_groups() -> tuple[Plan, Any]:
    intent = parse_intent(TWO)
    return checked_plan(AWS, intent, {"vpcId": VPC_ID}), intent


def rule(rtype: str, name: str, group: str, **inputs: Any) -> Resource:
    return Resource(rtype, name, {"securityGroupId": ref(f"t-{group}"), **inputs})


@pytest.mark.parametrize("inputs, ports", [
    ({"ipProtocol": "-1"}, "any"),
    ({"ipProtocol": "all"}, "any"),
    ({"ipProtocol": "6", "fromPort": 80, "toPort": 90}, "tcp/80-90"),
    ({"ipProtocol": "TCP", "fromPort": 80, "toPort": 80}, "tcp/80"),
    ({"ipProtocol": "udp", "fromPort": 53, "toPort": 53}, "udp/53"),
    ({"ipProtocol": "icmp", "fromPort": -1, "toPort": -1}, "icmp"),
    ({"ipProtocol": "icmp", "fromPort": 8, "toPort": 0}, "icmp"),  # one type: read as all (wider)
    ({"ipProtocol": "58", "fromPort": -1, "toPort": -1}, "icmpv6"),
    ({"ipProtocol": "132", "fromPort": 9899, "toPort": 9899}, "sctp/0-65535"),  # ports ignored
])
def test_security_group_protocols(inputs, ports):
    assert sg_ports(inputs) == parse_port(ports)


def test_protocol_numbers_outside_the_model_read_as_other():
    assert sg_ports({"ipProtocol": "50"}) == PortSet({"other": parse_port("any").get("other")})
    assert sg_ports({"ipProtocol": "tcp"}) == PortSet()  # no ports: AWS rejects it


@pytest.mark.parametrize("inputs, says", [
    ({"ipProtocol": "icmp", "fromPort": 8, "toPort": 0}, "a rule for some icmp types only"),
    ({"ipProtocol": "50"}, "a rule for protocol number 50 alone"),
])
def test_a_rule_for_part_of_a_protocol_class_is_refused(inputs, says):
    # read as the whole class, a plan narrowing a flow's icmp or `any` would verify green
    plan, intent = two_groups()
    plan = Plan(plan.spec, plan.provider, (*plan.resources, rule(INGRESS_RULE, "i", "b", **inputs)))
    with pytest.raises(CloudfenceError, match=f"resources.i: {says}: verify cannot prove"):
        AWS.evaluate(plan, intent)


def test_both_ends_must_allow():
    plan, intent = two_groups()
    egress = rule(EGRESS_RULE, "e", "a", ipProtocol="tcp", fromPort=80, toPort=80,
                  referencedSecurityGroupId=ref("t-b"))
    ingress = rule(INGRESS_RULE, "i", "b", ipProtocol="tcp", fromPort=80, toPort=80,
                   referencedSecurityGroupId=ref("t-a"))
    assert diffs(add(plan, egress), intent) == set()
    assert diffs(add(plan, ingress), intent) == set()
    assert diffs(add(plan, egress, ingress), intent) == {("extra", "a", "b", "tcp", "80")}


def test_cidr_rules_match_addresses():
    plan, intent = two_groups()
    found = diffs(add(plan, rule(INGRESS_RULE, "i", "b", ipProtocol="-1", cidrIpv4="192.0.2.0/24")),
                  intent)
    assert {(k, s, d, p) for k, s, d, p, _ in found} == {
        ("extra", "internet", "b", p) for p in ("tcp", "udp", "sctp", "icmp", "other")}
    found = diffs(add(plan, rule(INGRESS_RULE, "i", "b", ipProtocol="-1", cidrIpv4="10.0.1.0/24"),
                      rule(EGRESS_RULE, "e", "a", ipProtocol="tcp", fromPort=1, toPort=1,
                           cidrIpv4="10.0.2.0/24")), intent)
    assert found == {("extra", "a", "b", "tcp", "1")}


def test_reference_to_a_group_outside_the_plan_may_be_anyone():
    plan, intent = two_groups()
    found = diffs(add(plan, rule(INGRESS_RULE, "i", "b", ipProtocol="tcp", fromPort=22, toPort=22,
                                 referencedSecurityGroupId="sg-0123456789abcdef0")), intent)
    assert ("extra", "internet", "b", "tcp", "22") in found


def test_rules_on_a_group_of_no_segment_are_ignored():
    plan, intent = two_groups()
    stray = Resource(SECURITY_GROUP, "stray", {"description": "x", "vpcId": VPC_ID, "tags": {}})
    found = diffs(add(plan, stray, Resource(INGRESS_RULE, "i", {
        "securityGroupId": ref("stray"), "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"})), intent)
    assert found == set()


# ------------------------------------------------------------ network ACL semantics


def entry(n: int, egress: bool, action: str, cidr: str, protocol: str = "6",
          ports: tuple[int, int] | None = (0, 65535)) -> Resource:
    inputs: dict[str, Any] = {"networkAclId": ref("acl"), "ruleNumber": n, "egress": egress,
                              "protocol": protocol, "ruleAction": action, "cidrBlock": cidr}
    if ports is not None:
        inputs.update(fromPort=ports[0], toPort=ports[1])
    return Resource(NETWORK_ACL_RULE, f"e{n}{egress}", inputs)


def layer(*entries: Resource) -> dict[str, set[tuple[str, str]]]:
    """Per direction, (address set, ports) read back as text for easy comparison."""
    out = {}
    for direction, allowed in acl_layer(list(entries)).items():
        out[direction] = {(",".join(str(c) for c in addrs.cidrs()), repr(ports))
                          for addrs, ports in allowed}
    return out


REPLIES_IN = entry(900, False, "allow", "0.0.0.0/0", ports=(1024, 65535))
REPLIES_OUT = entry(900, True, "allow", "0.0.0.0/0", ports=(1024, 65535))


def test_nacl_needs_replies_allowed_on_the_whole_ephemeral_range():
    request = entry(100, True, "allow", "10.9.0.0/16", ports=(443, 443))
    assert layer(request)[EGRESS] == set()  # replies would be dropped
    assert layer(request, REPLIES_IN)[EGRESS] == {("10.9.0.0/16", "PortSet('tcp/443')")}
    short = entry(900, False, "allow", "0.0.0.0/0", ports=(32768, 61000))
    assert layer(request, short)[EGRESS] == set()


def test_nacl_first_match_wins_in_rule_number_order():
    deny_first = layer(entry(100, False, "deny", "10.9.1.0/24"),
                       entry(200, False, "allow", "10.9.0.0/16", ports=(22, 22)), REPLIES_OUT)
    assert deny_first[INGRESS] == {("10.9.0.0/24,10.9.2.0/23,10.9.4.0/22,10.9.8.0/21,10.9.16.0/20,"
                                    "10.9.32.0/19,10.9.64.0/18,10.9.128.0/17", "PortSet('tcp/22')")}
    allow_first = layer(entry(300, False, "deny", "10.9.1.0/24"),
                        entry(200, False, "allow", "10.9.0.0/16", ports=(22, 22)), REPLIES_OUT)
    assert allow_first[INGRESS] == {("10.9.0.0/16", "PortSet('tcp/22')")}


def test_nacl_deny_of_a_protocol_leaves_the_others():
    got = layer(entry(100, False, "deny", "0.0.0.0/0", protocol="17", ports=(0, 65535)),
                entry(200, False, "allow", "0.0.0.0/0", protocol="-1", ports=None),
                entry(100, True, "allow", "0.0.0.0/0", protocol="-1", ports=None))
    (addrs, ports), = got[INGRESS]
    assert addrs == "0.0.0.0/0" and "udp" not in ports and "tcp/0-65535" in ports


def test_nacl_default_deny_without_entries():
    assert layer() == {EGRESS: set(), INGRESS: set()}


def nacl_plan(entries: list[Resource], attach: bool = True) -> tuple[Plan, Any]:
    intent = parse_intent("version: 1\nname: t\nsegments:\n  a: {cidr: 10.0.1.0/24}\n"
                          "  b: {cidr: 10.0.2.0/24}\nflows:\n  - {from: a, to: b, ports: [tcp/80]}\n"
                          "  - {from: a, to: a, ports: [tcp/22]}\n")
    plan = checked_plan(AWS, intent, {})
    acl = Resource(NETWORK_ACL, "acl", {"vpcId": ref("t"),
                                        "subnetIds": [ref("t-a-10-0-1-0-24")] if attach else []})
    return add(plan, acl, *entries), intent


def test_a_nacl_governs_the_segment_whose_subnet_it_is_attached_to():
    plan, intent = nacl_plan([])
    assert AWS.evaluate(plan, intent).layers_of("a") == ["main", NACL_LAYER]
    assert AWS.evaluate(plan, intent).layers_of("b") == ["main"]
    # an empty NACL blocks a's flow to b, but not a's traffic inside its own subnet
    assert diffs(plan, intent) == {("missing", "a", "b", "tcp", "80")}
    detached, _ = nacl_plan([], attach=False)
    assert diffs(detached, intent) == set()


def test_nacl_allows_what_it_should():
    plan, intent = nacl_plan([entry(100, True, "allow", "10.0.2.0/24", ports=(80, 80)),
                              entry(100, False, "allow", "10.0.2.0/24", ports=(1024, 65535))])
    assert diffs(plan, intent) == set()


def test_subnet_of_a_segment_maps_by_tag():
    plan = checked_plan(AWS, INTENT, {**AWS_EXAMPLE, "nacls": True})
    subnet = plan.by_type(SUBNET)[0]
    assert subnet.inputs["tags"]["cloudfence:segment"] in INTENT.segments


@pytest.mark.parametrize("form", ["inline", "legacy"])
def test_rules_written_the_old_way_still_count(form):
    # cloudfence never writes inline or legacy rules, but AWS enforces them: verify must see them.
    plan, intent = two_groups()
    opening = {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
    if form == "inline":
        resources = tuple(Resource(r.type, r.name, {**r.inputs, "ingress": [opening]})
                          if r.name == "t-b" else r for r in plan.resources)
    else:
        resources = (*plan.resources, Resource("aws:ec2/securityGroupRule:SecurityGroupRule", "t-b-ssh",
                                               {"type": "ingress", "securityGroupId": ref("t-b"), **opening}))
    verdict = verify_plan(intent, AWS, replace(plan, resources=resources))
    assert [(c.kind, c.destination.split(" ")[0], c.protocol, c.port)
            for c in verdict.counterexamples][:1] == [("extra", "b", "tcp", 22)]
