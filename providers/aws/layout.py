"""Where each segment's rules go: its own security group, extra groups of the
segment when one group cannot hold them, or a refusal.

AWS weighs rules per group, per direction and per IP family (a prefix list as
its max entries, a group reference once per family) against
`rulesPerSecurityGroup`. A segment whose rules weigh more is spread over extra
groups, which its members attach too (`securityGroupIds` in the export), up
to `securityGroupsPerInterface`. Prefix lists are tried first (only those one
group can hold); if they cannot be placed, the segment is written with one
rule per CIDR instead, which spreads more finely. Placement is first-fit in a
fixed order (rules naming groups first), so the same spec always gives the
same groups.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from cloudfence.endpoints import LOAD_BALANCER
from cloudfence.errors import Problem
from cloudfence.intent import Intent
from cloudfence.memo import remembered
from cloudfence.providers.aws.boxes import spans
from cloudfence.providers.aws.rules import (
    EGRESS,
    PrefixList,
    Rule,
    families,
    flows_of,
    load_balancer_rules,
    network_cidrs,
    other_end,
    segment_rules,
)
from cloudfence.providers.aws.settings import AwsSettings
from cloudfence.space import Space

Dim = tuple[str, int]  # (direction, IP family)


@dataclass
class Layout:
    rules: list[Rule] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)  # segment -> how many groups it has
    problems: list[Problem] = field(default_factory=list)

    @property
    def prefix_lists(self) -> list[PrefixList]:
        found = {r.prefix_list for r in self.rules if r.prefix_list is not None and not r.prefix_list.managed}
        return sorted(found, key=lambda p: (p.network, p.family))


@remembered
def layout(intent: Intent, space: Space, settings: AwsSettings) -> Layout:
    out = Layout()
    quota, most = settings.rules_per_security_group, settings.groups_per_interface
    for seg in intent.segments:
        rules = segment_rules(intent, space, seg, settings.prefix_lists, quota)
        placed = place(rules, quota, most)
        if placed is None and any(r.prefix_list for r in rules):
            rules = segment_rules(intent, space, seg, prefix_lists=False)
            placed = place(rules, quota, most)
        if placed is None:
            out.problems.append(refusal(intent, space, seg, rules, settings))
            continue
        out.rules += placed
        out.groups[seg] = 1 + max((r.group for r in placed), default=0)
    _place_load_balancer(intent, space, settings, out)
    return out


def _place_load_balancer(intent: Intent, space: Space, settings: AwsSettings, out: Layout) -> None:
    """The load balancer's rules, in its one group (what the export names), or a
    refusal at the first flow into it: its listener may not fit one group."""
    quota = settings.rules_per_security_group
    rules = load_balancer_rules(intent, space, settings.prefix_lists, quota)
    placed = place(rules, quota, 1)
    if placed is None and any(r.prefix_list for r in rules):
        rules = load_balancer_rules(intent, space, prefix_lists=False)
        placed = place(rules, quota, 1)
    if placed is not None:
        out.rules += placed
        return
    w, (direction, fam) = max((w, d) for d, w in weight(rules).items())
    flow = next(f for f in intent.flows if LOAD_BALANCER in (f.src.name, f.dst.name)
                and (f.dst.name == LOAD_BALANCER) == (direction != EGRESS))
    way = "outbound" if direction == EGRESS else "inbound"
    out.problems.append(intent.problem(flow, (
        f"the load balancer's security group rules weigh {w} {way} IPv{fam}, more than its one "
        f"group of {quota} rules per direction and IP family can hold "
        "(settings.rulesPerSecurityGroup; each CIDR counts once per port range): merge the "
        "listener's ports into fewer ranges, narrow the networks, or raise "
        "settings.rulesPerSecurityGroup")))


def weight(rules: list[Rule]) -> dict[Dim, int]:
    out: dict[Dim, int] = defaultdict(int)
    for r in rules:
        for fam, w in r.weights.items():
            out[(r.direction, fam)] += w
    return dict(out)


def place(rules: list[Rule], quota: int, most: int) -> list[Rule] | None:
    """The rules with their group, or None if `most` groups of `quota` cannot hold them."""
    if all(w <= quota for w in weight(rules).values()):
        return rules
    # Rules naming groups first: they then stay in the segment's own group when the
    # address rules around them change, so editing a network moves no reference.
    order = sorted(rules, key=lambda r: (r.peer is None, r.prefix_list is None,
                                         -max(r.weights.values()), r.key))
    bins: list[dict[Dim, int]] = []
    out = []
    for r in order:
        need = {(r.direction, fam): w for fam, w in r.weights.items()}
        if any(w > quota for w in need.values()):
            return None
        fits = [i for i, used in enumerate(bins) if all(used.get(d, 0) + w <= quota for d, w in need.items())]
        if fits:
            i = fits[0]
        elif len(bins) < most:
            bins.append({})
            i = len(bins) - 1
        else:
            return None
        for d, w in need.items():
            bins[i][d] = bins[i].get(d, 0) + w
        out.append(replace(r, group=i))
    return sorted(out, key=lambda r: r.key)


def refusal(intent: Intent, space: Space, seg: str, rules: list[Rule], settings: AwsSettings) -> Problem:
    quota, most = settings.rules_per_security_group, settings.groups_per_interface
    heavy = [(w, d) for d, w in weight(rules).items() if w > quota * most] or \
        [max((w, d) for d, w in weight(rules).items())]
    w, (direction, fam) = max(heavy)
    way = "outbound" if direction == EGRESS else "inbound"
    return intent.segment_problem(seg, (
        f"its security group rules weigh {w} {way} IPv{fam} ({_causes(intent, space, seg, direction, fam)}), "
        f"more than {most} group{'s' if most > 1 else ''} of {quota} rules per direction and IP family "
        f"can hold (settings.securityGroupsPerInterface, settings.rulesPerSecurityGroup; each CIDR "
        f"counts once per port range, a prefix list as its max entries, a rule naming a segment once "
        f"per family): merge the ports of flows to wide networks into fewer ranges, narrow the "
        f"networks, raise settings.rulesPerSecurityGroup, or let members attach more groups with "
        f"settings.securityGroupsPerInterface (AWS allows up to 16, and rules per group x groups "
        f"per interface up to 1,000)"), key="")


def _causes(intent: Intent, space: Space, seg: str, direction: str, fam: int) -> str:
    """The heaviest contributors, e.g. "internet: 47 CIDRs x 3 port ranges"."""
    parts: list[tuple[int, str]] = []
    refs = 0
    for flow in flows_of(intent, seg, direction):
        peer = other_end(flow, direction)
        n_ports = len(spans(flow.ports))
        if peer.kind == "network":
            n = len(network_cidrs(space, peer.name, fam))
            if n:
                parts.append((n * n_ports, f"{peer.name}: {n} CIDR{'s' if n > 1 else ''} x {n_ports} "
                              f"port range{'s' if n_ports > 1 else ''}"))
        elif peer.kind == "segment" and fam in families(intent, peer.name) & families(intent, seg):
            refs += n_ports
    if refs:
        parts.append((refs, f"{refs} rule{'s' if refs > 1 else ''} naming segments"))
    parts.sort(key=lambda p: (-p[0], p[1]))
    return "; ".join(text for _, text in parts[:3]) or "rules naming segments"
