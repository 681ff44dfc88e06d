"""Read an AWS plan back with the documented semantics (cloud-semantics.md 1.1, 1.8).

Security groups: allow-only, stateful, the union of every rule of every
group a segment's members attach (each group tagged with the segment); a
connection needs egress at the source's groups and ingress at the
destination's. `-1` is every protocol and port; a protocol number other than
tcp/udp/icmp/icmpv6 allows every port. A rule referencing a group matches the
members of the segment that group belongs to (found from the group's tags);
a rule naming a prefix list of the plan matches exactly its entries.

The records grant each segment its groups (and subnets): that identity is
handed to verify, which checks the plan exports exactly it. Members of a
segment without a cidr may be anywhere in the VPC (the created one's CIDR, or
the `vpcCidrs` the plan was compiled with; while those are unknown, anywhere
in the private ranges and global IPv6).

With SecurityGroupPolicies in the plan (settings.securityGroupsForPods), who
attaches a pod segment's groups is what the policies say (pods.py): the rules
of a group apply to, and a reference to it matches, whoever attaches it.

Network ACLs, when a segment's subnet has one: a second layer, stateless,
entries by ascending rule number, first match wins, then deny. A connection
leaves a subnet only if outbound allows it AND inbound allows the replies on
every ephemeral port (and mirrored on entry). Traffic inside one subnet does
not cross its NACL.

Where a record says more than the model can hold (one ICMP type, one protocol
number among "other", a prefix list outside the plan, a group of no segment),
the reading leans to allowing more, so that `verify` reports an opening
rather than hiding one.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cloudfence.addresses import GLOBAL_V6, PRIVATE, V4_MAX, V6_MAX, AddressSet
from cloudfence.endpoints import LOAD_BALANCER, OBJECT_STORAGE
from cloudfence.errors import CloudfenceError, Problem
from cloudfence.intent import Intent
from cloudfence.intervals import IntervalSet
from cloudfence.plan import REF, Plan, Resource, ref
from cloudfence.ports import FULL, PortSet
from cloudfence.providers.aws import pods
from cloudfence.providers.aws.boxes import ANY
from cloudfence.providers.aws.nacl import EPHEMERAL
from cloudfence.providers.aws.names import TAG_ENDPOINT, TAG_GROUP, TAG_SEGMENT
from cloudfence.providers.aws.routetables import route_assumptions, route_problems
from cloudfence.providers.aws.routing import ROUTE_INPUTS, is_s3_service
from cloudfence.providers.aws.wire import (
    EGRESS_RULE,
    INGRESS_RULE,
    LEGACY_RULE,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
    PREFIX_LIST,
    PROTOCOL_NAMES,
    SECURITY_GROUP,
    SUBNET,
    VPC,
    VPC_ENDPOINT,
)
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability

_COMMON = frozenset({"tags", "region"})
_RULE = frozenset({"securityGroupId", "ipProtocol", "fromPort", "toPort", "cidrIpv4", "cidrIpv6",
                   "prefixListId", "referencedSecurityGroupId", "description"})
_LEGACY = frozenset({"type", "securityGroupId", "protocol", "fromPort", "toPort", "cidrBlocks",
                     "ipv6CidrBlocks", "securityGroups", "sourceSecurityGroupId", "self", "prefixListIds",
                     "description"})
# The inputs evaluate reads, per record type: any other input (an IPv6 block on the VPC or
# a subnet, an unknown field) could change what the records allow, so a plan holding one is
# refused rather than judged as if it were absent.
READ_INPUTS: dict[str, frozenset[str]] = {
    VPC: _COMMON | {"cidrBlock", "enableDnsHostnames", "enableDnsSupport"},
    SUBNET: _COMMON | {"cidrBlock", "vpcId"},
    SECURITY_GROUP: _COMMON | {"description", "vpcId", "name", "ingress", "egress"},
    INGRESS_RULE: _COMMON | _RULE,
    EGRESS_RULE: _COMMON | _RULE,
    LEGACY_RULE: _COMMON | _LEGACY,
    NETWORK_ACL: _COMMON | {"vpcId", "subnetIds"},
    NETWORK_ACL_RULE: _COMMON | {"networkAclId", "ruleNumber", "egress", "protocol", "ruleAction",
                                 "cidrBlock", "ipv6CidrBlock", "fromPort", "toPort", "icmpType", "icmpCode"},
    PREFIX_LIST: _COMMON | {"addressFamily", "entries", "maxEntries", "name"},
    **{t: _COMMON | keys for t, keys in ROUTE_INPUTS.items()},
    pods.POLICY: pods.READ,
}


def unread_inputs(plan: Plan) -> list[Problem]:
    """Records and inputs of a plan that evaluate does not read: verify refuses them."""
    out = []
    for r in plan.resources:
        known = READ_INPUTS.get(r.type)
        if known is None:
            out.append(Problem(f"resources.{r.name}", f"record type {r.type} is not one aws writes or "
                               "verify reads: remove it, or regenerate the plan with cloudfence plan"))
            continue
        for key in sorted(set(r.inputs) - known):
            kind = r.type.rsplit(":", 1)[-1]
            out.append(Problem(f"resources.{r.name}.inputs.{key}", f"an input verify does not read on "
                               f"{kind}: it may change what the records allow (e.g. IPv6 addresses "
                               "for the members); remove it, or regenerate the plan"))
        why = _partial(r)
        if why:
            out.append(Problem(f"resources.{r.name}", f"{why}: verify cannot prove such a rule "
                               "allows what a flow needs (the spec has no such form); regenerate the plan"))
    return out


def _partial(r: Resource) -> str | None:
    """A rule matching part of what the model holds as one class: some ICMP types, or one
    protocol number of the many the model calls `other`. Read as all of it, a narrowing
    (a flow's ICMP reduced to echo, `any` split into a few protocols) would go unseen."""
    if r.type in (INGRESS_RULE, EGRESS_RULE, LEGACY_RULE, NETWORK_ACL_RULE):
        key = "protocol" if r.type in (LEGACY_RULE, NETWORK_ACL_RULE) else "ipProtocol"
        proto = str(r.inputs.get(key, "")).lower()
        name = PROTOCOL_NAMES.get(proto)
        if name is None and proto.isdigit():
            return f"a rule for protocol number {proto} alone"
        fields = ("icmpType", "icmpCode") if r.type == NETWORK_ACL_RULE else ("fromPort", "toPort")
        if name in ("icmp", "icmpv6") and any(r.inputs.get(f, -1) not in (-1, None) for f in fields):
            return f"a rule for some {name} types only"
    return None

NACL_LAYER = "nacl"


def evaluate_plan(plan: Plan, intent: Intent, governed: frozenset[str], target: str = "aws") -> Reachability:
    problems = unread_inputs(plan)
    problems = problems or route_problems(plan, intent)
    attached, found = pods.attachment(plan, intent) if not problems else (None, [])
    if problems or found:
        raise CloudfenceError(problems + found)
    reach = Reachability(target, governed)
    group_segment = {r.name: _segment_tag(r) or _endpoint_tag(r) for r in plan.by_type(SECURITY_GROUP)}
    endpoints = {seg for seg in group_segment.values() if seg and seg.startswith("@")}
    for name in sorted(endpoints):  # the load balancer's group: an end with rules of its own
        reach.declare(name, load_balancer_region(plan, intent), f"{name} (its security group)",
                      judged=True)
    # Who attaches each group: its segment's members, or as the SecurityGroupPolicies say.
    owners = attached.owners(group_segment) if attached else {g: {s} for g, s in group_segment.items() if s}
    outsiders = frozenset(attached.outsiders) if attached else frozenset()
    if attached:
        pods.apply(attached, reach, hidden_region(plan, intent))
    lists = prefix_lists(plan)
    _group_rules(plan, reach, group_segment, owners, outsiders, lists)
    for holder, direction, inputs, peer in _other_rule_forms(plan, _Groups(group_segment, owners, outsiders),
                                                           lists):
        for end in sorted(owners.get(holder, set()) & (governed | outsiders)):
            reach.allow(end, direction, peer, sg_ports(inputs))
    _network_acls(plan, reach)
    _identities(plan, reach)
    region = hidden_region(plan, intent)
    for name, segment in intent.segments.items():
        if name in governed and not segment.cidrs:
            reach.region(name, region)
    reach.assumptions += (_assumptions(plan, bool(endpoints)) + route_assumptions(plan)
                          + pods.assumptions(attached, intent))
    return reach


def _group_rules(plan: Plan, reach: Reachability, group_segment: dict[str, str | None],
                 owners: dict[str, set[str]], outsiders: frozenset[str], lists: dict[str, Peer]) -> None:
    """The standalone rules, on the ends whose members attach their group."""
    ends = reach.ends
    carriers = {g: sorted(o & ends) for g, o in owners.items()}  # else a group no workload carries
    by_group: dict[Any, Peer] = {}  # a referenced group's peer, found once
    for rtype, direction in ((EGRESS_RULE, EGRESS), (INGRESS_RULE, INGRESS)):
        for rule in plan.by_type(rtype):
            peer = sg_peer(rule.inputs, group_segment, lists)
            if peer is None:
                continue  # AWS rejects a rule with no peer
            named = rule.inputs.get("referencedSecurityGroupId")
            if isinstance(named, str):
                if named not in by_group:
                    by_group[named] = pods.group_peer(peer, rule.inputs, group_segment, owners, outsiders)
                peer = by_group[named]
            for seg in carriers.get(_ref_name(rule.inputs.get("securityGroupId")) or "", ()):
                reach.allow(seg, direction, peer, sg_ports(rule.inputs))


def _assumptions(plan: Plan, balancer: bool) -> list[str]:
    out = ["traffic AWS never filters (the Amazon DNS server, instance metadata 169.254.169.254, "
           "time sync) is outside the rules"]
    if balancer:
        out.append("only load balancers attach the group exports['@load-balancer']: any network "
                   "interface that attaches it gets what @load-balancer is allowed (limit "
                   "ec2:ModifyNetworkInterfaceAttribute on it)")
    if any(TAG_GROUP in (g.inputs.get("tags") or {}) for g in plan.by_type(SECURITY_GROUP)):
        out.append("members of a segment attach every group of it (securityGroupIds)")
    return out


def prefix_lists(plan: Plan) -> dict[str, Peer]:
    """The plan's customer-managed prefix lists (name -> exactly their entries) and
    the AWS-managed ones its settings resolve a platform endpoint to (id -> it)."""
    out = {}
    for pl in plan.by_type(PREFIX_LIST):
        cidrs = [e.get("cidr") for e in pl.inputs.get("entries") or () if isinstance(e, dict)]
        out[pl.name] = Peer(addresses=AddressSet.from_cidrs(
            [ipaddress.ip_network(c, strict=False) for c in cidrs if isinstance(c, str)]))
    settings = plan.settings or {}
    managed = settings.get("objectStoragePrefixList")
    if isinstance(managed, str):
        out[managed] = Peer(platform=frozenset([OBJECT_STORAGE]))
    region = settings.get("region")
    for ep in plan.by_type(VPC_ENDPOINT):
        # An S3 gateway endpoint's prefix list, by reference (a plan) or by id (deployed state).
        if ep.inputs.get("vpcEndpointType") == "Gateway" and \
                is_s3_service(ep.inputs.get("serviceName"), region if isinstance(region, str) else None):
            out[ref(ep.name, "prefixListId")] = Peer(platform=frozenset([OBJECT_STORAGE]))
            if isinstance(ep.inputs.get("prefixListId"), str):
                out[ep.inputs["prefixListId"]] = Peer(platform=frozenset([OBJECT_STORAGE]))
    return out


def hidden_region(plan: Plan, intent: Intent) -> AddressSet:
    """Where members of a segment without a cidr may be: in the VPC, less every segment cidr."""
    vpc = _vpc_space(plan)
    # The VPC's CIDRs unknown: its IPv6 prefix may be any global one.
    region = vpc if vpc is not None else PRIVATE | AddressSet.from_cidrs([GLOBAL_V6])
    taken = AddressSet()
    for seg in intent.segments.values():
        taken = taken | seg.addresses
    return region - taken


def _vpc_space(plan: Plan) -> AddressSet | None:
    """The VPC's CIDRs: the VPC record's (the created VPC, whose CIDR compile may have
    derived), else the settings' (an existing VPC, or deployed groups read without
    their VPC); None while unknown."""
    vpcs = [r.inputs.get("cidrBlock") for r in plan.by_type(VPC)]
    cidrs = [c for c in vpcs if isinstance(c, str)]
    if not cidrs and not vpcs:
        settings = plan.settings or {}
        listed = settings.get("vpcCidrs") or [settings.get("vpcCidr")]
        cidrs = [c for c in listed if isinstance(c, str)]
    return AddressSet.from_cidrs([ipaddress.ip_network(c, strict=False) for c in cidrs]) if cidrs else None


def _identities(plan: Plan, reach: Reachability) -> None:
    """What the records grant each segment: the groups tagged with it (its own
    first, then its extra groups in order) and the subnets tagged with it; and the
    load balancer's group, which a load balancer that attaches the export becomes."""
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    balancers = sorted(g.name for g in plan.by_type(SECURITY_GROUP) if _endpoint_tag(g))
    if balancers:
        reach.identity(LOAD_BALANCER, {"securityGroupId": ref(balancers[0])})
    for g in plan.by_type(SECURITY_GROUP):
        seg = _segment_tag(g)
        if seg is not None:
            number = (g.inputs.get("tags") or {}).get(TAG_GROUP, "1")
            groups[seg].append((int(number) if str(number).isdigit() else 0, g.name))
    subnets: dict[str, list[tuple[tuple[int, int], str]]] = defaultdict(list)
    for s in plan.by_type(SUBNET):
        seg, cidr = _segment_tag(s), s.inputs.get("cidrBlock")
        if seg is not None and isinstance(cidr, str):
            net = ipaddress.ip_network(cidr, strict=False)
            subnets[seg].append(((int(net.network_address), net.prefixlen), s.name))
    for seg in sorted(reach.governed):
        names = [name for _, name in sorted(groups.get(seg, []))]
        granted: dict[str, Any] = {"securityGroupId": ref(names[0]) if names else None,
                                   "securityGroupIds": [ref(n) for n in names]}
        if subnets.get(seg):
            nets = [ref(name) for _, name in sorted(subnets[seg])]
            granted.update(subnetId=nets[0], subnetIds=nets)
        reach.identity(seg, granted)


_Found = Iterator[tuple[str, str, dict[str, Any], Peer]]


@dataclass(frozen=True)
class _Groups:
    """Each group's segment (by its tag) and who attaches it (see pods.Attachment)."""

    segment: dict[str, str | None]
    owners: dict[str, set[str]]
    outsiders: frozenset[str]

    def peer(self, value: Any) -> Peer:
        """Whoever attaches the group a rule references; a group outside the plan may be anyone's."""
        other = self.segment.get(_ref_name(value) or "")
        found = Peer.segment(other) if other else Peer.all()
        return pods.group_peer(found, {"referencedSecurityGroupId": value}, self.segment, self.owners,
                               self.outsiders)


def _other_rule_forms(plan: Plan, groups: _Groups, lists: dict[str, Peer]) -> _Found:
    """Inline group rules and legacy `ec2.SecurityGroupRule`s, by the group that holds
    them. cloudfence never writes them, but AWS enforces them, so a plan that has them
    is read with them: verify must not be blind to an opening written the old way."""
    for group in plan.by_type(SECURITY_GROUP):
        for key, direction in (("ingress", INGRESS), ("egress", EGRESS)):
            for rule in group.inputs.get(key) or ():
                yield from _legacy_peers(group.name, direction, rule, groups, lists)
    for rule in plan.by_type(LEGACY_RULE):
        holder = _ref_name(rule.inputs.get("securityGroupId")) or ""
        direction = EGRESS if rule.inputs.get("type") == "egress" else INGRESS
        yield from _legacy_peers(holder, direction, rule.inputs, groups, lists)


def _legacy_peers(holder: str, direction: str, rule: dict[str, Any], groups: _Groups,
                  lists: dict[str, Peer]) -> _Found:
    if groups.segment.get(holder) is None or not isinstance(rule, dict):
        return
    inputs = {"ipProtocol": str(rule.get("protocol", "")), "fromPort": rule.get("fromPort"),
              "toPort": rule.get("toPort")}
    if inputs["ipProtocol"] in ("-1", "all"):
        inputs = {"ipProtocol": "-1"}
    for key in ("cidrBlocks", "ipv6CidrBlocks"):
        for cidr in rule.get(key) or ():
            yield holder, direction, inputs, Peer(addresses=AddressSet.from_cidrs(
                [ipaddress.ip_network(cidr, strict=False)]))
    referenced = list(rule.get("securityGroups") or ())
    if rule.get("sourceSecurityGroupId"):
        referenced.append(rule["sourceSecurityGroupId"])
    if rule.get("self"):
        referenced.append(ref(holder))
    for group in referenced:
        yield holder, direction, inputs, groups.peer(group)
    for listed in rule.get("prefixListIds") or ():
        yield holder, direction, inputs, _list_peer(listed, lists)


# ------------------------------------------------------------ security groups


def _endpoint_tag(r: Resource) -> str | None:
    tags = r.inputs.get("tags")
    value = tags.get(TAG_ENDPOINT) if isinstance(tags, dict) else None
    return value if value == LOAD_BALANCER else None


def load_balancer_region(plan: Plan, intent: Intent) -> AddressSet:
    """Where the load balancer's nodes are: in the VPC (the private ranges while its
    CIDRs are unknown), at no segment's addresses."""
    vpc = _vpc_space(plan)
    region = vpc if vpc is not None else PRIVATE
    for seg in intent.segments.values():
        region = region - seg.addresses
    return region


def _segment_tag(r: Resource) -> str | None:
    tags = r.inputs.get("tags") or {}
    return tags.get(TAG_SEGMENT) if isinstance(tags, dict) else None


def _ref_name(value: Any) -> str | None:
    m = REF.match(value) if isinstance(value, str) else None
    return m.group("name") if m else None


def ref_output(value: Any) -> str | None:
    m = REF.match(value) if isinstance(value, str) else None
    return m.group("output") if m else None


def _list_peer(value: Any, lists: dict[str, Peer]) -> Peer:
    """A prefix list of the plan is exactly its entries, the settings' S3 list and an S3
    gateway endpoint's are `@object-storage`; any other (a literal pl-... id, another
    output of a record) has addresses unknown offline."""
    if isinstance(value, str) and value in lists:  # `${endpoint.prefixListId}`, a literal id
        return lists[value]
    if ref_output(value) not in (None, "id"):
        return Peer.all()
    name = _ref_name(value) or (value if isinstance(value, str) else None)
    if name in lists:
        return lists[name]
    return Peer.all()


def sg_peer(inputs: dict[str, Any], group_segment: dict[str, str | None],
            lists: dict[str, Peer] | None = None) -> Peer | None:
    if inputs.get("referencedSecurityGroupId") is not None:
        name = _ref_name(inputs["referencedSecurityGroupId"])
        seg = group_segment.get(name or "")
        # A group outside the plan (a literal sg-... id) may hold anyone.
        if seg and seg.startswith("@"):
            return Peer(others=frozenset([seg]))
        return Peer.segment(seg) if seg else Peer.all()
    cidrs = tuple(inputs[k] for k in ("cidrIpv4", "cidrIpv6") if inputs.get(k))
    if cidrs:
        plain = all(isinstance(c, str) for c in cidrs)
        return Peer(addresses=_cidr_addresses(cidrs) if plain else _addresses(cidrs))
    if inputs.get("prefixListId"):
        return _list_peer(inputs["prefixListId"], lists or {})
    return None  # AWS rejects a rule with no peer


def _addresses(cidrs: tuple[Any, ...]) -> AddressSet:
    return AddressSet.from_cidrs([ipaddress.ip_network(c, strict=False) for c in cidrs])


#: A CIDR recurs in one rule per port range; parsing it once per plan, not per
#: rule, keeps evaluate proportional to the distinct peers.
_cidr_addresses = functools.lru_cache(maxsize=4096)(_addresses)


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


def _entry_cidr(inputs: dict[str, Any]) -> tuple[int, int, int] | None:
    text = inputs.get("cidrBlock") or inputs.get("ipv6CidrBlock")
    if not text:
        return None
    net = ipaddress.ip_network(text, strict=False)
    return net.version, int(net.network_address), int(net.broadcast_address)


Table = dict[tuple[int, int, int], PortSet]  # (family, lo, hi) address atom -> allowed


def first_match(entries: list[Resource]) -> tuple[Table, Table]:
    """Allowed ports per address atom, outbound and inbound, for one NACL."""
    parsed = []
    for e in entries:
        cidr = _entry_cidr(e.inputs)
        if cidr is None or not isinstance(e.inputs.get("ruleNumber"), int):
            continue
        allow = e.inputs.get("ruleAction") == "allow"
        parsed.append((e.inputs["ruleNumber"], bool(e.inputs.get("egress", False)), allow, cidr,
                       acl_ports(e.inputs, allow)))
    parsed.sort(key=lambda p: (p[0], p[1]))
    cuts: dict[int, set[int]] = {4: {0}, 6: {0}}
    for _, _, _, (fam, lo, hi), _ in parsed:
        cuts[fam].update((lo, hi + 1))
    tables: tuple[Table, Table] = ({}, {})
    for fam, top in ((4, V4_MAX), (6, V6_MAX)):
        starts = sorted(c for c in cuts[fam] if c <= top)
        for i, lo in enumerate(starts):
            hi = starts[i + 1] - 1 if i + 1 < len(starts) else top
            for egress, table in ((True, tables[0]), (False, tables[1])):
                remaining, allowed = PortSet.any(), PortSet()
                for _, eg, allow, (f, clo, chi), ports in parsed:
                    if eg != egress or f != fam or not clo <= lo <= chi:
                        continue
                    hit = remaining & ports
                    if allow:
                        allowed = allowed | hit
                    remaining = remaining - hit
                table[(fam, lo, hi)] = allowed
    return tables


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
        grouped: dict[PortSet, list[tuple[int, int, int]]] = defaultdict(list)
        for atom, ports in fwd.items():
            ok = PortSet((p, ivs) for p, ivs in ports.items() if _replies(back[atom]).get(p))
            if ok:
                grouped[ok].append(atom)
        result[direction] = [(_atoms_to_set(atoms), ports) for ports, atoms in grouped.items()]
    return result


def _atoms_to_set(atoms: list[tuple[int, int, int]]) -> AddressSet:
    return AddressSet(IntervalSet((lo, hi) for f, lo, hi in atoms if f == 4),
                      IntervalSet((lo, hi) for f, lo, hi in atoms if f == 6))


def _network_acls(plan: Plan, reach: Reachability) -> None:
    """The NACL layer of each governed segment with a subnet that has a NACL: per
    subnet, its entries, or everything where the subnet keeps the VPC's default."""
    subnet_of: dict[str, tuple[str | None, str | None]] = {
        r.name: (_segment_tag(r), r.inputs.get("cidrBlock")) for r in plan.by_type(SUBNET)}
    acl_of_subnet = _acl_of_subnet(plan, subnet_of)
    segs_subnets: dict[str, list[str]] = defaultdict(list)
    for name, (seg, _) in subnet_of.items():
        if seg in reach.governed:
            segs_subnets[seg].append(name)
    with_acl = {seg for seg, names in segs_subnets.items() if any(n in acl_of_subnet for n in names)}
    reach.add_layer(NACL_LAYER, with_acl)
    entries = _acl_entries(plan)
    layers = {acl: acl_layer(entries[acl]) for acl in set(acl_of_subnet.values())}
    for seg in sorted(with_acl):
        for subnet in sorted(segs_subnets[seg]):
            acl = acl_of_subnet.get(subnet)
            _allow_subnet(reach, seg, subnet_of[subnet][1], layers[acl] if acl is not None else None)


def _acl_entries(plan: Plan) -> dict[str, list[Resource]]:
    """Each NACL's entries, by the NACL they reference."""
    entries: dict[str, list[Resource]] = defaultdict(list)
    for e in plan.by_type(NETWORK_ACL_RULE):
        acl = _ref_name(e.inputs.get("networkAclId"))
        if acl:
            entries[acl].append(e)
    return entries


def _acl_of_subnet(plan: Plan, subnet_of: dict[str, tuple[str | None, str | None]]) -> dict[str, str]:
    """The NACL associated with each subnet of the plan; a subnet has one, so the last wins."""
    acl_of_subnet: dict[str, str] = {}
    for nacl in plan.by_type(NETWORK_ACL):
        for value in nacl.inputs.get("subnetIds") or []:
            name = _ref_name(value)
            if name in subnet_of:
                acl_of_subnet[name] = nacl.name
    return acl_of_subnet


def _allow_subnet(reach: Reachability, seg: str, cidr: str | None,
                  layer: dict[str, list[tuple[AddressSet, PortSet]]] | None) -> None:
    """What one subnet's NACL lets the segment's members send and receive. Without a
    NACL of the plan the VPC's default allows everything; inside the subnet the NACL
    is not consulted."""
    if layer is None:
        for direction in (EGRESS, INGRESS):
            reach.allow(seg, direction, Peer.all(), PortSet.any(), layer=NACL_LAYER)
        return
    for direction, allowed in layer.items():
        for addrs, ports in allowed:
            reach.allow(seg, direction, Peer(addresses=addrs), ports, layer=NACL_LAYER)
    if cidr:
        own = Peer.cidrs([ipaddress.ip_network(cidr, strict=False)])
        for direction in (EGRESS, INGRESS):
            reach.allow(seg, direction, own, PortSet.any(), layer=NACL_LAYER)
