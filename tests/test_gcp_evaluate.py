"""GCP evaluate: VPC firewall semantics read from records (priority order, deny
wins ties, implied rules, targets by tag, service account or none, sources by
tag, service account or range, egress by range only), joined by the core."""

from __future__ import annotations

import dataclasses
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.intent import parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.ports import PortSet, parse_port
from cloudfence.provider import checked_plan
from cloudfence.providers.gcp.provider import GcpProvider
from cloudfence.providers.gcp.wire import FIREWALL
from cloudfence.reachability import EGRESS, INGRESS
from cloudfence.verify import verify_plan

GCP = GcpProvider()
TEXT = """version: 1
name: t
segments:
  web: {cidr: 10.1.0.0/24}
  db: {cidr: 10.2.0.0/24}
  job: {}
flows:
  - {from: web, to: db, ports: [tcp/5432]}
  - {from: job, to: db, ports: [tcp/5432]}
  - {from: internet, to: web, ports: [tcp/443]}
"""
INTENT = parse_intent(TEXT)
EXPORTS = {"web": {"networkTag": "t-web"}, "db": {"networkTag": "t-db"}, "job": {"networkTag": "t-job"}}


def fw(name: str, **inputs: Any) -> Resource:
    return Resource(FIREWALL, name, {"network": "prod", **inputs})


def plan_of(*rules: Resource, exports: dict | None = None) -> Plan:
    return Plan("t", "gcp", tuple(rules), exports=EXPORTS if exports is None else exports)


def ports_to(reach, seg: str, direction: str) -> PortSet:
    out = PortSet()
    for _, ports in reach.rules(seg, direction):
        out = out | ports
    return out


def deny_all(tag: str, priority: int = 1001) -> list[Resource]:
    out = []
    for direction, key in (("INGRESS", "sourceRanges"), ("EGRESS", "destinationRanges")):
        for fam, cidr in (("", "0.0.0.0/0"), ("-v6", "::/0")):
            out.append(fw(f"{tag}-deny-{direction.lower()}{fam}", direction=direction, priority=priority,
                          denies=[{"protocol": "all"}], targetTags=[tag], **{key: [cidr]}))
    return out


def test_implied_rules_allow_all_egress_and_deny_all_ingress():
    reach = GCP.evaluate(plan_of(), INTENT)
    assert ports_to(reach, "web", EGRESS) == PortSet.any()
    assert reach.rules("web", INGRESS) == []


def test_the_compiled_plan_verifies_and_the_deny_rules_close_egress():
    plan = checked_plan(GCP, INTENT, {"network": "prod"})
    assert verify_plan(INTENT, GCP, plan).equivalent
    reach = GCP.evaluate(plan, INTENT)
    assert ports_to(reach, "db", EGRESS) == PortSet()
    assert ports_to(reach, "web", EGRESS) == parse_port("tcp/5432")


def test_deny_wins_a_tie_and_a_higher_priority_allow_wins_over_a_deny():
    allow = fw("a", direction="INGRESS", priority=1001, allows=[{"protocol": "tcp", "ports": ["5432"]}],
               targetTags=["t-db"], sourceTags=["t-web"])
    tie = GCP.evaluate(plan_of(allow, *deny_all("t-db")), INTENT)
    assert tie.rules("db", INGRESS) == []
    above = dataclasses.replace(allow, inputs={**allow.inputs, "priority": 1000})
    ahead = GCP.evaluate(plan_of(above, *deny_all("t-db")), INTENT)
    assert ports_to(ahead, "db", INGRESS) == parse_port("tcp/5432")


def test_a_rule_applies_only_to_the_workloads_its_targets_name():
    rule = fw("a", direction="INGRESS", allows=[{"protocol": "tcp", "ports": ["22"]}],
              sourceRanges=["203.0.113.0/24"])
    untargeted = GCP.evaluate(plan_of(rule), INTENT)
    assert all(ports_to(untargeted, s, INGRESS) == parse_port("tcp/22") for s in INTENT.segments)
    tagged = dataclasses.replace(rule, inputs={**rule.inputs, "targetTags": ["t-web"]})
    reach = GCP.evaluate(plan_of(tagged), INTENT)
    assert ports_to(reach, "web", INGRESS) == parse_port("tcp/22")
    assert ports_to(reach, "db", INGRESS) == PortSet()


def test_service_accounts_are_matched_by_the_accounts_the_segments_run_as():
    exports = {s: {"serviceAccount": f"{s}@p-123456.iam.gserviceaccount.com"} for s in INTENT.segments}
    rule = fw("a", direction="INGRESS", allows=[{"protocol": "tcp", "ports": ["5432"]}],
              targetServiceAccounts=["db@p-123456.iam.gserviceaccount.com"],
              sourceServiceAccounts=["job@p-123456.iam.gserviceaccount.com"])
    reach = GCP.evaluate(plan_of(rule, exports=exports), INTENT)
    ((peer, ports),) = reach.rules("db", INGRESS)
    assert peer.segments == {"job"} and ports == parse_port("tcp/5432")
    assert reach.rules("web", INGRESS) == []


def test_a_tag_of_no_segment_is_read_as_anyone_for_an_allow():
    plan = checked_plan(GCP, INTENT, {"network": "prod"})
    rule = fw("a", direction="INGRESS", allows=[{"protocol": "tcp", "ports": ["5432"]}],
              targetTags=["t-db"], sourceTags=["legacy-vm"])
    verdict = verify_plan(INTENT, GCP, dataclasses.replace(plan, resources=(*plan.resources, rule)))
    assert not verdict.equivalent
    assert {c.kind for c in verdict.counterexamples} == {"extra"}
    assert all(c.destination.startswith("db") and c.port == 5432 for c in verdict.counterexamples)


