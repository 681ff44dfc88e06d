"""GCP provider, compile and check: what the plan holds (golden files with
network tags and service accounts, rule shapes, priorities, names) and what
check refuses, for the example and small crafted specs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cloudfence.errors import CheckError
from cloudfence.intent import load_intent, parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.gcp.provider import GcpProvider
from cloudfence.providers.gcp.wire import FIREWALL, NETWORK, SUBNETWORK
from tests.goldens import assert_golden

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "stacks" / "ai-inference" / "segments.yaml"
GOLDEN = ROOT / "tests" / "golden" / "gcp"
GCP = GcpProvider()
INTENT = load_intent(EXAMPLE)
NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
EXISTING = {"network": "prod"}
ACCOUNTS = {"network": "projects/ai-inference-prod/global/networks/prod", "identity": "serviceAccount",
            "serviceAccounts": {s: f"{s}@ai-inference-prod.iam.gserviceaccount.com" for s in INTENT.segments}}


def spec(segments: str, flows: str, extra: str = "") -> str:
    return f"version: 1\nname: t\nsegments:\n{segments}\n{extra}\nflows:\n{flows}\n"


def compile_text(text: str, **settings) -> Plan:
    return checked_plan(GCP, parse_intent(text), settings or EXISTING)


def problems(text: str, **settings) -> list[str]:
    return [f"{p.where}: {p.message}" for p in find_problems(GCP, parse_intent(text), settings or EXISTING)]


def firewalls(plan: Plan) -> dict[str, dict]:
    return {r.name: r.inputs for r in plan.by_type(FIREWALL)}


TWO = "  a: {cidr: 10.1.0.0/24}\n  b: {cidr: 10.2.0.0/24}"


# ------------------------------------------------------------ the example


@pytest.mark.parametrize("variant, settings", [("ai-inference", {"region": "us-central1"}),
                                               ("ai-inference-service-accounts", ACCOUNTS)])
def test_example_plan_matches_golden_file(variant, settings):
    plan = checked_plan(GCP, INTENT, settings)
    text = json.dumps(plan.to_json(), indent=2) + "\n"
    assert_golden(GOLDEN / f"{variant}.json", text, "tests/test_gcp_compile.py")


def test_network_mode_creates_a_custom_mode_network_and_a_subnetwork_per_segment():
    plan = checked_plan(GCP, INTENT, {"region": "us-central1", "project": "ai-inference-prod"})
    (network,) = plan.by_type(NETWORK)
    assert network.inputs == {"autoCreateSubnetworks": False, "project": "ai-inference-prod",
                              "description": "cloudfence ai-inference: one subnetwork per segment"}
    subnets = {r.inputs["ipCidrRange"]: r.inputs for r in plan.by_type(SUBNETWORK)}
    assert sorted(subnets) == sorted(str(c) for s in INTENT.segments.values() for c in s.cidrs)
    assert {s["region"] for s in subnets.values()} == {"us-central1"}
    assert {s["network"] for s in subnets.values()} == {"${ai-inference.id}"}
    assert {r["network"] for r in firewalls(plan).values()} == {"${ai-inference.id}"}
    assert plan.exports["inference"] == {"networkTag": "ai-inference-inference",
                                         "network": "${ai-inference.id}",
                                         "subnetwork": "${ai-inference-inference.id}",
                                         "subnetworks": ["${ai-inference-inference.id}"]}


def test_every_segment_has_deny_all_rules_below_its_allows_in_both_directions_and_families():
    plan = checked_plan(GCP, INTENT, {**EXISTING, "priority": 900})
    fw = firewalls(plan)
    for seg in INTENT.segments:
        tag = f"ai-inference-{seg}"
        mine = [r for r in fw.values() if r["targetTags"] == [tag]]
        denies = {(r["direction"], (r.get("sourceRanges") or r.get("destinationRanges"))[0])
                  for r in mine if "denies" in r}
        assert denies == {(d, c) for d in ("INGRESS", "EGRESS") for c in ("0.0.0.0/0", "::/0")}
        assert all(r["denies"] == [{"protocol": "all"}] and r["priority"] == 901
                   for r in mine if "denies" in r)
        assert all(r["priority"] == 900 for r in mine if "allows" in r)


def test_ingress_names_segments_by_tag_and_networks_by_ranges_egress_by_ranges_only():
    fw = firewalls(checked_plan(GCP, INTENT, EXISTING))
    into = fw["ai-inference-vector-db-in-inference"]
    assert into["sourceTags"] == ["ai-inference-inference"]
    assert into["targetTags"] == ["ai-inference-vector-db"]
    assert into["allows"] == [{"protocol": "tcp", "ports": ["6333-6334"]}]
    assert "sourceRanges" not in into
    vpn = fw["ai-inference-vector-db-in-corp-vpn"]
    assert vpn["sourceRanges"] == ["10.200.0.0/16"] and "sourceTags" not in vpn
    out = fw["ai-inference-inference-out-vector-db"]
    assert out["direction"] == "EGRESS" and out["destinationRanges"] == ["10.20.3.0/24"]
    assert not any("destinationTags" in r or ("sourceTags" in r and r["direction"] == "EGRESS")
                   for r in fw.values())


def test_service_accounts_are_never_mixed_with_tags():
    fw = firewalls(checked_plan(GCP, INTENT, ACCOUNTS))
    assert not any("targetTags" in r or "sourceTags" in r for r in fw.values())
    into = fw["ai-inference-vector-db-in-inference"]
    assert into["sourceServiceAccounts"] == ["inference@ai-inference-prod.iam.gserviceaccount.com"]
    assert into["targetServiceAccounts"] == ["vector-db@ai-inference-prod.iam.gserviceaccount.com"]


def test_internet_is_compiled_exactly_as_public_space_less_egress_ips_and_internal_space():
    text = spec("  web: {cidr: [10.1.0.0/24, 'fd00:1::/64']}",
                "  - {from: internet, to: web, ports: [tcp/443]}")
    fw = firewalls(compile_text(text, network="prod", egressIps=["203.0.113.7/32"],
                                subnetworkCidrs=["10.0.0.0/8", "2600:1900:4000::/44"]))
    v4 = fw["t-web-in-internet"]["sourceRanges"]
    assert "10.0.0.0/8" not in v4 and "0.0.0.0/0" not in v4
    from cloudfence.addresses import PUBLIC, AddressSet

    assert AddressSet.from_cidrs(v4) == (PUBLIC - AddressSet.from_cidrs(["203.0.113.7/32", "::/0"]))
    assert AddressSet.from_cidrs(fw["t-web-in-internet-v6"]["sourceRanges"]) == \
        AddressSet.from_cidrs(["2000::/3"]) - AddressSet.from_cidrs(["2600:1900:4000::/44"])


def test_a_network_never_includes_segment_cidrs():
    text = spec(TWO, "  - {from: wide, to: a, ports: [tcp/22]}", "networks:\n  wide: [10.0.0.0/8]")
    ranges = firewalls(compile_text(text))["t-a-in-wide"]["sourceRanges"]
    from cloudfence.addresses import AddressSet

    assert AddressSet.from_cidrs(ranges) == AddressSet.from_cidrs(["10.0.0.0/8"]) - \
        AddressSet.from_cidrs(["10.1.0.0/24", "10.2.0.0/24"])


def test_ipv4_and_ipv6_in_separate_rules_icmp_by_family_any_as_all():
    text = spec("  a: {cidr: [10.1.0.0/24, 'fd00:1::/64']}\n  b: {cidr: [10.2.0.0/24, 'fd00:2::/64']}",
                "  - {from: a, to: b, ports: [icmp, icmpv6, tcp/80]}\n  - {from: b, to: a, ports: [any]}")
    fw = firewalls(compile_text(text))
    assert fw["t-a-out-b"]["destinationRanges"] == ["10.2.0.0/24"]
    assert fw["t-a-out-b"]["allows"] == [{"protocol": "tcp", "ports": ["80"]}, {"protocol": "icmp"}]
    assert fw["t-a-out-b-v6"]["destinationRanges"] == ["fd00:2::/64"]
    assert fw["t-a-out-b-v6"]["allows"] == [{"protocol": "tcp", "ports": ["80"]}, {"protocol": "58"}]
    assert fw["t-b-in-a"]["allows"] == [{"protocol": "tcp", "ports": ["80"]}, {"protocol": "icmp"},
                                        {"protocol": "58"}]
    assert fw["t-a-in-b"]["allows"] == [{"protocol": "all"}]
    assert fw["t-b-out-a"]["allows"] == [{"protocol": "all"}]


def test_all_ports_of_a_protocol_set_share_one_rule():
    text = spec(TWO, "  - {from: a, to: b, ports: [tcp/80, tcp/8000-8002, udp/53, sctp/9899, tcp/0-65535]}")
    fw = firewalls(compile_text(text))
    assert fw["t-b-in-a"]["allows"] == [{"protocol": "tcp"}, {"protocol": "udp", "ports": ["53"]},
                                        {"protocol": "sctp", "ports": ["9899"]}]


def test_long_range_lists_are_split_over_rules():
    text = spec("  a: {cidr: 10.1.0.0/24}", "  - {from: many, to: a, ports: [tcp/22]}",
                "networks:\n  many: [" + ", ".join(f"172.16.{i}.0/25" for i in range(0, 20, 2)) + "]")
    fw = firewalls(compile_text(text, network="prod", rangesPerRule=4))
    parts = [fw[n]["sourceRanges"] for n in ("t-a-in-many", "t-a-in-many-2", "t-a-in-many-3")]
    assert [len(p) for p in parts] == [4, 4, 2]
    assert "t-a-in-many-4" not in fw


# ------------------------------------------------------------ names


def test_names_fit_gcp_with_the_auto_name_suffix_and_are_unique():
    long = "s" + "x" * 39
    text = (f"version: 1\nname: {long}\nsegments:\n  {long}: {{cidr: 10.1.0.0/24}}\n"
            f"  {long[:-1]}y: {{cidr: 10.2.0.0/24}}\nflows:\n  - {{from: {long}, to: {long[:-1]}y, "
            "ports: [tcp/1]}\n  - {from: internet, to: " + long + ", ports: [tcp/2]}\n")
    plan = checked_plan(GCP, parse_intent(text), {"region": "us-central1"})
    names = [r.name for r in plan.resources]
    assert len(set(names)) == len(names)
    for n in names:
        assert len(n) <= 55 and NAME.match(n + "-abc1234"), n
    for values in plan.exports.values():
        assert len(values["networkTag"]) <= 63 and NAME.match(values["networkTag"])
    assert len({v["networkTag"] for v in plan.exports.values()}) == 2


def test_tags_are_stable_and_derived_from_spec_and_segment():
    a = checked_plan(GCP, INTENT, EXISTING)
    b = checked_plan(GCP, parse_intent(EXAMPLE.read_text().replace("ports: [metrics]", "ports: [tcp/9100]")),
                    EXISTING)
    assert a.exports == b.exports
    assert a.exports["gateway"]["networkTag"] == "ai-inference-gateway"


# ------------------------------------------------------------ check


def test_egress_to_a_segment_without_a_cidr_is_refused_naming_the_flow_and_the_fix():
    text = spec("  a: {cidr: 10.1.0.0/24}\n  b: {}", "  - {from: a, to: b, ports: [tcp/80]}")
    (p,) = problems(text)
    assert p.startswith("flows[0] (a -> b): GCP egress rules name destinations by address only")
    assert "give segment 'b' a cidr" in p
    with pytest.raises(CheckError):
        compile_text(text)


def test_ingress_from_a_segment_without_a_cidr_is_by_identity():
    text = spec("  a: {}\n  b: {cidr: 10.2.0.0/24}", "  - {from: a, to: b, ports: [tcp/80]}")
    fw = firewalls(compile_text(text))
    assert fw["t-b-in-a"]["sourceTags"] == ["t-a"]
    assert fw["t-a-out-b"]["destinationRanges"] == ["10.2.0.0/24"]


def test_service_accounts_missing_or_unknown_are_named():
    text = spec(TWO, "  - {from: a, to: b, ports: [tcp/80]}")
    got = problems(text, network="prod", identity="serviceAccount",
                   serviceAccounts={"a": "a@p-123456.iam.gserviceaccount.com",
                                    "bb": "b@p-123456.iam.gserviceaccount.com"})
    assert any(p.startswith("settings.serviceAccounts.b: missing") for p in got)
    assert any(p.startswith("settings.serviceAccounts.bb: no segment 'bb'") and "did you mean 'b'" in p
               for p in got)


@pytest.mark.parametrize("settings, where, words", [
    ({}, "settings.region", "needed for the subnetworks"),
    ({"network": "Prod"}, "settings.network", "is not a VPC network name"),
    ({"network": "prod", "vpcId": "x"}, "settings.vpcId", "unknown gcp setting"),
    ({"region": "us-central1", "subnetworkCidrs": ["10.0.0.0/8"]}, "settings.subnetworkCidrs",
     "only used with settings.network"),
    ({"network": "prod", "identity": "tags"}, "settings.identity", "networkTag"),
    ({"network": "prod", "rulesPerProject": "500"}, "settings.rulesPerProject", "whole number"),
    ({"network": "prod", "egressIps": ["203.0.113.7"]}, "settings.egressIps", "203.0.113.7/32"),
])
def test_settings_errors_name_the_key(settings, where, words):
    intent = parse_intent(spec(TWO, "  - {from: a, to: b, ports: [tcp/80]}"))
    got = [f"{p.where}: {p.message}" for p in find_problems(GCP, intent, settings)]
    assert any(p.startswith(where) and words in p for p in got), got


def test_network_mode_refuses_what_cannot_be_a_subnetwork():
    text = spec("  a: {cidr: 'fd00:1::/64'}\n  b: {cidr: 10.2.0.0/30}\n  c: {cidr: 169.254.1.0/24}",
                "  - {from: a, to: b, ports: [tcp/80]}")
    got = problems(text, region="us-central1")
    assert any(p.startswith("segments.a.cidr") and "GCP assigns" in p for p in got)
    assert any(p.startswith("segments.b.cidr") and "/8 to /29" in p for p in got)
    assert any(p.startswith("segments.c.cidr") and "reserves" in p for p in got)


def test_the_project_quota_is_checked_before_anything_is_built():
    text = spec(TWO, "  - {from: a, to: b, ports: [tcp/80]}")
    (p,) = problems(text, network="prod", rulesPerProject=9)
    assert p.startswith("settings.rulesPerProject") and "needs 10 firewall rules" in p
    assert not problems(text, network="prod", rulesPerProject=10)


def test_platform_endpoints_are_refused():
    text = spec("  a: {cidr: 10.1.0.0/24}", "  - {from: a, to: '@metadata', ports: [tcp/80]}")
    assert any("platform endpoint '@metadata'" in p for p in problems(text))


def test_icmp_types_are_refused_before_gcp_sees_them():
    """GCP firewall rules cannot filter ICMP types; the spec cannot name one either."""
    from cloudfence.errors import SpecError

    with pytest.raises(SpecError, match="takes no port or type"):
        parse_intent(spec(TWO, "  - {from: a, to: b, ports: [icmp/8]}"))


def test_a_direction_or_network_change_replaces_a_rule_a_range_change_does_not():
    plan = checked_plan(GCP, INTENT, EXISTING)
    rule = plan.get("ai-inference-vector-db-in-corp-vpn")
    assert rule is not None
    moved = Resource(rule.type, rule.name, {**rule.inputs, "network": "other",
                                            "sourceRanges": ["10.9.0.0/16"]})
    assert GCP.replaced_by(rule, moved) == ["network"]
    patched = Resource(rule.type, rule.name, {**rule.inputs, "priority": 10, "sourceRanges": ["10.9.0.0/16"]})
    assert GCP.replaced_by(rule, patched) == []
