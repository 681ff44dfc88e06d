"""AWS provider, check side: settings errors, what AWS cannot express, and
quotas, each failing before anything is built with a message naming the place."""

from __future__ import annotations

import dataclasses

import pytest

from cloudfence.errors import CheckError
from cloudfence.intent import parse_intent
from cloudfence.ports import FULL, PortSet
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.aws.provider import AwsProvider

AWS = AwsProvider()


def spec(segments: str, flows: str = "  []", extra: str = "") -> str:
    return f"version: 1\nname: t\nsegments:\n{segments}\n{extra}\nflows:\n{flows}\n"


OK = spec("  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}", "  - {from: a, to: b, ports: [tcp/80]}")


def problems(text: str, **settings) -> list[str]:
    return [str(p) for p in find_problems(AWS, parse_intent(text, "segments.yaml"), settings)]


def test_example_settings_pass():
    assert problems(OK) == []
    assert problems(OK, nacls=True, vpcCidr="10.0.0.0/20", region="us-east-1",
                    rulesPerSecurityGroup=100, rulesPerNetworkAcl=40) == []
    assert problems(OK, vpcId="vpc-0abc1234def567890") == []
    assert problems(OK, vpcId="vpc-0abc1234") == []


# ------------------------------------------------------------ settings


@pytest.mark.parametrize("settings, where, says", [
    ({"vpcId": "vpc-0abc"}, "settings.vpcId", "is not a VPC id"),
    ({"vpcId": "VPC-0ABC1234"}, "settings.vpcId", "is not a VPC id"),
    ({"vpcId": 12345678}, "settings.vpcId", "is not a VPC id"),
    ({"vpcCidr": "10.0.0.1/16"}, "settings.vpcCidr", "did you mean 10.0.0.0/16"),
    ({"vpcCidr": "10.0.0.0/8"}, "settings.vpcCidr", "/16 to /28"),
    ({"vpcCidr": "fd00::/56"}, "settings.vpcCidr", "IPv6"),
    ({"vpcCidr": "banana"}, "settings.vpcCidr", "is not a CIDR"),
    ({"vpcCidr": 10}, "settings.vpcCidr", "expected an IPv4 CIDR"),
    ({"vpcId": "vpc-0abc1234", "vpcCidr": "10.0.0.0/16"}, "settings.vpcCidr", "remove settings.vpcId"),
    ({"nacls": "yes"}, "settings.nacls", "expected true or false"),
    ({"nacls": True, "vpcId": "vpc-0abc1234"}, "settings.nacls", "remove vpcId"),
    ({"rulesPerSecurityGroup": "60"}, "settings.rulesPerSecurityGroup", "whole number"),
    ({"rulesPerSecurityGroup": True}, "settings.rulesPerSecurityGroup", "whole number"),
    ({"rulesPerSecurityGroup": 0}, "settings.rulesPerSecurityGroup", "outside 1-1000"),
    ({"rulesPerNetworkAcl": 41}, "settings.rulesPerNetworkAcl", "outside 2-40"),
    ({"region": "US-EAST-1"}, "settings.region", "not an AWS region name"),
    ({"region": "useast1"}, "settings.region", "not an AWS region name"),
    ({"vpcID": "vpc-0abc1234"}, "settings.vpcID", "did you mean 'vpcId'"),
])
def test_settings_errors_name_the_key(settings, where, says):
    found = problems(OK, **settings)
    assert any(p.startswith(f"{where}: ") and says in p for p in found), found


def test_a_raised_rule_quota_needs_no_groups_per_interface():
    # the default of five groups gives way (1,000 rules per interface in all); a value
    # written that contradicts the quota is refused, naming both keys
    assert problems(OK, rulesPerSecurityGroup=1000) == []
    (p,) = problems(OK, rulesPerSecurityGroup=1000, securityGroupsPerInterface=2)
    assert p.startswith("settings.securityGroupsPerInterface: 1000 rules per group x 2 groups")
    assert "settings.rulesPerSecurityGroup" in p


def test_settings_must_be_a_mapping():
    found = [str(p) for p in find_problems(AWS, parse_intent(OK), ["vpcId"])]  # type: ignore[arg-type]
    assert found == ["settings: expected a mapping of aws settings, got ['vpcId']"]


def test_compile_refuses_bad_settings_with_a_check_error():
    with pytest.raises(CheckError) as err:
        checked_plan(AWS, parse_intent(OK), {"vpcId": "vpc-xyz"})
    assert "settings.vpcId" in str(err.value)


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1",
                                    "cn-northwest-1", "il-central-1"])
def test_real_region_names_pass(region):
    assert problems(OK, region=region) == []


# ------------------------------------------------------------ what AWS cannot express


def test_sctp_with_a_port_restriction_names_the_flow():
    text = spec("  a: {}\n  b: {}", "  - {from: a, to: b, ports: [tcp/80]}\n"
                "  - {from: b, to: a, ports: [sctp/9899]}")
    (p,) = problems(text, vpcId="vpc-0abc1234")
    assert p.startswith("segments.yaml:9: flows[1] (b -> a): AWS cannot restrict SCTP ports")
    assert problems(text.replace("sctp/9899", "sctp/0-65535"), vpcId="vpc-0abc1234") == []
    assert problems(text.replace("sctp/9899", "any"), vpcId="vpc-0abc1234") == []


