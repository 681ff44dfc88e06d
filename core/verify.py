"""Prove, per target, that a plan allows exactly what the flows say, in an open
world, with every assumption printed (DESIGN section 2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloudfence.addresses import AddressSet
from cloudfence.collection import fewer_collections
from cloudfence.errors import CheckError
from cloudfence.intent import Flow, Intent
from cloudfence.plan import Plan
from cloudfence.ports import format_ports
from cloudfence.provider import Provider, checked_plan, validated
from cloudfence.reach import (
    NARROW,
    WIDE,
    Counterexample,
    Verdict,
    World,
    compare,
    intended,
    join,
    judged_flow,
    readings_agree,
)
from cloudfence.reachability import Reachability
from cloudfence.space import Space, space_for


def verify_plan(intent: Intent, provider: Provider, plan: Plan, space: Space | None = None,
                limit: int = 20, checked: bool = False) -> Verdict:
    """The verdict on a plan, judged with the settings it records. A plan that did not
    come from `checked_plan` (a plan file, a mutant) goes through the provider's check
    with those settings first: refusals do not depend on how the settings arrived."""
    with fewer_collections():
        return _verify_plan(intent, provider, plan, space, limit, checked)


def _verify_plan(intent: Intent, provider: Provider, plan: Plan, space: Space | None,
                 limit: int, checked: bool) -> Verdict:
    settings = validated(provider, plan.settings)
    if not checked:
        problems = provider.check(intent, settings)
        if problems:
            raise CheckError(problems)
    space = space or space_for(intent, settings)
    governed = provider.governs(intent)
    # Implied flows count as intended only as the target itself adds them for these
    # settings: a plan cannot widen its own intent by listing more.
    implied = tuple(provider.implied_flows(intent, settings))
    implied_diffs = _implied_differences(implied, plan.implied)
    actual = provider.evaluate(plan, intent)
    if actual.governed != governed:
        raise ValueError(f"{provider.name} evaluated {sorted(actual.governed)}, "
                         f"it governs {sorted(governed)}")
    world = World(intent, space, actual,
                  extra_platform=[ep.name for f in implied for ep in (f.src, f.dst)
                                  if ep.kind == "platform"])
    # A platform endpoint the target governs (on AWS, the load balancer's group) is judged
    # as the provider says, not as the evaluator found it: a plan that lost it misses flows.
    judged = governed | frozenset(getattr(provider, "governed_endpoints", ()))
    expected = intended(intent, world, judged, implied)
    wide = join(actual, world, WIDE)
    narrow = wide if readings_agree(actual, world) else join(actual, world, NARROW)
    diffs, classes = compare(world, expected, wide, narrow)
    diffs += export_differences(plan, actual) + implied_diffs
    not_governed = [str(f) for f in intent.flows if not judged_flow(f, judged)]
    return Verdict(
        target=actual.target,
        equivalent=not diffs,
        counterexamples=tuple(diffs[:limit]),
        total_differences=len(diffs),
        governed=governed,
        not_governed=tuple(not_governed),
        implied=tuple(str(f) for f in implied),
        connections=classes,
        assumptions=tuple(assumptions(intent, space, actual)
                          + [f"taken as given (the plan requires it): {r}" for r in plan.requires]),
    )


def _implied_differences(target: Iterable[Flow], listed: Iterable[Flow]) -> list[Counterexample]:
    def key(f: Flow) -> tuple[str, str, str]:
        return (str(f.src), str(f.dst), format_ports(f.ports))

    mine, theirs = {key(f) for f in target}, {key(f) for f in listed}
    return ([Counterexample("implied", s, d, "", p, None, "the plan lists an implied flow the target "
                            "does not add: it is not intended") for s, d, p in sorted(theirs - mine)] +
            [Counterexample("implied", s, d, "", p, None, "the target adds this implied flow, the plan "
                            "does not list it") for s, d, p in sorted(mine - theirs)])


def export_differences(plan: Plan, actual: Reachability) -> list[Counterexample]:
    """Each segment's export must be exactly the identity its rules grant it:
    a workload that attaches the export joins that segment and no other."""
    out = []
    for segment, granted in sorted(actual.identities.items()):
        exported = plan.exports.get(segment, {})
        for key, value in sorted(granted.items()):
            if exported.get(key) != value:
                out.append(Counterexample(
                    "export", segment, f"exports.{segment}.{key}", "", "", None,
                    f"the plan exports {exported.get(key)!r}, the rules grant {value!r}"))
    return out


def assumptions(intent: Intent, space: Space, actual: Reachability) -> list[str]:
    out = ["a segment's cidr holds only its members",
           "verify judges the filters: paths through NAT gateways, proxies and load balancers "
           "are not modelled (name their addresses with egressIps, platform endpoints or segments)"]
    hidden = [s for s in sorted(actual.governed) if not intent.segments[s].cidrs]
    if hidden:
        where = ("the internal space " + _cidrs(space.internal) if space.internal is not None
                 else "the private ranges (the internal space is not given)")
        out.append(f"segments without a cidr ({', '.join(hidden)}) may be anywhere in {where}: "
                   "an address rule that overlaps that reaches them")
    if space.egress_ips:
        out.append(f"egress addresses {_cidrs(space.egress_ips)} are the deployment's own, not internet")
    named = sorted({ep.name for f in intent.flows for ep in (f.src, f.dst) if ep.kind == "platform"})
    for name in named:
        resolved = space.endpoints.get(name)
        if resolved is not None and resolved.members:
            out.append(f"'{name}' is {resolved.text}")
        elif resolved is not None and resolved.by_name:
            # Where the evaluator placed it (the load balancer in the VPC the plan holds,
            # less the segments' cidrs) is what the verdict rests on.
            bg = actual.background.get(name)
            placed = bg.region if bg is not None else actual.regions.get(name)
            where = "public space" if resolved.public else _cidrs(
                resolved.addresses if placed is None else placed | space.segment_addresses)
            out.append(f"'{name}' is {resolved.text}, taken to be anywhere in {where}")
    out += actual.assumptions
    return out


def _cidrs(addresses: AddressSet | None, most: int = 4) -> str:
    cidrs = [str(c) for c in (addresses.cidrs() if addresses else [])]
    shown = ", ".join(cidrs[:most]) + (f" and {len(cidrs) - most} more" if len(cidrs) > most else "")
    return shown or "(none)"


def verify(intent: Intent, provider: Provider, settings: Mapping[str, Any] | None = None) -> Verdict:
    plan = checked_plan(provider, intent, settings or {})
    return verify_plan(intent, provider, plan, checked=True)
