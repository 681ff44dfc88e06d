"""Read an AWS plan back with the documented semantics (cloud-semantics.md 1.1, 1.8).

Security groups: allow-only, stateful, the union of every rule of the group;
a connection needs egress at the source's group and ingress at the
destination's. `-1` is every protocol and port; a protocol number other than
tcp/udp/icmp/icmpv6 allows every port. A rule referencing a group matches the
members of the segment that group belongs to (found from the group's tags).

Network ACLs, when a segment's subnet has one: a second layer, stateless,
entries by ascending rule number, first match wins, then deny. A connection
leaves a subnet only if outbound allows it AND inbound allows the replies on
every ephemeral port (and mirrored on entry). Traffic inside one subnet does
not cross its NACL.

Where a record says more than the model can hold (one ICMP type, one protocol
number among "other", a prefix list, a group of no segment), the reading
leans to allowing more, so that `verify` reports an opening rather than
hiding one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from cloudfence.addresses import AddressSet, record_cidr
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.ordered import Atom, OrderedRule, atoms, atoms_to_set
from cloudfence.ordered import first_match as ordered_first_match
from cloudfence.plan import Plan, Resource, ref_name
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.aws.boxes import ANY
from cloudfence.providers.aws.nacl import EPHEMERAL
from cloudfence.providers.aws.names import TAG_SEGMENT
from cloudfence.providers.aws.wire import (
    EGRESS_RULE,
    INGRESS_RULE,
    LEGACY_RULE,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
    PROTOCOL_NAMES,
    SECURITY_GROUP,
    SUBNET,
)
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability

NACL_LAYER = "nacl"


def evaluate_plan(plan: Plan, intent: Intent, governed: frozenset[str], target: str = "aws") -> Reachability:
    reach = Reachability(target, governed)
    group_segment = {r.name: _segment_tag(r) for r in plan.by_type(SECURITY_GROUP)}
    for rtype, direction in ((EGRESS_RULE, EGRESS), (INGRESS_RULE, INGRESS)):
        for rule in plan.by_type(rtype):
            seg = group_segment.get(ref_name(rule.inputs.get("securityGroupId")) or "")
            if seg is None or seg not in governed:
                continue  # a group no segment's workloads carry
            ports = sg_ports(rule.inputs)
            peer = sg_peer(rule.inputs, group_segment)
            if peer is not None:
                reach.allow(seg, direction, peer, ports)
    for seg, direction, inputs, peer in _other_rule_forms(plan, group_segment):
        if seg in governed:
            reach.allow(seg, direction, peer, sg_ports(inputs))
    _network_acls(plan, reach)
    return reach


_Found = Iterator[tuple[str, str, dict[str, Any], Peer]]


def _other_rule_forms(plan: Plan, group_segment: dict[str, str | None]) -> _Found:
    """Inline group rules and legacy `ec2.SecurityGroupRule`s. cloudfence never
    writes them, but AWS enforces them, so a plan that has them is read with
    them: verify must not be blind to an opening written the old way."""
    for group in plan.by_type(SECURITY_GROUP):
        seg = group_segment.get(group.name)
        for key, direction in (("ingress", INGRESS), ("egress", EGRESS)):
            for rule in group.inputs.get(key) or ():
                yield from _legacy_peers(seg, direction, rule, group_segment)
    for rule in plan.by_type(LEGACY_RULE):
        seg = group_segment.get(ref_name(rule.inputs.get("securityGroupId")) or "")
        direction = EGRESS if rule.inputs.get("type") == "egress" else INGRESS
        yield from _legacy_peers(seg, direction, rule.inputs, group_segment)


def _legacy_peers(seg: str | None, direction: str, rule: dict[str, Any],
                  group_segment: dict[str, str | None]) -> _Found:
    if seg is None or not isinstance(rule, dict):
        return
    inputs = {"ipProtocol": str(rule.get("protocol", "")), "fromPort": rule.get("fromPort"),
              "toPort": rule.get("toPort")}
    if inputs["ipProtocol"] in ("-1", "all"):
        inputs = {"ipProtocol": "-1"}
    for key in ("cidrBlocks", "ipv6CidrBlocks"):
        for cidr in rule.get(key) or ():
            yield seg, direction, inputs, Peer(addresses=AddressSet.from_cidrs(
                [record_cidr(cidr)]))
    groups = list(rule.get("securityGroups") or ())
    if rule.get("sourceSecurityGroupId"):
        groups.append(rule["sourceSecurityGroupId"])
    for group in groups:
        other = group_segment.get(ref_name(group) or "")
        yield seg, direction, inputs, Peer.segment(other) if other else Peer.all()
    if rule.get("self"):
        yield seg, direction, inputs, Peer.segment(seg)
    if rule.get("prefixListIds"):
        yield seg, direction, inputs, Peer.all()


# ------------------------------------------------------------ security groups


def _segment_tag(r: Resource) -> str | None:
    tags = r.inputs.get("tags") or {}
    return tags.get(TAG_SEGMENT) if isinstance(tags, dict) else None


def sg_peer(inputs: dict[str, Any], group_segment: dict[str, str | None]) -> Peer | None:
    if inputs.get("referencedSecurityGroupId") is not None:
        name = ref_name(inputs["referencedSecurityGroupId"])
        seg = group_segment.get(name or "")
        # A group outside the plan (a literal sg-... id) may hold anyone.
        return Peer.segment(seg) if seg else Peer.all()
    cidrs = [inputs[k] for k in ("cidrIpv4", "cidrIpv6") if inputs.get(k)]
    if cidrs:
        return Peer(addresses=AddressSet.from_cidrs(
            [record_cidr(c) for c in cidrs]))
    if inputs.get("prefixListId"):
        return Peer.all()  # addresses unknown offline
    return None  # AWS rejects a rule with no peer


def _port_range(name: str, inputs: dict[str, Any]) -> PortSet:
    lo, hi = inputs.get("fromPort"), inputs.get("toPort")
    if not isinstance(lo, int) or not isinstance(hi, int) or not 0 <= lo <= hi <= 65535:
        return PortSet()  # AWS rejects such an entry: nothing gets through
    return PortSet({name: IntervalSet.of(lo, hi)})


def sg_ports(inputs: dict[str, Any]) -> PortSet:
    proto = str(inputs.get("ipProtocol", "")).lower()
    name = PROTOCOL_NAMES.get(proto)
    if name == ANY:
        return PortSet.any()
    if name in ("tcp", "udp"):
        return _port_range(name, inputs)
    if name is None:
        return PortSet({"other": FULL}) if proto.isdigit() else PortSet()
    return PortSet({name: FULL})  # icmp/icmpv6 (any type read as all), sctp: every port


# ------------------------------------------------------------ network ACLs


def acl_ports(inputs: dict[str, Any], allow: bool) -> PortSet:
    """What one entry matches. Partial matches the model cannot hold widen an
    allow and narrow a deny (to nothing), so the reading never hides an opening."""
    proto = str(inputs.get("protocol", "")).lower()
    name = PROTOCOL_NAMES.get(proto)
    if name == ANY:
        return PortSet.any()
    if name in ("tcp", "udp"):
        return _port_range(name, inputs)
    if name in ("icmp", "icmpv6"):
        every = inputs.get("icmpType", -1) == -1 and inputs.get("icmpCode", -1) == -1
        return PortSet({name: FULL}) if every or allow else PortSet()
    if name == "sctp":
        return PortSet({"sctp": FULL})
    return PortSet({"other": FULL}) if allow and proto.isdigit() else PortSet()


def _entry_cidr(inputs: dict[str, Any]) -> AddressSet | None:
    text = inputs.get("cidrBlock") or inputs.get("ipv6CidrBlock")
    if not text:
        return None
    return AddressSet.from_cidrs([record_cidr(text)])


Table = dict[Atom, PortSet]  # (family, lo, hi) address atom -> allowed


def first_match(entries: list[Resource]) -> tuple[Table, Table]:
    """Allowed ports per address atom, outbound and inbound, for one NACL."""
    rules: dict[bool, list[OrderedRule]] = {True: [], False: []}
    for e in entries:
        cidr = _entry_cidr(e.inputs)
        if cidr is None or not isinstance(e.inputs.get("ruleNumber"), int):
            continue
        allow = e.inputs.get("ruleAction") == "allow"
        rules[bool(e.inputs.get("egress", False))].append(
            OrderedRule(e.inputs["ruleNumber"], allow, cidr, acl_ports(e.inputs, allow)))
    grid = atoms(rules[True], rules[False])
    return ordered_first_match(rules[True], grid), ordered_first_match(rules[False], grid)


def _replies(ports: PortSet) -> PortSet:
    """Protocols of `ports` whose replies pass: every ephemeral port for tcp/udp,
    the protocol itself otherwise (NACLs ignore other protocols' ports)."""
    return PortSet((p, FULL) for p, ivs in ports.items()
                   if (EPHEMERAL.issubset(ivs) if p in ("tcp", "udp") else ivs == FULL))


def acl_layer(entries: list[Resource]) -> dict[str, list[tuple[AddressSet, PortSet]]]:
    """What a NACL lets through per direction, replies included, as (addresses, ports)."""
    out_t, in_t = first_match(entries)
    result: dict[str, list[tuple[AddressSet, PortSet]]] = {}
    for direction, fwd, back in ((EGRESS, out_t, in_t), (INGRESS, in_t, out_t)):
        grouped: dict[PortSet, list[Atom]] = defaultdict(list)
        for atom, ports in fwd.items():
            ok = PortSet((p, ivs) for p, ivs in ports.items() if _replies(back[atom]).get(p))
            if ok:
                grouped[ok].append(atom)
        result[direction] = [(atoms_to_set(found), ports) for ports, found in grouped.items()]
    return result


def _acl_attachments(plan: Plan, subnets: Iterable[str]) -> tuple[dict[str, list[Resource]], dict[str, str]]:
    """Each NACL's entries, and the NACL of each subnet (a subnet has one; the last one wins)."""
    entries: dict[str, list[Resource]] = defaultdict(list)
    for e in plan.by_type(NETWORK_ACL_RULE):
        acl = ref_name(e.inputs.get("networkAclId"))
        if acl:
            entries[acl].append(e)
    known = set(subnets)
    acl_of_subnet: dict[str, str] = {}
    for nacl in plan.by_type(NETWORK_ACL):
        for value in nacl.inputs.get("subnetIds") or []:
            name = ref_name(value)
            if name in known:
                acl_of_subnet[name] = nacl.name
    return entries, acl_of_subnet


def _network_acls(plan: Plan, reach: Reachability) -> None:
    subnet_of: dict[str, tuple[str | None, str | None]] = {
        r.name: (_segment_tag(r), r.inputs.get("cidrBlock")) for r in plan.by_type(SUBNET)}
    entries, acl_of_subnet = _acl_attachments(plan, subnet_of)
    segs_subnets: dict[str, list[str]] = defaultdict(list)
    for name, (seg, _) in subnet_of.items():
        if seg in reach.governed:
            segs_subnets[seg].append(name)
    with_acl = {seg for seg, names in segs_subnets.items() if any(n in acl_of_subnet for n in names)}
    reach.add_layer(NACL_LAYER, with_acl)
    layers = {acl: acl_layer(entries[acl]) for acl in set(acl_of_subnet.values())}
    for seg in sorted(with_acl):
        for subnet in sorted(segs_subnets[seg]):
            acl = acl_of_subnet.get(subnet)
            _subnet_layer(reach, seg, layers[acl] if acl else None, subnet_of[subnet][1])


def _subnet_layer(reach: Reachability, seg: str, allowed: dict[str, list[tuple[AddressSet, PortSet]]] | None,
                  cidr: str | None) -> None:
    """What one subnet of a segment lets through at the NACL layer."""
    if allowed is None:  # the VPC's default NACL allows everything
        for direction in (EGRESS, INGRESS):
            reach.allow(seg, direction, Peer.all(), PortSet.any(), layer=NACL_LAYER)
        return
    for direction, pairs in allowed.items():
        for addrs, ports in pairs:
            reach.allow(seg, direction, Peer(addresses=addrs), ports, layer=NACL_LAYER)
    if cidr:  # inside the subnet the NACL is not consulted
        own = Peer.cidrs([record_cidr(cidr)])
        for direction in (EGRESS, INGRESS):
            reach.allow(seg, direction, own, PortSet.any(), layer=NACL_LAYER)
