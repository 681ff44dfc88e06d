"""AWS provider over random valid specs (tests/strategies.py): verify is
equivalent or check names what AWS cannot express; dropped rules are caught;
output is deterministic and names are stable under edits."""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.errors import Problem
from cloudfence.intent import Intent, parse_intent
from cloudfence.plan import Plan
from cloudfence.ports import PortSet
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.aws.evaluate import prefix_lists, sg_peer, sg_ports
from cloudfence.providers.aws.internal import aws_space
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.settings import AwsSettings
from cloudfence.providers.aws.wire import EGRESS_RULE, INGRESS_RULE, SECURITY_GROUP
from cloudfence.reach import NARROW, WIDE, Peer, Reachability, World, compare, join
from cloudfence.verify import verify_plan
from tests.strategies import examples, specs, to_text

AWS = AwsProvider()
VPC_ID = {"vpcId": "vpc-0abc1234def567890"}
# The existing-VPC soundness over every feature is tests/test_property_all.py; these
# add other settings and AWS's own records. More in the deep run (tests/conftest.py).
FAST = settings(max_examples=examples(25))


def for_network_mode(spec: dict[str, Any]) -> dict[str, Any]:
    """Make a drawn spec fit one created VPC: segment IPv4 cidrs moved into 10.0.0.0/16,
    IPv6 segment cidrs dropped; and SCTP without port restrictions (AWS cannot express them;
    the raw specs cover that error)."""
    spec = copy.deepcopy(spec)
    for seg in spec["segments"].values():
        if "cidr" not in seg:
            continue
        cidrs = seg["cidr"] if isinstance(seg["cidr"], list) else [seg["cidr"]]
        v4 = []
        for c in cidrs:
            net = ipaddress.ip_network(c)
            if net.version == 4:  # 10.i.k.0/24 -> 10.0.(2i+k).0/24, still disjoint
                _, i, k, _ = str(net.network_address).split(".")
                v4.append(f"10.0.{2 * int(i) + int(k)}.0/24")
        if v4:
            seg["cidr"] = v4
        else:
            del seg["cidr"]
    return spec


def without_sctp_ports(text: str) -> str:
    return re.sub(r"sctp/(?!0-65535\b)", "tcp/", text)


def outcome(intent: Intent, options: dict) -> tuple[list[Problem], Plan | None]:
    problems = find_problems(AWS, intent, options)
    return (problems, None) if problems else ([], checked_plan(AWS, intent, options))


def assert_sound(intent: Intent, options: dict) -> Plan | None:
    """Either each problem names its place (a flow, a segment or a setting) or the plan
    verifies equivalent. Returns the plan, if any."""
    problems, plan = outcome(intent, options)
    for p in problems:
        assert re.match(r"^(flows\[\d+\]|segments\.|settings\.)", p.where), p
    if plan is not None:
        verdict = verify_plan(intent, AWS, plan)
        assert verdict.equivalent, (options, verdict.counterexamples)
    return plan


def sctp_restricted(intent: Intent) -> set[str]:
    return {f.where for f in intent.flows if f.ports.get("sctp") and not f.ports.is_any()
            and list(f.ports.get("sctp")) != [(0, 65535)]}


SPECS = specs(allow_icmp=True, full_range=True)


@FAST
@given(SPECS)
def test_existing_vpc_verifies_or_check_names_the_problem(spec):
    raw = parse_intent(to_text(spec))
    assert_sound(raw, VPC_ID)
    refused = {p.where for p in find_problems(AWS, raw, VPC_ID) if "SCTP" in p.message}
    assert refused == sctp_restricted(raw)  # port-restricted SCTP always, nothing else
    assert_sound(parse_intent(without_sctp_ports(to_text(spec))), VPC_ID)


@FAST
@given(SPECS)
def test_network_mode_verifies_or_check_names_the_problem(spec):
    assert_sound(parse_intent(to_text(spec)), {})  # raw: several /16s, IPv6 cidrs, SCTP ports
    intent = parse_intent(without_sctp_ports(to_text(for_network_mode(spec))))
    for options in ({}, {"nacls": True}):
        plan = assert_sound(intent, options)
        if plan is not None:  # deterministic: the same bytes again
            assert checked_plan(AWS, intent, options).dumps() == plan.dumps()


