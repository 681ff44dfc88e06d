"""Every built-in provider over one strategy of random valid specs
(`tests.strategies.every_feature`), judged by the conformance kit: each spec either
verifies equivalent, or the provider's check refuses it with problems that name the
flow or the segment it cannot express. Never a plan that verify calls not equivalent,
never another exception. Settings are those a user of each target would give for such
a spec: the existing network's (or cluster's) address space, service accounts per
segment.

The per-provider property files keep what is only theirs: which flows exactly each check
refuses, other settings (created networks, NACLs), mutations of each target's records.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import Phase, find, given, note, settings
from hypothesis.errors import NoSuchExample

from cloudfence.intent import Intent
from cloudfence.plugins import providers
from cloudfence.provider import find_problems
from cloudfence.testing import Conformance, Outcome
from tests.strategies import every_feature, examples, intent_from, to_text

# The random specs' segments live in 10.<i>.0.0/16 and fd00:<i>::/48, i = 1..6 (one per
# segment), their networks in 172.16.0.0/12, 192.168.0.0/16, 10.0.0.0/8 and 2001:db8::/32.
SEGMENT_SPACE = [f"10.{i}.0.0/16" for i in range(1, 7)] + [f"fd00:{i}::/48" for i in range(1, 7)]
POD_RANGES = ["10.244.0.0/16", "10.96.0.0/12"]  # a pod and a service range no drawn cidr touches


def aws(intent: Intent) -> Mapping[str, Any]:
    """An existing dual-stack VPC that holds every segment."""
    return {"vpcId": "vpc-0abc1234def567890", "vpcCidrs": SEGMENT_SPACE}


def azure(intent: Intent) -> Mapping[str, Any]:
    return {"resourceGroupName": "rg-prop", "location": "westeurope", "virtualNetworkName": "vnet-prop",
            "addressSpace": ["10.0.0.0/8", "fd00::/8"]}


def gcp(intent: Intent) -> Mapping[str, Any]:
    return {"network": "prop", "subnetworkCidrs": ["10.0.0.0/8", "fd00::/8"]}


def gcp_accounts(intent: Intent) -> Mapping[str, Any]:
    return {**gcp(intent), "identity": "serviceAccount",
            "serviceAccounts": {s: f"{s}@prop-project.iam.gserviceaccount.com" for s in intent.segments}}


def kubernetes(intent: Intent) -> Mapping[str, Any]:
    """The cluster's ranges: its pod segments' cidrs and a pod and a service range."""
    pods = [str(c) for s in intent.segments.values() if s.kubernetes for c in s.cidrs]
    return {"clusterCidrs": pods + POD_RANGES}


SettingsOf = Callable[[Intent], Mapping[str, Any]]
# target -> (provider, settings for a spec)
TARGETS: dict[str, tuple[str, SettingsOf]] = {
    "aws": ("aws", aws), "azure": ("azure", azure), "gcp": ("gcp", gcp),
    "gcp-service-accounts": ("gcp", gcp_accounts), "kubernetes": ("kubernetes", kubernetes)}
KITS = {target: Conformance(providers()[name]) for target, (name, _) in TARGETS.items()}
SPECS = every_feature()
FLOW_PLACE = re.compile(r"flows\[(\d+)\]")


def judged(target: str, text: str) -> Outcome:
    intent = intent_from(text)
    return KITS[target].sound_text(text, TARGETS[target][1](intent), label=f"{target}-random-spec")


@pytest.mark.parametrize("target", sorted(TARGETS))
@settings(max_examples=examples(60))
@given(spec=SPECS)
def test_every_spec_verifies_equivalent_or_is_refused_at_a_flow(target: str, spec: dict[str, Any]) -> None:
    text = to_text(spec)
    note(text)
    out = judged(target, text)  # raises: a plan not equivalent, a vague refusal, an exception
    for p in out.problems:
        assert p.where.startswith(("flows[", "segments.")), p
        for i in FLOW_PLACE.findall(p.where):
            assert int(i) < len(spec["flows"]), p  # as the user wrote them, before merging
        if p.where.startswith("segments."):
            assert p.where.split(".")[1] in out.intent.segments, p


# ------------------------------------------------------------ the property is not vacuous


def _sides(spec: dict[str, Any], key: str) -> list[list[str]]:
    return [f[key] if isinstance(f[key], list) else [f[key]] for f in spec["flows"]]


def _named(spec: dict[str, Any]) -> set[str]:
    return {n for side in ("from", "to") for names in _sides(spec, side) for n in names}


def _ports(spec: dict[str, Any]) -> list[str]:
    services = {k: v if isinstance(v, list) else [v] for k, v in spec.get("services", {}).items()}
    out = []
    for f in spec["flows"]:
        for p in f["ports"] if isinstance(f["ports"], list) else [f["ports"]]:
            out += services.get(p, [p])
    return out


def _service_range(spec: dict[str, Any]) -> bool:
    return any(re.search(r"/\d+-\d+$", p) for v in spec.get("services", {}).values()
               for p in (v if isinstance(v, list) else [v]))


def _segment_kinds(spec: dict[str, Any]) -> set[str]:
    return {"pod" if "kubernetes" in s else "addressed" for n, s in spec["segments"].items()
            if n in _named(spec) and ("kubernetes" in s or "cidr" in s)}


FEATURES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "a self flow": lambda s: any(f["from"] == f["to"] for f in s["flows"]),
    "lists on both sides": lambda s: any(len(a) > 1 and len(b) > 1
                                         for a, b in zip(_sides(s, "from"), _sides(s, "to"), strict=True)),
    "internet as source": lambda s: any("internet" in a for a in _sides(s, "from")),
    "internet as destination": lambda s: any("internet" in b for b in _sides(s, "to")),
    "a network with exclusions": lambda s: any(isinstance(n, dict) and k in _named(s)
                                               for k, n in s.get("networks", {}).items()),
    "an IPv6 segment": lambda s: any(":" in str(s["segments"][n].get("cidr", ""))
                                     for n in _named(s) if n in s["segments"]),
    "a service with a range": _service_range,
    "any": lambda s: "any" in _ports(s),
    "icmp": lambda s: any(p.startswith("icmp") for p in _ports(s)),
    "segments in and out of Kubernetes": lambda s: _segment_kinds(s) == {"pod", "addressed"},
    "the cluster DNS": lambda s: "@cluster-dns" in _named(s),
}
# Features a target refuses every time (check names the flow: the property above).
REFUSED = {"kubernetes": {"icmp"}, **{t: {"the cluster DNS"} for t in TARGETS if t != "kubernetes"}}


@functools.cache
def _reached() -> dict[str, dict[str, str]]:
    """Per target, per feature, the first drawn spec that has it and that the target plans
    (one pass over the drawn specs for every target: drawing them is the cost)."""
    wanted = {t: set(FEATURES) - REFUSED.get(t, set()) for t in TARGETS}
    first: dict[str, dict[str, str]] = {t: {} for t in TARGETS}

    def all_seen(spec: dict[str, Any]) -> bool:
        has = {f for f in FEATURES if spec["flows"] and FEATURES[f](spec)}
        text = to_text(spec)
        for target, (_, settings_of) in TARGETS.items():
            new = (has & wanted[target]) - set(first[target])
            if new:
                intent = intent_from(text)
                if not find_problems(KITS[target].provider, intent, settings_of(intent)):
                    first[target].update(dict.fromkeys(new, text))
        return all(set(first[t]) == wanted[t] for t in TARGETS)

    with contextlib.suppress(NoSuchExample):
        find(SPECS, all_seen, settings=settings(max_examples=1000, phases=[Phase.generate]))
    return first


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_random_specs_reach_every_feature_in_a_plan(target: str) -> None:
    """Among the drawn specs a target plans, each feature appears, and such a spec
    verifies: the property above is not passed by refusing what it lists."""
    first = _reached()[target]
    wanted = set(FEATURES) - REFUSED.get(target, set())
    assert set(first) == wanted, f"never planned: {sorted(wanted - set(first))}"
    for text in set(first.values()):
        assert judged(target, text).plan is not None