def test_other_protocols_alone_cannot_be_expressed():
    intent = parse_intent(spec("  a: {}\n  b: {}", "  - {from: a, to: b, ports: [tcp/80]}"))
    flow = dataclasses.replace(intent.flows[0], ports=PortSet({"other": FULL}))
    odd = dataclasses.replace(intent, flows=(flow,))
    (p,) = [str(x) for x in find_problems(AWS, odd, {"vpcId": "vpc-0abc1234"})]
    assert "aws cannot express other" in p and "a -> b" in p


def test_platform_endpoints_are_unknown_to_aws():
    (p,) = problems(spec("  a: {}", "  - {from: a, to: '@cluster-dns', ports: [udp/53]}"),
                    vpcId="vpc-0abc1234")
    assert ("platform endpoint '@cluster-dns' is not known to aws "
            "(it knows: @load-balancer, @object-storage)") in p


# ------------------------------------------------------------ network mode


def test_segments_spanning_several_16s_need_vpc_cidr():
    text = spec("  a: {cidr: 10.1.0.0/24}\n  b: {cidr: 10.2.0.0/24}")
    (p,) = problems(text)
    assert p.startswith("settings.vpcCidr: the segments' IPv4 cidrs (10.1.0.0/24 of 'a', "
                        "10.2.0.0/24 of 'b') do not fit in one /16")
    assert problems(text, vpcId="vpc-0abc1234") == []


def test_segment_outside_the_vpc_cidr():
    (p,) = problems(OK, vpcCidr="10.0.1.0/24")
    assert p == ("segments.yaml:5: segments.b.cidr: 10.0.2.0/24 is outside the VPC CIDR 10.0.1.0/24 "
                 "(settings.vpcCidr): move the segment or set settings.vpcCidr to a range that holds "
                 "every segment")


def test_ipv6_segment_cidr_needs_an_existing_vpc():
    text = spec("  a: {cidr: [10.0.1.0/24, 'fd00:1::/64']}")
    (p,) = problems(text)
    assert "segments.a.cidr: IPv6 cidr fd00:1::/64 cannot become a subnet" in p
    assert problems(text, vpcId="vpc-0abc1234") == []


@pytest.mark.parametrize("cidr", ["10.0.0.0/15", "10.0.0.0/29"])
def test_subnet_sizes_are_checked(cidr):
    (p,) = problems(spec(f"  a: {{cidr: {cidr}}}"), vpcCidr="10.0.0.0/16") or [""]
    assert "AWS subnets are /16 to /28" in p or "outside the VPC CIDR" in p


# ------------------------------------------------------------ quotas


def many_ports(n: int) -> str:
    return "[" + ", ".join(f"tcp/{2 * i + 1}" for i in range(n)) + "]"


def test_61_ingress_rules_spread_over_two_groups_and_over_the_groups_fail_before_anything_is_built():
    text = spec("  db: {}", f"  - {{from: corp, to: db, ports: {many_ports(61)}}}",
                "networks:\n  corp: [192.168.0.0/16]")
    assert problems(text, vpcId="vpc-0abc1234") == []  # a second group of the segment holds the 61st
    (p,) = problems(text, vpcId="vpc-0abc1234", securityGroupsPerInterface=1)
    assert p == ("segments.yaml:4: segments.db: its security group rules weigh 61 inbound IPv4 (corp: 1 CIDR "
                 "x 61 port ranges), more than 1 group of 60 rules per direction and IP family can hold "
                 "(settings.securityGroupsPerInterface, settings.rulesPerSecurityGroup; each CIDR counts "
                 "once per port range, a prefix list as its max entries, a rule naming a segment once per "
                 "family): merge the ports of flows to wide networks into fewer ranges, narrow the "
                 "networks, raise settings.rulesPerSecurityGroup, or let members attach more groups with "
                 "settings.securityGroupsPerInterface (AWS allows up to 16, and rules per group x groups "
                 "per interface up to 1,000)")
    with pytest.raises(CheckError):
        checked_plan(AWS, parse_intent(text), {"vpcId": "vpc-0abc1234", "securityGroupsPerInterface": 1})
    one = {"vpcId": "vpc-0abc1234", "securityGroupsPerInterface": 1}
    assert problems(text.replace(many_ports(61), many_ports(60)), **one) == []
    assert problems(text, rulesPerSecurityGroup=61, **one) == []


def test_five_groups_of_60_is_the_default_limit():
    text = spec("  db: {}", f"  - {{from: corp, to: db, ports: {many_ports(301)}}}",
                "networks:\n  corp: [192.168.0.0/16]")
    (p,) = problems(text, vpcId="vpc-0abc1234")
    assert "weigh 301 inbound IPv4 (corp: 1 CIDR x 301 port ranges), more than 5 groups of 60" in p
    assert problems(text.replace(many_ports(301), many_ports(300)), vpcId="vpc-0abc1234") == []
    assert problems(text, vpcId="vpc-0abc1234", securityGroupsPerInterface=6) == []


