"""GCP provider over random valid specs (tests/strategies.py): verify is
equivalent or check names what GCP cannot express, with network tags and with
service accounts; mutated plans (a dropped egress deny, an inverted priority,
a tag typo, a widened range) are caught; output is deterministic and names
are stable under edits."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import re
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cloudfence.addresses import AddressSet
from cloudfence.errors import Problem
from cloudfence.intent import Intent, parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.gcp.provider import GcpProvider
from cloudfence.providers.gcp.wire import EGRESS, FIREWALL, INGRESS
from cloudfence.verify import verify_plan
from tests.strategies import examples, specs, to_text

GCP = GcpProvider()
NETWORK = {"network": "prod"}
# More in the deep run (tests/conftest.py).
FAST = settings(max_examples=examples(20))
# Each mutation verifies several plans per example: fewer examples, the same depth on demand.
MUTATE = settings(max_examples=examples(8))
SPECS = specs(allow_icmp=True, full_range=True)
# Every segment with a cidr: such specs always compile, so no example is spent on a refusal.
ADDRESSED = specs(allow_icmp=True, full_range=True, cidr_share=1.0, bare_share=0.0)


def accounts(intent: Intent) -> dict[str, Any]:
    return {"network": "prod", "identity": "serviceAccount",
            "serviceAccounts": {s: f"{s}@prop-project.iam.gserviceaccount.com" for s in intent.segments}}


def outcome(intent: Intent, options: dict) -> tuple[list[Problem], Plan | None]:
    problems = find_problems(GCP, intent, options)
    return (problems, None) if problems else ([], checked_plan(GCP, intent, options))


def assert_sound(intent: Intent, options: dict) -> Plan | None:
    problems, plan = outcome(intent, options)
    for p in problems:
        assert re.match(r"^(flows\[\d+\]|segments\.|settings\.)", p.where), p
    if plan is not None:
        verdict = verify_plan(intent, GCP, plan)
        assert verdict.equivalent, (options, verdict.counterexamples)
    return plan


def refused_egress(intent: Intent) -> set[str]:
    return {f.where for f in intent.flows if f.src.is_segment and f.dst.is_segment
            and not intent.segments[f.dst.name].cidrs}


@FAST
@given(SPECS)
def test_existing_network_verifies_or_check_names_the_problem(spec):
    intent = parse_intent(to_text(spec))
    for options in (NETWORK, accounts(intent)):
        assert_sound(intent, options)
        found = find_problems(GCP, intent, options)
        egress = {p.where for p in found if "egress rules name destinations" in p.message}
        assert egress == refused_egress(intent)
        # besides: only bridges through networks where segments without a cidr may be,
        # and flows that can never carry a packet (the core's dead-flow check)
        assert all(any(w in p.message for w in ("egress rules name destinations", "could reach",
                                                 "no packet can pass", "cannot pass between"))
                   for p in found), found


def for_network_mode(spec: dict[str, Any]) -> dict[str, Any]:
    """IPv4 segment cidrs only (GCP assigns subnetworks' IPv6 ranges)."""
    spec = copy.deepcopy(spec)
    for seg in spec["segments"].values():
        if "cidr" in seg:
            cidrs = seg["cidr"] if isinstance(seg["cidr"], list) else [seg["cidr"]]
            v4 = [c for c in cidrs if ipaddress.ip_network(c).version == 4]
            if v4:
                seg["cidr"] = v4
            else:
                del seg["cidr"]
    return spec


@FAST
@given(SPECS)
def test_network_mode_verifies_or_check_names_the_problem(spec):
    region = {"region": "us-central1"}
    raw = parse_intent(to_text(spec))
    assert_sound(raw, region)  # raw: IPv6 cidrs are refused
    intent = parse_intent(to_text(for_network_mode(spec)))
    plan = assert_sound(intent, region)
    if plan is not None:  # deterministic: the same bytes again
        assert checked_plan(GCP, intent, region).dumps() == plan.dumps()


# ------------------------------------------------------------ mutations


def compiled(spec: dict[str, Any], options_of) -> tuple[Intent, Plan] | None:
    intent = parse_intent(to_text(spec))
    _, plan = outcome(intent, options_of(intent))
    return None if plan is None else (intent, plan)


def replaced(plan: Plan, old: Resource, inputs: dict[str, Any]) -> Plan:
    resources = tuple(Resource(r.type, r.name, inputs) if r is old else r for r in plan.resources)
    return dataclasses.replace(plan, resources=resources)


def dropped(plan: Plan, old: Resource) -> Plan:
    return dataclasses.replace(plan, resources=tuple(r for r in plan.resources if r is not old))


def rules(plan: Plan, allow: bool, direction: str) -> list[Resource]:
    key = "allows" if allow else "denies"
    return [r for r in plan.by_type(FIREWALL) if key in r.inputs and r.inputs["direction"] == direction]


OPTIONS = st.sampled_from([lambda i: NETWORK, accounts])


def necessary(intent: Intent, plan: Plan, allows: list[Resource], rnd) -> Resource | None:
    """An allow whose loss verify sees: a rule that other rules cover (a range inside
    `internet` next to `internet` itself) changes nothing when it goes."""
    rnd.shuffle(allows)
    return next((r for r in allows[:4] if not verify_plan(intent, GCP, dropped(plan, r)).equivalent), None)


@MUTATE
@given(SPECS, OPTIONS, st.randoms(use_true_random=False))
def test_a_dropped_egress_deny_is_caught(spec, options_of, rnd):
    found = compiled(spec, options_of)
    assume(found is not None)
    intent, plan = found  # type: ignore[misc]
    deny = rnd.choice(rules(plan, False, EGRESS))
    # GCP's implied rule allows all egress: without the deny the segment reaches everything,
    # which no spec drawn here intends for a segment of the deny's family.
    verdict = verify_plan(intent, GCP, dropped(plan, deny))
    fam6 = deny.inputs["destinationRanges"] == ["::/0"]
    seg = next(s for s, e in plan.exports.items() if e.get("networkTag") in deny.inputs.get("targetTags", [])
               or e.get("serviceAccount") in deny.inputs.get("targetServiceAccounts", []))
    cidrs = intent.segments[seg].cidrs
    holds_family = not cidrs or any(c.version == (6 if fam6 else 4) for c in cidrs)
    assert verdict.equivalent != holds_family, deny.name


@MUTATE
@given(SPECS, OPTIONS, st.randoms(use_true_random=False))
def test_an_inverted_priority_is_caught(spec, options_of, rnd):
    """The segment's deny-all moved above its allows closes what the allow opened."""
    found = compiled(spec, options_of)
    assume(found is not None)
    intent, plan = found  # type: ignore[misc]
    allow = necessary(intent, plan, rules(plan, True, INGRESS) + rules(plan, True, EGRESS), rnd)
    assume(allow is not None)
    inverted = replaced(plan, allow, {**allow.inputs, "priority": allow.inputs["priority"] + 2})
    assert not verify_plan(intent, GCP, inverted).equivalent, allow.name


def _targets(r: Resource) -> str:
    return "targetTags" if "targetTags" in r.inputs else "targetServiceAccounts"


@MUTATE
@given(SPECS, OPTIONS, st.randoms(use_true_random=False))
def test_a_target_typo_is_caught(spec, options_of, rnd):
    found = compiled(spec, options_of)
    assume(found is not None)
    intent, plan = found  # type: ignore[misc]
    allow = necessary(intent, plan, rules(plan, True, INGRESS) + rules(plan, True, EGRESS), rnd)
    assume(allow is not None)
    key = _targets(allow)
    typo = [("x" + v) for v in allow.inputs[key]]
    assert not verify_plan(intent, GCP, replaced(plan, allow, {**allow.inputs, key: typo})).equivalent


@MUTATE
@given(SPECS, OPTIONS, st.randoms(use_true_random=False))
def test_a_widened_range_is_caught(spec, options_of, rnd):
    found = compiled(spec, options_of)
    assume(found is not None)
    intent, plan = found  # type: ignore[misc]
    ranged = [r for r in plan.by_type(FIREWALL) if "allows" in r.inputs
              and ("sourceRanges" in r.inputs or "destinationRanges" in r.inputs)]
    assume(ranged)
    allow = rnd.choice(ranged)
    key = "sourceRanges" if "sourceRanges" in allow.inputs else "destinationRanges"
    first = ipaddress.ip_network(allow.inputs[key][0])
    assume(first.prefixlen > 0)
    wider = [str(first.supernet()), *allow.inputs[key][1:]]
    # What the wider range adds must be new: outside every segment (whose own rules
    # decide for them) and outside every other allow of this rule's end.
    extra = AddressSet.from_cidrs(wider) - AddressSet.from_cidrs(allow.inputs[key])
    for seg in intent.segments.values():
        extra = extra - seg.addresses
    same_end = [r for r in plan.by_type(FIREWALL) if r is not allow and "allows" in r.inputs
                and r.inputs["direction"] == allow.inputs["direction"]
                and r.inputs.get(_targets(r)) == allow.inputs[_targets(allow)]]
    for other in same_end:
        extra = extra - AddressSet.from_cidrs(other.inputs.get(key, []))
    assume(extra)
    verdict = verify_plan(intent, GCP, replaced(plan, allow, {**allow.inputs, key: wider}))
    assert not verdict.equivalent, (allow.name, wider[0])


# ------------------------------------------------------------ stable names


@MUTATE
@given(ADDRESSED, st.data())
def test_editing_one_flow_renames_nothing_else(spec, data):
    assume(spec["flows"])
    i = data.draw(st.integers(0, len(spec["flows"]) - 1))
    edited = copy.deepcopy(spec)
    edited["flows"][i]["ports"] = [data.draw(st.sampled_from(["tcp/7777", "udp/5353", "tcp/20-21"]))]
    before, after = parse_intent(to_text(spec)), parse_intent(to_text(edited))
    _, plan_before = outcome(before, NETWORK)
    _, plan_after = outcome(after, NETWORK)
    assume(plan_before is not None and plan_after is not None)
    src, dst = edited["flows"][i]["from"], edited["flows"][i]["to"]
    touched = {(s, d) for s in (src if isinstance(src, list) else [src])
               for d in (dst if isinstance(dst, list) else [dst])}

    def kept(plan: Plan) -> dict[str, dict]:
        out = {}
        for r in plan.resources:
            text = r.inputs.get("description", "")
            flows = set(re.findall(r"([a-z][-a-z0-9]*) to ([a-z][-a-z0-9]*)", text))
            if not flows & touched:
                out[r.name] = r.inputs
        return out

    assert kept(plan_before) == kept(plan_after)