def test_egress_matches_destination_ranges_only_and_sources_are_ignored():
    rule = fw("a", direction="EGRESS", allows=[{"protocol": "tcp", "ports": ["5432"]}],
              targetTags=["t-web"], destinationRanges=["10.2.0.0/24"])
    reach = GCP.evaluate(plan_of(rule, *deny_all("t-web")), INTENT)
    ((peer, ports),) = reach.rules("web", EGRESS)
    assert peer.addresses == AddressSet.from_cidrs(["10.2.0.0/24"]) and not peer.segments
    assert ports == parse_port("tcp/5432")


def test_an_opaque_segment_denied_by_ranges_in_both_families_is_denied():
    rule = fw("a", direction="INGRESS", priority=1002, allows=[{"protocol": "tcp", "ports": ["5432"]}],
              targetTags=["t-db"], sourceTags=["t-job"])
    reach = GCP.evaluate(plan_of(rule, *deny_all("t-db")), INTENT)
    assert reach.rules("db", INGRESS) == []
    only_v4 = [r for r in deny_all("t-db") if r.inputs.get("sourceRanges") == ["0.0.0.0/0"]]
    reach = GCP.evaluate(plan_of(rule, *only_v4), INTENT)
    ((peer, _),) = reach.rules("db", INGRESS)  # job's IPv6 workloads still pass, its IPv4 ones not
    assert peer.partly == {"job"} and not peer.segments


def test_disabled_rules_and_rules_on_another_network_do_nothing():
    plan = checked_plan(GCP, INTENT, {"region": "us-central1"})
    opened = fw("open", direction="INGRESS", priority=10, allows=[{"protocol": "all"}],
                sourceRanges=["0.0.0.0/0"])
    elsewhere = dataclasses.replace(plan, resources=(*plan.resources, opened))
    assert verify_plan(INTENT, GCP, elsewhere).equivalent  # network "prod" is not the created one
    mine = Resource(FIREWALL, "open", {**opened.inputs, "network": "${t.id}"})
    with_mine = dataclasses.replace(plan, resources=(*plan.resources, mine))
    assert not verify_plan(INTENT, GCP, with_mine).equivalent
    off = Resource(FIREWALL, "open", {**mine.inputs, "disabled": True})
    with_off = dataclasses.replace(plan, resources=(*plan.resources, off))
    assert verify_plan(INTENT, GCP, with_off).equivalent


def test_protocols_ports_and_all_are_read_as_gcp_writes_them():
    rule = fw("a", direction="INGRESS", targetTags=["t-db"], sourceRanges=["0.0.0.0/0"],
              allows=[{"protocol": "tcp", "ports": ["80", "8000-8002"]}, {"protocol": "udp"},
                      {"protocol": "58"}, {"protocol": "esp"}])
    got = ports_to(GCP.evaluate(plan_of(rule), INTENT), "db", INGRESS)
    assert got == parse_port("tcp/80") | parse_port("tcp/8000-8002") | parse_port("udp/0-65535") | \
        parse_port("icmpv6") | PortSet({"other": parse_port("tcp/0-65535").get("tcp")})
    every = fw("b", direction="INGRESS", targetTags=["t-db"], sourceRanges=["0.0.0.0/0"],
               allows=[{"protocol": "all"}])
    assert ports_to(GCP.evaluate(plan_of(every), INTENT), "db", INGRESS) == PortSet.any()


def test_swapped_exports_fail_verify():
    plan = checked_plan(GCP, INTENT, {"network": "prod"})
    swapped = {**plan.exports, "web": plan.exports["db"], "db": plan.exports["web"]}
    assert not verify_plan(INTENT, GCP, dataclasses.replace(plan, exports=swapped)).equivalent


def test_a_rule_at_priority_65535_decides_before_the_implied_deny():
    """GCP evaluates the implied rules after every rule of the network: an allow at
    65535 is read as open, never hidden by the implied deny at the same number."""
    allow = fw("low", direction="INGRESS", priority=65535, allows=[{"protocol": "tcp", "ports": ["22"]}],
               targetTags=["t-web"], sourceRanges=["0.0.0.0/0"])
    assert ports_to(GCP.evaluate(plan_of(allow), INTENT), "web", INGRESS) == parse_port("tcp/22")


def test_an_identity_a_deny_by_range_takes_part_of_is_reached_only_partly():
    """`job` is known by its tag alone, anywhere in the network's hidden space; a deny of
    sources in part of it above the compiled allow leaves some of its workloads blocked,
    so the flow is unsure, not surely allowed."""
    plan = checked_plan(GCP, INTENT, {"network": "prod"})
    deny = fw("part", direction="INGRESS", priority=900, denies=[{"protocol": "tcp", "ports": ["5432"]}],
              targetTags=["t-db"], sourceRanges=["10.3.0.0/16"])
    mutated = dataclasses.replace(plan, resources=(*plan.resources, deny))
    peers = [peer for peer, _ in GCP.evaluate(mutated, INTENT).rules("db", INGRESS)]
    assert any(p.partly == {"job"} for p in peers) and not any(p.segments for p in peers)
    verdict = verify_plan(INTENT, GCP, mutated)
    assert not verdict.equivalent
    assert [(c.kind, c.source) for c in verdict.counterexamples] == [("unsure", "job")]
    assert verify_plan(INTENT, GCP, plan).equivalent