@FAST
@given(specs(allow_icmp=True, full_range=True, cidr_share=1.0, bare_share=0.0))
def test_nacls_verify_when_every_segment_has_addresses(spec):
    intent = parse_intent(without_sctp_ports(to_text(for_network_mode(spec))))
    assert_sound(intent, {"nacls": True})
    assert_sound(intent, {"nacls": True, "rulesPerNetworkAcl": 40})


# ------------------------------------------------------------ mutations


def group_segment(plan: Plan) -> dict[str, str]:
    return {g.name: g.inputs["tags"]["cloudfence:segment"] for g in plan.by_type(SECURITY_GROUP)}


def still_allowed(plan: Plan, intent, dropped) -> bool:
    """Whether the other rules at the dropped rule's end allow all it did (then
    nothing changed and there is nothing to catch). Judged by the core's own
    comparison, on that one end: the opposite direction is left wide open."""
    groups: dict[str, str | None] = dict(group_segment(plan))
    seg = groups[dropped.inputs["securityGroupId"][2:-4]]
    assert seg is not None
    direction = "egress" if dropped.type == EGRESS_RULE else "ingress"
    other = "ingress" if direction == "egress" else "egress"
    rest = AWS.evaluate(plan, intent).rules(seg, direction)
    peer = sg_peer(dropped.inputs, groups, prefix_lists(plan))
    assert peer is not None

    def one_end(extra: list) -> Reachability:
        reach = Reachability("end", [seg])
        reach.allow(seg, other, Peer.all(), PortSet.any())
        for p, ports in [*rest, *extra]:
            reach.allow(seg, direction, p, ports)
        return reach

    before, after = one_end([(peer, sg_ports(dropped.inputs))]), one_end([])
    world = World(intent, aws_space(intent, AwsSettings.model_validate(plan.settings)), after)
    # Nothing changed only if it holds under both readings of an address rule that may
    # reach members of a segment without a cidr (verify reports "unsure" otherwise).
    diffs, _ = compare(world, join(before, world, NARROW), join(after, world, WIDE),
                       join(after, world, NARROW))
    return not diffs


@FAST
@given(SPECS, st.randoms(use_true_random=False))
def test_a_dropped_rule_is_caught(spec, rnd):
    intent = parse_intent(without_sctp_ports(to_text(spec)))
    _, plan = outcome(intent, VPC_ID)
    if plan is None:
        return
    rules = [r for r in plan.resources if r.type in (INGRESS_RULE, EGRESS_RULE)]
    if not rules:
        return
    dropped = rnd.choice(rules)
    mutated = replace(plan, resources=tuple(r for r in plan.resources if r is not dropped))
    verdict = verify_plan(intent, AWS, mutated)
    assert not verdict.equivalent or still_allowed(mutated, intent, dropped), dropped.name
    # and a rule the others fully cover changes nothing (e.g. a group reference inside 0.0.0.0/0)
    assert verdict.equivalent or not still_allowed(mutated, intent, dropped)


# ------------------------------------------------------------ stable names


@FAST
@given(SPECS, st.data())
def test_editing_one_flow_keeps_other_group_references(spec, data):
    """Rules naming a peer group serve exactly one segment pair: editing one spec
    flow never renames or changes another pair's, nor any group or network."""
    if not spec["flows"]:
        return
    before_text = without_sctp_ports(to_text(spec))
    i = data.draw(st.integers(0, len(spec["flows"]) - 1))
    edited = copy.deepcopy(spec)
    edited["flows"][i]["ports"] = [data.draw(st.sampled_from(["tcp/7777", "udp/5353", "tcp/20-21"]))]
    after_text = without_sctp_ports(to_text(edited))
    _, before = outcome(parse_intent(before_text), VPC_ID)
    _, after = outcome(parse_intent(after_text), VPC_ID)
    if before is None or after is None:
        return
    src = edited["flows"][i]["from"]
    dst = edited["flows"][i]["to"]
    srcs, dsts = (src if isinstance(src, list) else [src]), (dst if isinstance(dst, list) else [dst])
    touched = {f"{s} to {d}" for s in srcs for d in dsts}

    def kept(plan: Plan) -> dict[str, dict]:
        # a segment's extra groups come and go with the weight of its address rules
        return {r.name: r.inputs for r in plan.resources
                if (r.type == SECURITY_GROUP and "cloudfence:group" not in r.inputs["tags"])
                or ("referencedSecurityGroupId" in r.inputs
                                                and not set(r.inputs["tags"]["cloudfence:flows"].split(", "))
                                                & touched)}

    assert kept(before) == kept(after)
