"""Azure provider over random valid specs (tests/strategies.py): verify is equivalent
or the check names what Azure cannot express; mutated plans are caught; output is
deterministic."""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.addresses import AddressSet
from cloudfence.intent import Intent, parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.azure.provider import AzureProvider
from cloudfence.providers.azure.settings import AzureSettings
from cloudfence.providers.azure.wire import NSG
from cloudfence.space import space_for
from cloudfence.verify import verify, verify_plan
from tests.strategies import examples, specs, to_text

AZURE = AzureProvider()
BASE = {"resourceGroupName": "rg", "location": "westeurope"}
EXISTING = {**BASE, "virtualNetworkName": "vnet", "addressSpace": ["10.0.0.0/8", "fd00::/8"]}
# More in the deep run (tests/conftest.py).
FAST = settings(max_examples=examples(20))
SPECS = specs(allow_icmp=True, full_range=True)
PLACE = re.compile(r"^(flows\[\d+\]|segments\.|settings\.)")


def without_sctp(text: str) -> str:
    return re.sub(r"sctp/", "tcp/", text)


def plan_or_problems(intent: Intent, options: dict) -> Plan | None:
    problems = find_problems(AZURE, intent, options)
    for p in problems:
        assert PLACE.match(p.where), p
    if problems:
        return None
    verdict = verify(intent, AZURE, options)
    assert verdict.equivalent, (options, verdict.counterexamples)
    return checked_plan(AZURE, intent, options)


@FAST
@given(SPECS)
def test_verifies_or_check_names_the_problem(spec):
    raw = parse_intent(to_text(spec))
    for options in (BASE, EXISTING):
        plan_or_problems(raw, options)
        refused = {p.where for p in find_problems(AZURE, raw, options) if "cannot express sctp" in p.message}
        assert refused == {f.where for f in raw.flows if f.ports.get("sctp") and not f.ports.is_any()}
    intent = parse_intent(without_sctp(to_text(spec)))
    for options in (BASE, EXISTING):
        plan = plan_or_problems(intent, options)
        if plan is not None:
            assert checked_plan(AZURE, intent, options).dumps() == plan.dumps()


@FAST
@given(SPECS)
def test_icmp_is_refused_only_where_one_azure_icmp_would_open_the_other_family(spec):
    intent = parse_intent(without_sctp(to_text(spec)))
    refused = {p.where for p in find_problems(AZURE, intent, EXISTING)
               if "ICMP and ICMPv6 alike" in p.message}
    space = space_for(intent, AzureSettings.model_validate(EXISTING))
    expected = set()
    for f in intent.flows:
        if f.src.is_segment and f.dst.is_segment and not f.ports.is_any():
            common = space.families(f.src) & space.families(f.dst)
            if (f.ports.get("icmp") and not f.ports.get("icmpv6") and 6 in common) or \
                    (f.ports.get("icmpv6") and not f.ports.get("icmp") and 4 in common):
                expected.add(f.where)
    assert refused == expected


# ------------------------------------------------------------ mutations


def with_rules(plan: Plan, nsg: Resource, rules: list[dict]) -> Plan:
    return replace(plan, resources=tuple(Resource(r.type, r.name, {**r.inputs, "securityRules": rules})
                                         if r is nsg else r for r in plan.resources))


def compiled(spec: dict) -> tuple[Intent, Plan] | None:
    intent = parse_intent(without_sctp(to_text(spec)))
    if find_problems(AZURE, intent, EXISTING):
        return None
    return intent, checked_plan(AZURE, intent, EXISTING)


@FAST
@given(SPECS, st.data())
def test_a_dropped_inbound_deny_all_is_caught(spec, data):
    found = compiled(spec)
    if found is None:
        return
    intent, plan = found
    nsg = data.draw(st.sampled_from(plan.by_type(NSG)))
    rules = [r for r in nsg.inputs["securityRules"] if r["name"] != "deny-all-in"]
    # at least the default 65001 rule lets Azure Load Balancer probes in on every port
    assert not verify_plan(intent, AZURE, with_rules(plan, nsg, rules)).equivalent


@FAST
@given(SPECS, st.data())
def test_a_deny_all_that_takes_an_allows_priority_is_caught(spec, data):
    found = compiled(spec)
    if found is None:
        return
    intent, plan = found
    nsg = data.draw(st.sampled_from(plan.by_type(NSG)))
    rules = copy.deepcopy(nsg.inputs["securityRules"])
    direction = data.draw(st.sampled_from(["Inbound", "Outbound"]))
    mine = [r for r in rules if r["direction"] == direction]
    allows = [r for r in mine if r["access"] == "Allow"]
    if not allows:
        return
    lowest = min(allows, key=lambda r: r["priority"])
    deny = next(r for r in mine if r["access"] == "Deny")
    lowest["priority"], deny["priority"] = deny["priority"], lowest["priority"]
    # every allow of that direction is now behind the deny-all: its flows go missing
    assert not verify_plan(intent, AZURE, with_rules(plan, nsg, rules)).equivalent


@FAST
@given(SPECS, st.data())
def test_a_prefix_widened_beyond_every_name_is_caught(spec, data):
    found = compiled(spec)
    if found is None:
        return
    intent, plan = found
    space = space_for(intent, AzureSettings.model_validate(EXISTING))
    named = space.segment_addresses
    for name in intent.networks:
        named = named | space.network(name)
    candidates = []
    for nsg in plan.by_type(NSG):
        for i, r in enumerate(nsg.inputs["securityRules"]):
            for side in ("sourceAddressPrefixes", "destinationAddressPrefixes"):
                for j, prefix in enumerate(r.get(side) or []):
                    net = ipaddress.ip_network(prefix)
                    if net.prefixlen == 0:
                        continue
                    wider = net.supernet()
                    if AddressSet.from_cidrs([wider]) - AddressSet.from_cidrs(r[side]) - named:
                        candidates.append((nsg, i, side, j, str(wider)))
    if not candidates:
        return
    nsg, i, side, j, wider = data.draw(st.sampled_from(candidates))
    rules = copy.deepcopy(nsg.inputs["securityRules"])
    rules[i][side][j] = wider
    # the widened rule now names addresses no network or segment holds: nothing intends them
    assert not verify_plan(intent, AZURE, with_rules(plan, nsg, rules)).equivalent


# ------------------------------------------------------------ networks never bridge


def test_a_network_never_bridges_two_segments():
    text = ("version: 1\nname: br\nsegments:\n  a: {cidr: 10.4.0.0/24}\n  b: {cidr: 10.5.0.0/24}\n"
            "networks:\n  wide: {include: [10.0.0.0/8], exclude: [10.1.0.0/16]}\n"
            "flows:\n  - {from: a, to: wide, ports: [tcp/443]}\n  - {from: wide, to: b, ports: [tcp/443]}\n")
    assert verify(parse_intent(text), AZURE, EXISTING).equivalent
