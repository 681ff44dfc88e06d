"""What Azure cannot express or hold, found before anything is built: each
problem names the flow, the segment (with its count) or the setting."""

from __future__ import annotations

from cloudfence.errors import Problem, did_you_mean
from cloudfence.intent import Intent
from cloudfence.providers.azure.compile import address_space, planned_rules
from cloudfence.providers.azure.priorities import SLOTS
from cloudfence.providers.azure.rules import Counts, count
from cloudfence.providers.azure.settings import MAX_ASGS_PER_NSG, AzureSettings
from cloudfence.space import Space, space_for


def check_intent(intent: Intent, settings: AzureSettings) -> list[Problem]:
    problems = setting_problems(intent, settings)
    if problems:
        return problems  # the rest reads the settings
    space = space_for(intent, settings)  # dead flows and bridges: BaseProvider.check_meaning
    problems += icmp_problems(intent, space)
    problems += network_problems(intent, settings)
    if not problems:
        rules = planned_rules(intent, settings)
        problems += quota_problems(intent, count(intent, rules), settings.rules_per_nsg,
                                   settings.prefixes_per_nsg)
    return problems


def setting_problems(intent: Intent, settings: AzureSettings) -> list[Problem]:
    out = []
    if settings.virtual_network_name is not None and settings.address_space is None:
        out.append(Problem("settings.addressSpace", (
            "required with virtualNetworkName: list the existing network's address space (az network "
            "vnet show --query addressSpace.addressPrefixes), so that internet and the VirtualNetwork "
            "tag mean the right addresses")))
    for seg in settings.load_balancer_probes:
        if seg not in intent.segments:
            out.append(Problem(f"settings.loadBalancerProbes.{seg}",
                               f"unknown segment '{seg}'{did_you_mean(seg, intent.segments)}"))
    return out


def icmp_problems(intent: Intent, space: Space) -> list[Problem]:
    """Azure's one Icmp protocol matches ICMP and ICMPv6 alike. Between two ASGs it
    cannot be narrowed to one family; with addresses it can (per-family rules)."""
    out = []
    for flow in intent.flows:
        if not (flow.src.is_segment and flow.dst.is_segment) or flow.ports.is_any():
            continue
        common = space.families(flow.src) & space.families(flow.dst)
        has4, has6 = bool(flow.ports.get("icmp")), bool(flow.ports.get("icmpv6"))
        if (has4 and not has6 and 6 in common) or (has6 and not has4 and 4 in common):
            one, other = ("icmp", "icmpv6") if has4 else ("icmpv6", "icmp")
            out.append(intent.problem(flow, (
                f"Azure's Icmp protocol matches ICMP and ICMPv6 alike, and '{flow.src}' and '{flow.dst}' "
                f"may both use IPv4 and IPv6, so {one} alone would also open {other}: write both, or give "
                f"them cidrs of one family")))
    return out


def network_problems(intent: Intent, settings: AzureSettings) -> list[Problem]:
    out = []
    given = settings.internal_space()
    for seg, segment in intent.segments.items():
        if given is not None and segment.cidrs and not segment.addresses.issubset(given):
            outside = [str(c) for c in segment.cidrs if not segment.addresses.issubset(given)]
            out.append(intent.segment_problem(seg, (
                f"{', '.join(outside)} is outside settings.addressSpace "
                f"({', '.join(settings.address_space or [])}): the segment's members live in the virtual "
                "network; widen addressSpace or move the cidr")))
        if not settings.network_mode or not segment.cidrs:
            continue
        v4 = [c for c in segment.cidrs if c.version == 4]
        if not v4:
            out.append(intent.segment_problem(seg, (
                "Azure subnets need an IPv4 prefix (IPv6 is added to dual-stack subnets): add an IPv4 "
                "cidr, or name an existing network with settings.virtualNetworkName")))
        for c in segment.cidrs:
            if c.version == 4 and c.prefixlen > 29:
                out.append(intent.segment_problem(seg, (
                    f"{c} is too small for an Azure subnet (at most /29): widen it")))
            if c.version == 6 and c.prefixlen != 64:
                out.append(intent.segment_problem(seg, (
                    f"{c}: Azure IPv6 subnets are exactly /64: give the segment a /64")))
    if settings.network_mode and not address_space(intent, settings):
        out.append(Problem("settings.addressSpace", (
            "cloudfence creates the virtual network from the segments' cidrs, and no segment has one: "
            "give segments cidrs, set addressSpace, or name an existing settings.virtualNetworkName")))
    return out


def quota_problems(intent: Intent, counts: dict[str, Counts], rules_per_nsg: int,
                   prefixes_per_nsg: int) -> list[Problem]:
    out = []
    for seg, c in counts.items():
        if c.rules > rules_per_nsg:
            out.append(intent.segment_problem(seg, (
                f"its NSG needs {c.rules} security rules (the two deny-all rules included), over the quota "
                f"of {rules_per_nsg} (settings.rulesPerNsg): merge ports or peers into fewer flows"), key=""))
        for what, n in (("source", c.sources), ("destination", c.destinations)):
            if n > prefixes_per_nsg:
                out.append(intent.segment_problem(seg, (
                    f"its NSG needs {n} {what} address prefixes, over the quota of {prefixes_per_nsg} "
                    f"(settings.prefixesPerNsg): narrow or merge the networks its flows name"), key=""))
        if c.asgs > MAX_ASGS_PER_NSG:
            out.append(intent.segment_problem(seg, (
                f"its NSG references {c.asgs} application security groups, over Azure's limit of "
                f"{MAX_ASGS_PER_NSG} per NSG: split the segment's flows across fewer peer segments"), key=""))
        for direction, n in c.per_direction.items():
            if n > SLOTS:
                out.append(intent.segment_problem(seg, (
                    f"its NSG needs {n} {direction.lower()} allow rules, more than the {SLOTS} priorities "
                    f"below the deny-all (100-4095)"), key=""))
    return out
