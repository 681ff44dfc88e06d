"""AWS provider, compile side: what the plan holds (golden files, identity,
rule shapes, packing, names) for the example and small crafted specs."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest

from cloudfence.intent import load_intent, parse_intent
from cloudfence.plan import Plan
from cloudfence.provider import checked_plan
from cloudfence.providers.aws.names import MAX_NAME, SG_DESCRIPTION
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.wire import (
    EGRESS_RULE,
    INGRESS_RULE,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
    PREFIX_LIST,
    SECURITY_GROUP,
    SUBNET,
    VPC,
)
from cloudfence.verify import verify
from tests.fakeplugin import AWS_EXAMPLE, EXISTING_VPC_S3
from tests.goldens import assert_golden

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "stacks" / "ai-inference" / "segments.yaml"
GOLDEN = ROOT / "tests" / "golden" / "aws"
AWS = AwsProvider()
VPC_ID = "vpc-0abc1234def567890"
RULES = (INGRESS_RULE, EGRESS_RULE)


def spec(segments: str, flows: str, extra: str = "") -> str:
    return f"version: 1\nname: t\nsegments:\n{segments}\n{extra}\nflows:\n{flows}\n"


def compile_text(text: str, **settings) -> Plan:
    return checked_plan(AWS, parse_intent(text), settings)


def rules(plan: Plan) -> list:
    return [r for r in plan.resources if r.type in RULES]


def shape(r) -> dict:
    """A rule's permission, without bookkeeping (refs, description, tags, the region every
    record carries: test_region_setting_reaches_every_resource)."""
    skip = {"securityGroupId", "networkAclId", "description", "tags", "ruleNumber", "region"}
    return {k: v for k, v in r.inputs.items() if k not in skip}


# ------------------------------------------------------------ the example


@pytest.mark.parametrize("variant, settings", [("ai-inference", {}),
                                               ("ai-inference-nacls", {"nacls": True}),
                                               ("ai-inference-pods", {"securityGroupsForPods": True})])
def test_example_plan_matches_golden_file(variant, settings):
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, **settings})
    text = json.dumps({**plan.to_json(), "exports": plan.exports}, indent=2) + "\n"
    assert_golden(GOLDEN / f"{variant}.json", text, "tests/test_aws_compile.py")


def test_example_one_auto_named_group_per_segment_with_constant_description():
    intent = load_intent(EXAMPLE)
    plan = checked_plan(AWS, intent, {**EXISTING_VPC_S3, "vpcId": VPC_ID})
    groups = plan.by_type(SECURITY_GROUP)
    # one per segment, and the group the example's `@load-balancer` flow has the user's
    # load balancer attach
    assert sorted(g.name for g in groups) == sorted(
        [f"ai-inference-{s}" for s in intent.segments] + ["ai-inference-load-balancer"])
    for g in groups:
        if g.name == "ai-inference-load-balancer":
            assert g.inputs["tags"]["cloudfence:endpoint"] == "@load-balancer"
            continue
        seg = g.name.removeprefix("ai-inference-")
        assert "name" not in g.inputs and "namePrefix" not in g.inputs  # Pulumi auto-names
        assert g.inputs["description"] == SG_DESCRIPTION
        assert g.inputs["vpcId"] == VPC_ID
        assert g.inputs["tags"] == {"Name": g.name, "cloudfence:spec": "ai-inference",
                                    "cloudfence:segment": seg}
        assert "ingress" not in g.inputs and "egress" not in g.inputs  # never inline rules


def test_group_description_ignores_segment_description():
    base = spec("  a: {description: first words}\n", "  []")
    edited = base.replace("first words", "entirely different words")
    assert compile_text(base, vpcId=VPC_ID).get("t-a").inputs == \
        compile_text(edited, vpcId=VPC_ID).get("t-a").inputs


def test_example_model_servers_accept_port_80_only_from_the_gateway_group():
    plan = checked_plan(AWS, load_intent(EXAMPLE), AWS_EXAMPLE)
    inbound = [r for r in plan.by_type(INGRESS_RULE)
               if r.inputs["securityGroupId"] == "${ai-inference-inference.id}"]
    assert sorted((r.inputs.get("referencedSecurityGroupId"), r.inputs["fromPort"],
                   r.inputs["toPort"]) for r in inbound) == [
        ("${ai-inference-gateway.id}", 80, 80),
        ("${ai-inference-monitoring.id}", 9090, 9102),
    ]
    out = plan.get("ai-inference-gateway-out-tcp-80-to-inference")
    assert out.type == EGRESS_RULE
    assert out.inputs["referencedSecurityGroupId"] == "${ai-inference-inference.id}"


PRIVATE_V4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]


def test_example_internet_is_public_space_in_one_prefix_list():
    plan = checked_plan(AWS, load_intent(EXAMPLE), AWS_EXAMPLE)
    public = [shape(r) for r in plan.by_type(INGRESS_RULE)
              if r.inputs["securityGroupId"] == "${ai-inference-gateway.id}"
              and "referencedSecurityGroupId" not in r.inputs]
    # gateway holds only 10.20.1.0/24: an IPv6 rule could never match one of its packets
    assert public == [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                       "prefixListId": "${ai-inference-internet-ipv4.id}"}]
    (pl,) = plan.by_type(PREFIX_LIST)
    assert pl.name == "ai-inference-internet-ipv4"
    assert (pl.inputs["name"], pl.inputs["addressFamily"], pl.inputs["maxEntries"]) == (
        "ai-inference-internet-ipv4", "IPv4", 47)
    entries = [ipaddress.ip_network(e["cidr"]) for e in pl.inputs["entries"]]
    # exactly 0.0.0.0/0 less the five private ranges (the VPC 10.20.0.0/16 lies inside 10.0.0.0/8)
    want = ipaddress.ip_network("0.0.0.0/0")
    rest = [want]
    for private in map(ipaddress.ip_network, PRIVATE_V4):
        rest = [piece for net in rest for piece in (net.address_exclude(private)
                                                    if private.subnet_of(net) else [net])]
    assert sorted(entries) == sorted(rest) and len(entries) == 47


def test_without_prefix_lists_internet_is_47_rules_per_port_range():
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, "prefixLists": False})
    public = [r for r in plan.by_type(INGRESS_RULE) if r.inputs["securityGroupId"] ==
              "${ai-inference-gateway.id}" and "cidrIpv4" in r.inputs]
    assert len(public) == 47 and not plan.by_type(PREFIX_LIST)
    assert not any(r.inputs["cidrIpv4"].startswith(("10.", "192.168.")) for r in public)


def peer_families(plan: Plan, rtype: str) -> set[str]:
    """The address families the address rules of a type name, directly or through a prefix list."""
    lists = {pl.name: pl.inputs["addressFamily"] for pl in plan.by_type(PREFIX_LIST)}
    out = set()
    for r in plan.by_type(rtype):
        for key in ("cidrIpv4", "cidrIpv6"):
            if key in r.inputs:
                out.add("IPv4" if key == "cidrIpv4" else "IPv6")
        if "prefixListId" in r.inputs:
            out.add(lists[r.inputs["prefixListId"][2:-4]])
    return out


@pytest.mark.parametrize("cidr, families", [("", {"IPv4", "IPv6"}),
                                            ("cidr: 10.0.1.0/24", {"IPv4"}),
                                            ("cidr: 'fd00::/64'", {"IPv6"}),
                                            ("cidr: [10.0.1.0/24, 'fd00::/64']", {"IPv4", "IPv6"})])
def test_internet_rules_follow_the_segment_families(cidr, families):
    plan = compile_text(spec(f"  a: {{{cidr}}}", "  - {from: internet, to: a, ports: [tcp/443]}"),
                        vpcId=VPC_ID, vpcCidrs=["10.0.0.0/16", "fd00::/56"])
    assert peer_families(plan, INGRESS_RULE) == families


def addresses_named(plan: Plan, rtype: str) -> list:
    """Every CIDR the address rules of a type name, directly or through a prefix list."""
    lists = {pl.name: [e["cidr"] for e in pl.inputs["entries"]] for pl in plan.by_type(PREFIX_LIST)}
    out = []
    for r in plan.by_type(rtype):
        out += [r.inputs[k] for k in ("cidrIpv4", "cidrIpv6") if k in r.inputs]
        if "prefixListId" in r.inputs:
            out += lists[r.inputs["prefixListId"][2:-4]]
    return sorted(map(ipaddress.ip_network, out), key=lambda n: (n.version, n))


def test_internet_leaves_out_the_vpc_ipv6_prefix_and_egress_ips():
    plan = compile_text(spec("  a: {}", "  - {from: a, to: internet, ports: [tcp/443]}"),
                        vpcId=VPC_ID, vpcCidrs=["10.0.0.0/16", "2600:1f18:aa:bb00::/56"],
                        egressIps=["203.0.113.10/32"])
    named = addresses_named(plan, EGRESS_RULE)
    v4, v6 = [n for n in named if n.version == 4], [n for n in named if n.version == 6]
    egress = ipaddress.ip_network("203.0.113.10/32")
    vpc6 = ipaddress.ip_network("2600:1f18:aa:bb00::/56")
    assert not any(egress.overlaps(n) for n in v4) and len(v4) == 73
    assert sum(n.num_addresses for n in v4) == 2**32 - sum(
        ipaddress.ip_network(c).num_addresses for c in PRIVATE_V4) - 1
    assert not any(n.overlaps(vpc6) for n in v6)
    assert all(n.subnet_of(ipaddress.ip_network("2000::/3")) for n in v6) and len(v6) == 56 - 3
    # 73 IPv4 CIDRs: more than a prefix list one group holds, so one rule each over two groups;
    # the 53 IPv6 ones fit one prefix list, weighed as its 53 entries
    (pl,) = plan.by_type(PREFIX_LIST)
    assert (pl.inputs["addressFamily"], pl.inputs["maxEntries"]) == ("IPv6", 53)
    assert plan.exports["a"]["securityGroupIds"] == ["${t-a.id}", "${t-a-2.id}"]
    assert plan.get("t-a-2").inputs["tags"] == {"Name": "t-a-2", "cloudfence:spec": "t",
                                                "cloudfence:segment": "a", "cloudfence:group": "2"}
    assert verify(parse_intent(spec("  a: {}", "  - {from: a, to: internet, ports: [tcp/443]}")), AWS,
                  {"vpcId": VPC_ID, "vpcCidrs": ["10.0.0.0/16", "2600:1f18:aa:bb00::/56"],
                   "egressIps": ["203.0.113.10/32"]}).equivalent


def test_example_rules_carry_the_flow_in_description_and_tags():
    plan = checked_plan(AWS, load_intent(EXAMPLE), AWS_EXAMPLE)
    r = plan.get("ai-inference-vector-db-in-tcp-6333-6334-from-10-200-0-0-16")
    assert r.inputs["description"] == "ai-inference: corp-vpn to vector-db (index maintenance jobs)"
    assert r.inputs["tags"] == {"cloudfence:spec": "ai-inference", "cloudfence:segment": "vector-db",
                                "cloudfence:flows": "corp-vpn to vector-db"}


def test_network_mode_creates_vpc_and_a_subnet_per_segment():
    plan = checked_plan(AWS, load_intent(EXAMPLE), AWS_EXAMPLE)
    (vpc,) = plan.by_type(VPC)
    assert vpc.name == "ai-inference"
    assert vpc.inputs["cidrBlock"] == "10.20.0.0/16"  # the /16 holding every segment
    subnets = {s.inputs["tags"]["cloudfence:segment"]: s for s in plan.by_type(SUBNET)}
    assert subnets["gateway"].inputs == {
        "vpcId": "${ai-inference.id}", "cidrBlock": "10.20.1.0/24", "region": "us-east-1",
        "tags": {"Name": "ai-inference-gateway", "cloudfence:spec": "ai-inference",
                 "cloudfence:segment": "gateway"}}
    assert len(subnets) == 6
    for g in plan.by_type(SECURITY_GROUP):
        assert g.inputs["vpcId"] == "${ai-inference.id}"
    assert plan.exports["gateway"] == {
        "securityGroupId": "${ai-inference-gateway.id}",
        "securityGroupIds": ["${ai-inference-gateway.id}"],
        "subnetId": "${ai-inference-gateway-10-20-1-0-24.id}",
        "subnetIds": ["${ai-inference-gateway-10-20-1-0-24.id}"],
    }


def test_existing_vpc_mode_creates_no_network():
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**EXISTING_VPC_S3, "vpcId": VPC_ID})
    assert not plan.by_type(VPC) and not plan.by_type(SUBNET) and not plan.by_type(NETWORK_ACL)
    assert plan.exports["gateway"] == {"securityGroupId": "${ai-inference-gateway.id}",
                                       "securityGroupIds": ["${ai-inference-gateway.id}"]}


def test_vpc_cidr_setting_is_used():
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, "vpcCidr": "10.20.0.0/20"})
    assert plan.by_type(VPC)[0].inputs["cidrBlock"] == "10.20.0.0/20"


def test_segments_without_cidr_get_a_group_but_no_subnet():
    plan = compile_text(spec("  a: {cidr: 10.5.1.0/24}\n  b: {}", "  - {from: b, to: a, ports: [tcp/1]}"))
    assert [s.inputs["cidrBlock"] for s in plan.by_type(SUBNET)] == ["10.5.1.0/24"]
    assert plan.exports["b"] == {"securityGroupId": "${t-b.id}", "securityGroupIds": ["${t-b.id}"]}
    assert plan.by_type(VPC)[0].inputs["cidrBlock"] == "10.5.0.0/16"


def test_no_segment_cidr_gives_the_fallback_vpc_cidr():
    plan = compile_text(spec("  a: {}", "  []"))
    assert plan.by_type(VPC)[0].inputs["cidrBlock"] == "10.0.0.0/16"


def test_region_setting_reaches_every_resource():
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, "region": "eu-central-1", "nacls": True})
    assert {r.inputs.get("region") for r in plan.resources} == {"eu-central-1"}


# ------------------------------------------------------------ rule shapes

SHAPES = """\
  a: {cidr: [10.0.1.0/24, 'fd00:1::/64']}
  b: {cidr: [10.0.2.0/24, 'fd00:2::/64']}