def test_rules_per_group_times_groups_per_interface_is_at_most_1000():
    (p,) = problems(OK, rulesPerSecurityGroup=250, securityGroupsPerInterface=5)
    assert p == ("settings.securityGroupsPerInterface: 250 rules per group x 5 groups per interface is "
                 "over the 1,000 AWS allows: set it to at most 4, or lower settings.rulesPerSecurityGroup")
    assert problems(OK, rulesPerSecurityGroup=250) == []  # unset: as many groups as AWS then allows


def test_group_references_count_for_both_families():
    # 30 ports to a peer group (both families) + 31 to an IPv6 network = 61 IPv6 egress rules
    text = spec("  a: {}\n  b: {}", f"  - {{from: a, to: b, ports: {many_ports(30)}}}\n"
                f"  - {{from: a, to: v6, ports: {many_ports(31)}}}", "networks:\n  v6: ['2001:db8::/32']")
    options = {"vpcId": "vpc-0abc1234", "vpcCidrs": ["10.0.0.0/16"], "securityGroupsPerInterface": 1}
    (p,) = problems(text, **options)
    assert "segments.a: its security group rules weigh 61 outbound IPv6 (v6: 1 CIDR x 31 port ranges; " \
           "30 rules naming segments)" in p


def test_quota_counts_rules_after_merging():
    # 100 literal ports that merge into one range are one rule
    text = spec("  db: {}", "  - {from: corp, to: db, ports: [" + ", ".join(
        f"tcp/{i}" for i in range(1000, 1100)) + "]}", "networks:\n  corp: [192.168.0.0/16]")
    assert problems(text, vpcId="vpc-0abc1234") == []


# ------------------------------------------------------------ network ACLs


def test_nacl_flow_with_a_peer_segment_without_cidr_names_the_flow():
    text = spec("  a: {cidr: 10.0.1.0/24}\n  pods: {}", "  - {from: pods, to: a, ports: [tcp/80]}")
    (p,) = problems(text, nacls=True)
    assert p.startswith("segments.yaml:8: flows[0] (pods -> a): network ACLs name peers by address, "
                        "and segment 'pods' has no cidr")
    assert problems(text) == []  # security groups name it by identity


def test_nacl_quota_counts_replies_and_names_the_segment():
    # 10 ports to 2 peers: 20 outbound requests (+ 2 reply entries inbound) > 19 usable
    text = spec("  a: {cidr: 10.0.1.0/24}", f"  - {{from: a, to: [n1, n2], ports: {many_ports(10)}}}",
                "networks:\n  n1: [192.168.0.0/24]\n  n2: [172.16.0.0/24]")
    (p,) = problems(text, nacls=True)
    assert p == ("segments.yaml:4: segments.a: its network ACL needs 20 outbound IPv4 rules (return "
                 "traffic included), but the quota of 20 per direction and IP family leaves 19 beside "
                 "the default deny: raise settings.rulesPerNetworkAcl (AWS allows up to 40), merge "
                 "flows, or set nacls: false")
    assert problems(text, nacls=True, rulesPerNetworkAcl=21) == []
    assert problems(text) == []


def test_nacl_replies_count_on_the_other_direction():
    # 19 single-port flows in from 19 networks: 19 inbound entries, 19 reply entries outbound ...
    nets = "\n".join(f"  n{i}: [192.168.{2 * i}.0/24]" for i in range(19))  # never merge
    text = spec("  a: {cidr: 10.0.1.0/24}",
                "  - {from: [" + ", ".join(f"n{i}" for i in range(19)) + "], to: a, ports: [tcp/443]}",
                "networks:\n" + nets)
    assert problems(text, nacls=True) == []
    # ... and one more network exceeds both directions
    text20 = text.replace("n18], to", "n18, n19], to").replace(
        "  n18: [192.168.36.0/24]", "  n18: [192.168.36.0/24]\n  n19: [192.168.100.0/24]")
    found = problems(text20, nacls=True)
    assert [p.split(": ")[2].split(" (")[0] for p in found] == [
        "its network ACL needs 20 inbound IPv4 rules", "its network ACL needs 20 outbound IPv4 rules"]


def test_a_listener_with_an_existing_vpc_of_unknown_cidrs_asks_for_them():
    # the listener is written for both families: the VPC's IPv6 prefix must be left out
    text = ("version: 1\nname: t\nsegments:\n  web: {cidr: 10.0.1.0/24}\nflows:\n"
            "  - {from: internet, to: '@load-balancer', ports: [tcp/443]}\n"
            "  - {from: '@load-balancer', to: web, ports: [tcp/8080]}\n")
    (p,) = problems(text, vpcId="vpc-0123456789abcdef0")
    assert p.startswith("segments.yaml:6: flows[0] (internet -> @load-balancer): '@load-balancer' may use "
                        "IPv6, and the VPC's CIDRs are unknown")
    assert "settings.vpcCidrs" in p and "give '@load-balancer'" not in p
    assert problems(text, vpcId="vpc-0123456789abcdef0", vpcCidrs=["10.0.0.0/16"]) == []
