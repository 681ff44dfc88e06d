"""AWS, what a spec means (DESIGN section 3): segments meet only through flows,
`internet` is public space less the VPC and egressIps, and the check refuses what
the rules cannot close. One regression test per case of the verification issue."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cloudfence.addresses import GLOBAL_V6, AddressSet
from cloudfence.errors import CheckError
from cloudfence.intent import parse_intent
from cloudfence.plan import Plan, Resource, ref
from cloudfence.provider import checked_plan, find_problems, validated
from cloudfence.providers.aws.compile import compile_plan
from cloudfence.providers.aws.evaluate import hidden_region
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.wire import EGRESS_RULE, INGRESS_RULE, PREFIX_LIST, SECURITY_GROUP
from cloudfence.verify import verify, verify_plan

AWS = AwsProvider()
VPC_ID = "vpc-0abc1234def567890"
KNOWN = {"vpcId": VPC_ID, "vpcCidrs": ["10.20.0.0/16", "2600:1f18:aa:bb00::/56"]}


def spec(segments: str, flows: str, extra: str = "") -> str:
    return f"version: 1\nname: t\nsegments:\n{segments}\n{extra}\nflows:\n{flows}\n"


def problems(text: str, **settings) -> list[str]:
    return [str(p) for p in find_problems(AWS, parse_intent(text, "segments.yaml"), settings)]


def unchecked(text: str, **settings) -> Plan:
    """The plan compile writes when nobody ran check (a hand-made or old plan)."""
    plan = compile_plan(parse_intent(text), validated(AWS, settings))  # type: ignore[arg-type]
    return replace(plan, settings=validated(AWS, settings).to_json())


def found(text: str, plan: Plan, checked: bool = False) -> set[tuple[str, str, str, str]]:
    v = verify_plan(parse_intent(text), AWS, plan, checked=checked)
    return {(c.kind, c.source.split(" (")[0], c.destination.split(" (")[0], c.ports)
            for c in v.counterexamples}


def named(plan: Plan, segment: str) -> AddressSet:
    """Every address a segment's rules name, directly or through a prefix list."""
    lists = {pl.name: [e["cidr"] for e in pl.inputs["entries"]] for pl in plan.by_type(PREFIX_LIST)}
    groups = {g.name for g in plan.by_type(SECURITY_GROUP)
              if g.inputs["tags"]["cloudfence:segment"] == segment}
    cidrs: list[str] = []
    for r in [*plan.by_type(INGRESS_RULE), *plan.by_type(EGRESS_RULE)]:
        if r.inputs["securityGroupId"][2:-4] not in groups:
            continue
        cidrs += [r.inputs[k] for k in ("cidrIpv4", "cidrIpv6") if k in r.inputs]
        if "prefixListId" in r.inputs:
            cidrs += lists[r.inputs["prefixListId"][2:-4]]
    return AddressSet.from_cidrs(cidrs)


# ------------------------------------------------------------ internet is no bridge

BRIDGE = spec("  web: {}\n  api: {}",
              "  - {from: internet, to: web, ports: [tcp/443]}\n"
              "  - {from: web, to: internet, ports: [tcp/443]}\n"
              "  - {from: api, to: internet, ports: [tcp/443]}")


def test_internet_web_api_on_443_lets_no_segment_reach_web():
    for settings in ({}, KNOWN):
        plan = checked_plan(AWS, parse_intent(BRIDGE), settings)
        vpc = AddressSet.from_cidrs(["10.0.0.0/16"] if not settings else settings["vpcCidrs"])
        for seg in ("web", "api"):
            assert not named(plan, seg) & vpc  # no rule toward internet reaches the VPC
        assert verify(parse_intent(BRIDGE), AWS, settings).equivalent


def test_internet_written_as_everything_is_caught_as_the_bridge():
    # the raw listing 0.0.0.0/0 (as before internet meant public space) lets api and web reach web
    plan = checked_plan(AWS, parse_intent(BRIDGE), KNOWN)
    wide = []
    for r in plan.resources:
        if "prefixListId" in r.inputs or "cidrIpv6" in r.inputs:
            family = "cidrIpv4" if "prefixListId" in r.inputs and "ipv4" in r.inputs["prefixListId"] \
                else "cidrIpv6"
            inputs = {k: v for k, v in r.inputs.items() if k not in ("prefixListId", "cidrIpv6")}
            everything = "0.0.0.0/0" if family == "cidrIpv4" else "::/0"
            r = Resource(r.type, r.name, {**inputs, family: everything})
        wide.append(r)
    diffs = found(BRIDGE, replace(plan, resources=tuple(wide)))
    assert ("extra", "api", "web", "443") in diffs and ("extra", "web", "web", "443") in diffs