"""


@pytest.mark.parametrize("ports, expected", [
    ("[any]", [{"ipProtocol": "-1"}]),
    ("[icmp]", [{"ipProtocol": "icmp", "fromPort": -1, "toPort": -1}]),
    ("[icmpv6]", [{"ipProtocol": "icmpv6", "fromPort": -1, "toPort": -1}]),
    ("[sctp/0-65535]", [{"ipProtocol": "132"}]),
    ("[udp/53]", [{"ipProtocol": "udp", "fromPort": 53, "toPort": 53}]),
    ("[tcp/0-65535]", [{"ipProtocol": "tcp", "fromPort": 0, "toPort": 65535}]),
    ("[any, tcp/80]", [{"ipProtocol": "-1"}]),
])
def test_protocol_encoding_on_group_references(ports, expected):
    plan = compile_text(spec(SHAPES, f"  - {{from: a, to: b, ports: {ports}}}"), vpcId=VPC_ID)
    for rtype in RULES:
        got = [shape(r) for r in plan.by_type(rtype)]
        peer = "${t-b.id}" if rtype == EGRESS_RULE else "${t-a.id}"
        assert got == [{**e, "referencedSecurityGroupId": peer} for e in expected]


def test_adjacent_and_overlapping_ranges_merge_into_one_rule():
    plan = compile_text(spec(SHAPES, "  - {from: a, to: b, ports: [tcp/80-81, tcp/82, tcp/1000-2000,"
                                     " tcp/1500-2500]}"), vpcId=VPC_ID)
    assert sorted((r.inputs["fromPort"], r.inputs["toPort"]) for r in plan.by_type(EGRESS_RULE)) == \
        [(80, 82), (1000, 2500)]


def test_networks_become_one_cidr_per_rule_with_exclusions_subtracted():
    plan = compile_text(spec("  a: {cidr: [172.16.1.0/24, 'fd00:1::/64']}",
                             "  - {from: a, to: partners, ports: [tcp/443]}",
                             "networks:\n  partners: {include: [10.0.0.0/8], exclude: [10.128.0.0/9]}\n"
                             "  v6: ['2001:db8::/32']"), vpcId=VPC_ID)
    assert [shape(r) for r in plan.by_type(EGRESS_RULE)] == [
        {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "10.0.0.0/9"}]


def test_a_network_never_covers_a_segment_cidr():
    # partners lists 10.0.0.0/8, but a and b hold 10.0.1.0/24 and 10.0.2.0/24: reaching them
    # takes a flow that names them
    plan = compile_text(spec("  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}",
                             "  - {from: a, to: partners, ports: [tcp/443]}",
                             "networks:\n  partners: [10.0.0.0/8]"), vpcId=VPC_ID, prefixLists=False)
    cidrs = [ipaddress.ip_network(r.inputs["cidrIpv4"]) for r in plan.by_type(EGRESS_RULE)]
    segments = [ipaddress.ip_network("10.0.1.0/24"), ipaddress.ip_network("10.0.2.0/24")]
    assert not any(c.overlaps(s) for c in cidrs for s in segments)
    total = sum(c.num_addresses for c in cidrs)
    assert total == 2**24 - 2 * 256


def test_a_cidr_inside_a_wider_rule_adds_no_rule():
    plan = compile_text(spec("  a: {cidr: 10.0.1.0/24}", "  - {from: [wide, corp], to: a, ports: [tcp/443]}",
                             "networks:\n  corp: [192.168.7.0/24]\n  wide: [192.168.0.0/16]"), vpcId=VPC_ID)
    got = [shape(r) for r in plan.by_type(INGRESS_RULE)]
    assert got == [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "192.168.0.0/16"}]
    assert plan.by_type(INGRESS_RULE)[0].inputs["tags"]["cloudfence:flows"] == "corp to a, wide to a"


def test_same_cidr_in_two_networks_is_written_once():
    plan = compile_text(spec(SHAPES, "  - {from: a, to: [n1, n2], ports: [tcp/80]}",
                             "networks:\n  n1: [192.168.0.0/24]\n  n2: [192.168.0.0/24]"), vpcId=VPC_ID)
    assert len(plan.by_type(EGRESS_RULE)) == 1  # AWS rejects duplicate rules


def test_icmp_is_written_only_for_its_own_family():
    plan = compile_text(spec("  a: {}\n  b: {cidr: 10.0.2.0/24}\n  c: {cidr: 10.0.3.0/24}",
                             "  - {from: a, to: internet, ports: [icmp, icmpv6]}\n"
                             "  - {from: b, to: [internet, c], ports: [icmp, icmpv6]}"), vpcId=VPC_ID,
                        vpcCidrs=["10.0.0.0/16", "fd00::/56"])
    assert sorted((r.inputs["ipProtocol"], "prefixListId" in r.inputs) for r in plan.by_type(EGRESS_RULE)
                  if r.inputs["securityGroupId"] == "${t-a.id}") == [("icmp", True), ("icmpv6", False)]
    # b and c hold IPv4 addresses only: ICMPv6 to them or from them is never written
    assert sorted(shape(r)["ipProtocol"] for r in plan.by_type(EGRESS_RULE)
                  if r.inputs["securityGroupId"] == "${t-b.id}") == ["icmp", "icmp"]


def test_self_flow_references_its_own_group():
    plan = compile_text(spec(SHAPES, "  - {from: a, to: a, ports: [tcp/22]}"), vpcId=VPC_ID)
    assert {(r.type, r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"])
            for r in rules(plan)} == {(INGRESS_RULE, "${t-a.id}", "${t-a.id}"),
                                      (EGRESS_RULE, "${t-a.id}", "${t-a.id}")}


def test_descriptions_use_only_characters_aws_accepts():
    text = spec(SHAPES, "  - {from: a, to: b, ports: [tcp/1], description: 'p\u00e9ople -> <b> \"x\"'}")
    (r, _) = sorted(rules(compile_text(text, vpcId=VPC_ID)), key=lambda r: r.type)
    assert re.fullmatch(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}", r.inputs["description"])


# ------------------------------------------------------------ network ACLs


def test_nacl_per_segment_subnet_with_standalone_entries():
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, "nacls": True})
    acls = plan.by_type(NETWORK_ACL)
    assert len(acls) == 6
    acl = plan.get("ai-inference-gateway-acl")
    assert acl.inputs["subnetIds"] == ["${ai-inference-gateway-10-20-1-0-24.id}"]
    assert "ingress" not in acl.inputs and "egress" not in acl.inputs
    entries = [e for e in plan.by_type(NETWORK_ACL_RULE)
               if e.inputs["networkAclId"] == "${ai-inference-gateway-acl.id}"]
    got = sorted((shape(e) for e in entries), key=str)
    want = sorted([
        # internet -> gateway 443 and its replies: after every other entry, deny the private
        # ranges, then allow 0.0.0.0/0
        *({"egress": egress, "protocol": "-1", "ruleAction": "deny", "cidrBlock": c}
          for egress in (False, True) for c in PRIVATE_V4),
        {"egress": False, "protocol": "6", "ruleAction": "allow", "cidrBlock": "0.0.0.0/0",
         "fromPort": 443, "toPort": 443},
        {"egress": True, "protocol": "6", "ruleAction": "allow", "cidrBlock": "0.0.0.0/0",
         "fromPort": 1024, "toPort": 65535},
        # gateway -> inference 80 and the replies coming back
        {"egress": True, "protocol": "6", "ruleAction": "allow", "cidrBlock": "10.20.2.0/24",
         "fromPort": 80, "toPort": 80},
        {"egress": False, "protocol": "6", "ruleAction": "allow", "cidrBlock": "10.20.2.0/24",
         "fromPort": 1024, "toPort": 65535},
        # monitoring -> gateway metrics and replies
        {"egress": False, "protocol": "6", "ruleAction": "allow", "cidrBlock": "10.20.6.0/24",
         "fromPort": 9090, "toPort": 9102},
    ], key=str)
    # @load-balancer -> gateway 443: the load balancer sits in the VPC outside every
    # segment's subnet; its replies and monitoring's (out 1024-65535) merge into one range
    # set, before the denies
    vpc = ipaddress.ip_network("10.20.0.0/16")
    subnets = [ipaddress.ip_network(f"10.20.{i}.0/24") for i in range(1, 7)]
    balancer: list[ipaddress.IPv4Network] = [vpc]
    for subnet in subnets:
        balancer = [part for net in balancer
                    for part in (net.address_exclude(subnet) if subnet.subnet_of(net) else [net])]
    want += [{"egress": False, "protocol": "6", "ruleAction": "allow", "cidrBlock": str(c),
              "fromPort": 443, "toPort": 443} for c in balancer]
    replies = ipaddress.collapse_addresses([*balancer, ipaddress.ip_network("10.20.6.0/24")])
    want += [{"egress": True, "protocol": "6", "ruleAction": "allow", "cidrBlock": str(c),
              "fromPort": 1024, "toPort": 65535} for c in replies]
    assert got == sorted(want, key=str)
    numbers = {(e.inputs["egress"], e.inputs["cidrBlock"], e.inputs["ruleAction"]): e.inputs["ruleNumber"]
               for e in entries}
    for egress in (False, True):
        denies = [n for (eg, _, action), n in numbers.items() if eg == egress and action == "deny"]
        assert numbers.get((egress, "10.20.6.0/24", "allow"), 0) < min(denies)
        assert numbers.get((egress, "10.20.0.0/24", "allow"), 0) < min(denies)
        assert max(denies) < numbers[(egress, "0.0.0.0/0", "allow")]


def test_nacl_rule_numbers_unique_per_direction_and_in_range():
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, "nacls": True})
    seen = set()
    for e in plan.by_type(NETWORK_ACL_RULE):
        key = (e.inputs["networkAclId"], e.inputs["egress"], e.inputs["ruleNumber"])
        assert key not in seen
        seen.add(key)
        assert 1 <= e.inputs["ruleNumber"] <= 32766


def test_nacl_icmp_entries_carry_type_and_code():
    plan = compile_text(spec("  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}",
                             "  - {from: a, to: b, ports: [icmp]}"), nacls=True)
    assert len(plan.by_type(NETWORK_ACL_RULE)) == 4
    for e in plan.by_type(NETWORK_ACL_RULE):
        assert (e.inputs["protocol"], e.inputs["icmpType"], e.inputs["icmpCode"]) == ("1", -1, -1)
        assert "fromPort" not in e.inputs


def test_nacl_self_flow_needs_entries_only_across_subnets():
    one = compile_text(spec("  a: {cidr: 10.0.1.0/24}", "  - {from: a, to: a, ports: [tcp/22]}"),
                       nacls=True)
    assert not one.by_type(NETWORK_ACL_RULE)  # traffic inside a subnet skips its NACL
    two = compile_text(spec("  a: {cidr: [10.0.1.0/24, 10.0.3.0/24]}",
                            "  - {from: a, to: a, ports: [tcp/22]}"), nacls=True)
    assert len(two.by_type(NETWORK_ACL_RULE)) == 8  # 2 cidrs x (request + reply) x 2 directions
    assert "t-a-acl-in-tcp-22-from-a-10-0-3-0-24" in {e.name for e in two.by_type(NETWORK_ACL_RULE)}
    assert two.get("t-a-acl").inputs["subnetIds"] == ["${t-a-10-0-1-0-24.id}", "${t-a-10-0-3-0-24.id}"]


# ------------------------------------------------------------ names


def test_every_logical_name_is_unique_and_bounded():
    plan = checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, "nacls": True})
    names = [r.name for r in plan.resources]
    assert len(names) == len(set(names))
    assert all(len(n) <= MAX_NAME for n in names)


def test_long_names_are_shortened_with_a_hash():
    long_a, long_b = "a" * 40, "b" * 40
    plan = compile_text(spec(f"  {long_a}: {{}}\n  {long_b}: {{}}",
                             f"  - {{from: {long_a}, to: {long_b}, ports: [tcp/8000-8002]}}")
                        .replace("name: t", "name: " + "s" * 40), vpcId=VPC_ID)
    names = [r.name for r in rules(plan)]
    assert len(names) == 2 and all(len(n) <= MAX_NAME for n in names)
    assert all(re.search(r"-[0-9a-f]{8}$", n) for n in names)
    again = compile_text(spec(f"  {long_a}: {{}}\n  {long_b}: {{}}",
                              f"  - {{from: {long_a}, to: {long_b}, ports: [tcp/8000-8002]}}")
                         .replace("name: t", "name: " + "s" * 40), vpcId=VPC_ID)
    assert names == [r.name for r in rules(again)]


def test_clashing_names_get_hash_suffixes():
    # segment "a-acl" has the group name the NACL of segment "a" would take
    plan = compile_text(spec("  a: {cidr: 10.0.1.0/24}\n  a-acl: {cidr: 10.0.2.0/24}", "  []"), nacls=True)
    assert plan.get("t-a-acl").type == SECURITY_GROUP  # groups keep their names
    (acl_a,) = [a for a in plan.by_type(NETWORK_ACL) if a.inputs["tags"]["cloudfence:segment"] == "a"]
    assert re.fullmatch(r"t-a-acl-[0-9a-f]{8}", acl_a.name)


def test_editing_one_flow_renames_only_its_rules():
    text = EXAMPLE.read_text()
    edited = text.replace("ports: [qdrant]\n    description: retrieval",
                          "ports: [tcp/6333]\n    description: retrieval")
    assert edited != text
    p = "ai-inference-"
    for settings, acl in (({}, False), ({"nacls": True}, True)):
        before = checked_plan(AWS, parse_intent(text), {**AWS_EXAMPLE, **settings})
        after = checked_plan(AWS, parse_intent(edited), {**AWS_EXAMPLE, **settings})
        old, new = {r.name for r in before.resources}, {r.name for r in after.resources}
        gone = {p + "inference-out-tcp-6333-6334-to-vector-db",
                p + "vector-db-in-tcp-6333-6334-from-inference"}
        came = {p + "inference-out-tcp-6333-to-vector-db", p + "vector-db-in-tcp-6333-from-inference"}
        if acl:
            gone |= {p + "inference-acl-out-tcp-6333-6334-to-vector-db",
                     p + "vector-db-acl-in-tcp-6333-6334-from-inference"}
            came |= {p + "inference-acl-out-tcp-6333-to-vector-db",
                     p + "vector-db-acl-in-tcp-6333-from-inference"}
        assert old - new == gone
        assert new - old == came
        for name in old & new:  # everything else is untouched, rule numbers included
            assert before.get(name).inputs == after.get(name).inputs, name


def test_compile_is_deterministic():
    intent = load_intent(EXAMPLE)
    first = checked_plan(AWS, intent, {**AWS_EXAMPLE, "nacls": True}).dumps()
    assert all(checked_plan(AWS, load_intent(EXAMPLE), {**AWS_EXAMPLE, "nacls": True}).dumps() == first
               for _ in range(3))