def test_an_existing_vpc_without_its_cidrs_is_refused_where_ipv6_rules_face_internet():
    found_ = problems(BRIDGE, vpcId=VPC_ID)
    assert len(found_) == 3 and all("settings.vpcCidrs" in p for p in found_)
    assert found_[0].startswith("segments.yaml:10: flows[2] (api -> internet): 'api' may use IPv6, and "
                                "the VPC's CIDRs are unknown")
    v4 = BRIDGE.replace("web: {}", "web: {cidr: 10.20.1.0/24}").replace("api: {}",
                                                                       "api: {cidr: 10.20.2.0/24}")
    assert problems(v4, vpcId=VPC_ID) == []  # IPv4 only: the private ranges are never internet


def test_a_plan_without_the_vpc_cidrs_judges_segments_anywhere_in_global_ipv6():
    intent = parse_intent(BRIDGE)
    plan = replace(unchecked(BRIDGE, **KNOWN), settings={"vpcId": VPC_ID})
    assert AddressSet.from_cidrs([GLOBAL_V6]).issubset(hidden_region(plan, intent))
    # then the IPv6 rules toward internet may reach where web is: the plan's own settings
    # go through check as --set would, and check refuses them naming the setting
    with pytest.raises(CheckError, match="vpcCidrs"):
        found(BRIDGE, plan)


def test_egress_ips_are_not_internet():
    text = spec("  web: {cidr: 10.20.1.0/24}", "  - {from: internet, to: web, ports: [tcp/443]}")
    plan = checked_plan(AWS, parse_intent(text), {"egressIps": ["203.0.113.10/32"]})
    assert not named(plan, "web") & AddressSet.from_cidrs(["203.0.113.10/32"])
    assert verify(parse_intent(text), AWS, {"egressIps": ["203.0.113.10/32"]}).equivalent


# ------------------------------------------------------------ segments without a cidr

INTERNAL = spec("  batch: {}\n  payments: {}",
                "  - {from: batch, to: internal, ports: [tcp/443]}\n"
                "  - {from: internal, to: payments, ports: [tcp/443]}",
                "networks:\n  internal: [10.0.0.0/8]")


def test_batch_to_internal_and_internal_to_payments_is_refused_naming_both_flows_and_the_fix():
    (p,) = problems(INTERNAL)
    assert p == ("segments.yaml:9: flows[0] (batch -> internal): with flows[1] (internal -> payments), "
                 "'batch' could reach 'payments' on tcp/443 through 'internal', which overlaps where "
                 "segments without a cidr may be on aws: give 'batch' or 'payments' a cidr, set "
                 "settings.vpcCidr (the internal space), or narrow the network")
    assert "settings.vpcCidrs" in problems(INTERNAL, vpcId=VPC_ID)[0]
    assert problems(INTERNAL, vpcId=VPC_ID, vpcCidrs=["172.31.0.0/16"]) == []  # the VPC is elsewhere
    with_cidr = INTERNAL.replace("payments: {}", "payments: {cidr: 10.0.5.0/24}")
    assert problems(with_cidr) == []
    assert verify(parse_intent(with_cidr), AWS, {}).equivalent


def test_the_bridge_is_caught_by_verify_when_check_is_bypassed():
    # verify judges a plan file through check first; bypassed, its model still sees the bridge
    with pytest.raises(CheckError, match="could reach 'payments'"):
        found(INTERNAL, unchecked(INTERNAL))
    assert ("extra", "batch", "payments", "443") in found(INTERNAL, unchecked(INTERNAL), checked=True)


def test_a_segment_reaching_itself_through_a_network_is_refused():
    text = spec("  jobs: {}", "  - {from: jobs, to: lan, ports: [tcp/22]}\n"
                              "  - {from: lan, to: jobs, ports: [tcp/22]}", "networks:\n  lan: [10.0.0.0/8]")
    (p,) = problems(text)
    assert "'jobs' could reach itself on tcp/22" in p


# ------------------------------------------------------------ families

def test_an_ipv4_only_to_ipv6_only_flow_is_refused():
    text = spec("  a: {cidr: 10.20.1.0/24}\n  b: {cidr: '2600:1f18:aa:bb01::/64'}",
                "  - {from: a, to: b, ports: [tcp/443]}")
    (p,) = problems(text, **KNOWN)
    assert p == ("segments.yaml:8: flows[0] (a -> b): 'a' and 'b' share no address family (one is IPv4 "
                 "only, the other IPv6 only): no packet can pass; give both a cidr of one family")


def test_segment_cidrs_must_lie_in_the_vpc_cidrs():
    text = spec("  a: {cidr: 10.99.1.0/24}", "  []")
    (p,) = problems(text, **KNOWN)
    assert p.startswith("segments.yaml:4: segments.a.cidr: 10.99.1.0/24 is outside the VPC's CIDRs "
                        "(10.20.0.0/16, 2600:1f18:aa:bb00::/56, settings.vpcCidrs)")


# ------------------------------------------------------------ exports

def test_swapped_exports_are_caught():
    text = spec("  a: {cidr: 10.0.1.0/24}\n  b: {cidr: 10.0.2.0/24}", "  - {from: a, to: b, ports: [tcp/80]}")
    plan = checked_plan(AWS, parse_intent(text), {})
    swapped = replace(plan, exports={"a": plan.exports["b"], "b": plan.exports["a"]})
    v = verify_plan(parse_intent(text), AWS, swapped)
    assert not v.equivalent
    assert {(c.kind, c.source, c.destination) for c in v.counterexamples} == {
        ("export", seg, f"exports.{seg}.{key}") for seg in ("a", "b")
        for key in ("securityGroupId", "securityGroupIds", "subnetId", "subnetIds")}
    assert verify_plan(parse_intent(text), AWS, plan).equivalent


def test_an_export_missing_an_extra_group_is_caught():
    ports = "[" + ", ".join(f"tcp/{2 * i + 1}" for i in range(61)) + "]"
    text = spec("  db: {cidr: 10.0.1.0/24}", f"  - {{from: corp, to: db, ports: {ports}}}",
                "networks:\n  corp: [192.168.0.0/16]")
    plan = checked_plan(AWS, parse_intent(text), {})
    assert plan.exports["db"]["securityGroupIds"] == [ref("t-db"), ref("t-db-2")]
    assert verify_plan(parse_intent(text), AWS, plan).equivalent  # the union of both groups
    short = replace(plan, exports={"db": {**plan.exports["db"], "securityGroupIds": [ref("t-db")]}})
    (c,) = verify_plan(parse_intent(text), AWS, short).counterexamples
    assert (c.kind, c.destination) == ("export", "exports.db.securityGroupIds")


# ------------------------------------------------------------ prefix lists are read exactly

def test_a_prefix_list_entry_widened_is_caught_and_one_outside_the_plan_reads_wide():
    text = spec("  web: {cidr: 10.20.1.0/24}", "  - {from: internet, to: web, ports: [tcp/443]}")
    plan = checked_plan(AWS, parse_intent(text), {})
    (pl,) = plan.by_type(PREFIX_LIST)
    entries = [{"cidr": "0.0.0.0/4"} if e["cidr"] == "0.0.0.0/5" else e for e in pl.inputs["entries"]]
    wider = replace(plan, resources=tuple(Resource(r.type, r.name, {**r.inputs, "entries": entries})
                                          if r is pl else r for r in plan.resources))
    (c,) = verify_plan(parse_intent(text), AWS, wider).counterexamples
    assert (c.kind, c.destination.split(" (")[0], c.ports) == ("extra", "web", "443")
    source = ipaddress.ip_address(c.source.split("(")[1].split(" ")[0])
    assert source in ipaddress.ip_network("0.0.0.0/4") and source not in ipaddress.ip_network("0.0.0.0/5")
    literal = replace(plan, resources=tuple(
        Resource(r.type, r.name, {**r.inputs, "prefixListId": "pl-0123456789abcdef0"})
        if "prefixListId" in r.inputs else r for r in plan.resources))
    assert any(c.kind == "extra" for c in verify_plan(parse_intent(text), AWS, literal).counterexamples)


# ------------------------------------------------------------ the example, end to end

def test_the_example_plan_json_verifies_with_its_settings(tmp_path: Path):
    root = Path(__file__).resolve().parents[1]
    example = root / "stacks" / "ai-inference" / "segments.yaml"
    cli = [sys.executable, "-m", "cloudfence.cli"]
    out = subprocess.run([*cli, "plan", str(example), "-p", "aws", "--set", "region=us-east-1",
                          "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["settings"]["prefixLists"] is True
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    ok = subprocess.run([*cli, "verify", str(example), "-p", "aws", "--plan", str(path)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    exports = doc["exports"]
    exports["gateway"], exports["inference"] = exports["inference"], exports["gateway"]
    path.write_text(json.dumps(doc))
    bad = subprocess.run([*cli, "verify", str(example), "-p", "aws", "--plan", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "exports.gateway.securityGroupId" in bad.stdout
