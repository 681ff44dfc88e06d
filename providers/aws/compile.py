"""Intent -> AWS plan records: a security group per segment (and extra groups
of the segment where one cannot hold its rules), standalone rules (never
inline), a customer-managed prefix list per wide network and family, plus in
network mode the VPC, a subnet per segment IPv4 cidr, with `nacls` a network
ACL per segment with its entries, and the routing its flows need (routing.py).

Pure data; the emitter turns records into pulumi_aws resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

from cloudfence.addresses import IPNetwork
from cloudfence.endpoints import LOAD_BALANCER
from cloudfence.intent import Flow, Intent
from cloudfence.plan import Plan, Resource, ordered, ref
from cloudfence.providers.aws.boxes import Box
from cloudfence.providers.aws.internal import aws_space, resolved
from cloudfence.providers.aws.layout import Layout, layout
from cloudfence.providers.aws.nacl import Entry, acl_entries, rule_numbers
from cloudfence.providers.aws.names import (
    SG_DESCRIPTION,
    TAG_ENDPOINT,
    TAG_GROUP,
    cidr_label,
    description,
    ports_label,
    tags,
    unique,
)
from cloudfence.providers.aws.network import subnets
from cloudfence.providers.aws.pods import policy_records
from cloudfence.providers.aws.routing import RouteNames, requirements
from cloudfence.providers.aws.routing import records as route_records
from cloudfence.providers.aws.rules import INGRESS, PrefixList, Rule, families
from cloudfence.providers.aws.settings import AwsSettings, s3_service
from cloudfence.providers.aws.wire import (
    ACL_PROTOCOL,
    EGRESS_RULE,
    INGRESS_RULE,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
    PREFIX_LIST,
    SECURITY_GROUP,
    SG_PROTOCOL,
    SUBNET,
    VPC,
)
from cloudfence.routes import Needs, needs


def compile_plan(intent: Intent, settings: AwsSettings, provider: str = "aws") -> Plan:
    """The plan of an intent that check accepted (quotas included)."""
    spec = intent.name
    settings = resolved(intent, settings)
    space = aws_space(intent, settings)
    placed = layout(intent, space, settings)
    if placed.problems:
        raise ValueError(f"compile without check: {placed.problems[0]}")
    seg_subnets = subnets(intent) if settings.network_mode else {}
    wanted = needs(intent, space)
    names = _Names.choose(intent, placed, settings, seg_subnets, wanted if settings.network_mode else Needs())
    vpc_id = settings.vpc_id or ref(spec)
    resources: list[Resource] = []
    if settings.network_mode:
        resources.append(Resource(VPC, spec, {
            "cidrBlock": str(settings.vpc_cidr),
            "enableDnsHostnames": True,
            "enableDnsSupport": True,
            "tags": tags(spec, name=spec),
        }))
    resources.extend(_prefix_list_records(spec, placed.prefix_lists, names))
    exports: dict[str, dict[str, Any]] = {}
    for seg in intent.segments:
        records, exports[seg] = _segment_records(spec, seg, seg_subnets.get(seg, []), vpc_id, names)
        resources.extend(records)
    resources.extend(route_records(spec, wanted, names.routes, _subnets_of(names.subnet, seg_subnets), vpc_id,
                                   settings.region))
    if LOAD_BALANCER in names.sg:
        resources.append(_load_balancer_group(spec, vpc_id, names.sg[LOAD_BALANCER]))
        exports[LOAD_BALANCER] = {"securityGroupId": ref(names.sg[LOAD_BALANCER])}
    entries = acl_entries(intent, seg_subnets, space) if settings.nacls else []
    resources.extend(_filter_records(intent, placed.rules, entries, names))
    if settings.region:
        resources = [Resource(r.type, r.name, {**r.inputs, "region": settings.region})
                     for r in resources]
    v6 = frozenset(seg for seg in intent.segments if 6 in families(intent, seg))
    if settings.security_groups_for_pods:  # Kubernetes objects: no region
        resources += policy_records(intent, names.groups, names.reserved | {r.name for r in resources})
    return Plan(spec=spec, provider=provider, resources=ordered(resources), exports=exports,
                settings=settings.to_json(),
                requires=tuple(requirements(intent, wanted, settings.network_mode, v6, settings.region)))


@dataclass(frozen=True)
class _Names:
    """The names of the records that others reference, chosen before any record is
    written: each kind stays clear of the names reserved before it, anchors first."""

    sg: dict[str, str]  # segment -> its own group
    groups: dict[str, list[str]]  # segment -> its own group, then its extra groups in order
    subnet: dict[str, str]  # "subnet|<segment>|<cidr>" -> subnet
    acl: dict[str, str]  # segment -> its network ACL
    prefix_list: dict[str, str]  # _list_key -> prefix list
    reserved: set[str]  # every name above (and the VPC's)
    routes: RouteNames  # the routing records'
    managed: dict[str, str]  # a managed list's service -> the endpoint cloudfence creates for it

    @classmethod
    def choose(cls, intent: Intent, placed: Layout, settings: AwsSettings,
               seg_subnets: dict[str, list[IPv4Network]], wanted: Needs) -> _Names:
        # Anchors first: group names are never hashed (renaming one replaces the group).
        spec = intent.name
        sg_name = {seg: f"{spec}-{seg}" for seg in intent.segments}
        reserved = set(sg_name.values())
        extra = unique([(f"group|{seg}|{n}", f"{spec}-{seg}-{n}") for seg in intent.segments
                        for n in range(2, placed.groups.get(seg, 1) + 1)], reserved)
        reserved |= set(extra.values())
        group_names = {seg: [sg_name[seg]] + [extra[f"group|{seg}|{n}"]
                                             for n in range(2, placed.groups.get(seg, 1) + 1)]
                       for seg in intent.segments}
        if settings.network_mode:
            reserved.add(spec)  # the VPC; "<spec>" never equals "<spec>-<segment>"
        subnet_name = unique([(f"subnet|{seg}|{c}", f"{spec}-{seg}-{cidr_label(c)}")
                              for seg, cidrs in seg_subnets.items() for c in cidrs], reserved)
        reserved |= set(subnet_name.values())
        acl_name: dict[str, str] = {}
        if settings.nacls:
            named = unique([(f"acl|{seg}", f"{spec}-{seg}-acl") for seg in seg_subnets], reserved)
            acl_name = {seg: named[f"acl|{seg}"] for seg in seg_subnets}
            reserved |= set(acl_name.values())
        pl_name = unique([(_list_key(pl), f"{spec}-{pl.network}-ipv{pl.family}")
                          for pl in placed.prefix_lists], reserved)
        reserved |= set(pl_name.values())
        if any(ep.name == LOAD_BALANCER for f in intent.flows for ep in (f.src, f.dst)):
            lb = unique([(LOAD_BALANCER, f"{spec}-load-balancer")], reserved)[LOAD_BALANCER]
            sg_name[LOAD_BALANCER], group_names[LOAD_BALANCER] = lb, [lb]
            reserved.add(lb)
        routes = RouteNames.choose(spec, wanted, _subnets_of(subnet_name, seg_subnets), reserved)
        managed = {s3_service(settings.region): routes.endpoint} \
            if routes.endpoint and settings.region else {}
        return cls(sg_name, group_names, subnet_name, acl_name, pl_name, reserved, routes, managed)



def _subnets_of(subnet: dict[str, str], seg_subnets: dict[str, list[IPv4Network]]) -> dict[str, list[str]]:
    """Segment -> its subnets' logical names."""
    return {seg: [subnet[f"subnet|{seg}|{c}"] for c in cidrs] for seg, cidrs in seg_subnets.items()}


def _load_balancer_group(spec: str, vpc_id: str, name: str) -> Resource:
    """The group the user's ALB or NLB attaches (exports['@load-balancer']): segments
    admit `@load-balancer` by referencing it."""
    return Resource(SECURITY_GROUP, name, {
        "description": "cloudfence load balancer (attach to your ALB or NLB)",
        "vpcId": vpc_id,
        "tags": {**tags(spec, name=name), TAG_ENDPOINT: LOAD_BALANCER},
    })


def _prefix_list_records(spec: str, lists: list[PrefixList], names: _Names) -> list[Resource]:
    """A customer-managed prefix list per wide network and family, so a rule to it
    counts once against a group's quota instead of once per CIDR."""
    out = []
    for pl in lists:
        name = names.prefix_list[_list_key(pl)]
        out.append(Resource(PREFIX_LIST, name, {
            "name": name,
            "addressFamily": f"IPv{pl.family}",
            "maxEntries": pl.max_entries,
            "entries": [{"cidr": str(c)} for c in pl.entries],
            "tags": {**tags(spec, name=name), "cloudfence:network": pl.network},
        }))
    return out


def _segment_records(spec: str, seg: str, cidrs: list[IPv4Network], vpc_id: str,
                     names: _Names) -> tuple[list[Resource], dict[str, Any]]:
    """A segment's security groups, subnets and network ACL, and what it exports
    for workloads to attach (its groups, its subnets)."""
    out = []
    for n, name in enumerate(names.groups[seg], start=1):
        group_tags = tags(spec, seg, name=name)
        if n > 1:
            group_tags[TAG_GROUP] = str(n)
        out.append(Resource(SECURITY_GROUP, name, {
            "description": SG_DESCRIPTION,
            "vpcId": vpc_id,
            "tags": group_tags,
        }))
    exports: dict[str, Any] = {"securityGroupId": ref(names.sg[seg]),
                               "securityGroupIds": [ref(n) for n in names.groups[seg]]}
    refs = []
    for c in cidrs:
        name = names.subnet[f"subnet|{seg}|{c}"]
        refs.append(ref(name))
        out.append(Resource(SUBNET, name, {
            "vpcId": vpc_id,
            "cidrBlock": str(c),
            "tags": tags(spec, seg, name=f"{spec}-{seg}"),
        }))
    if refs:
        exports["subnetId"] = refs[0]
        exports["subnetIds"] = refs
    if seg in names.acl:
        out.append(Resource(NETWORK_ACL, names.acl[seg], {
            "vpcId": vpc_id,
            "subnetIds": refs,
            "tags": tags(spec, seg, name=f"{spec}-{seg}"),
        }))
    return out, exports


def _filter_records(intent: Intent, rules: list[Rule], entries: list[Entry], names: _Names) -> list[Resource]:
    """Security group rules, then network ACL entries numbered per ACL and direction.
    Both are named in one pass, so no rule and entry share a name."""
    spec = intent.name
    rule_keys = {id(r): r.key for r in rules}
    entry_keys = {id(e): _entry_key(e) for e in entries}
    owners = _cidr_owners(intent)
    named = unique([(rule_keys[id(r)], _rule_base(spec, r)) for r in rules]
                   + [(entry_keys[id(e)], _entry_base(spec, e, owners)) for e in entries], names.reserved)
    flows = intent.flows_by_key
    lists = {**names.prefix_list, **names.managed}
    out = [_rule_record(intent, r, named[rule_keys[id(r)]], names.groups, names.sg, flows, lists)
           for r in rules]
    by_acl: dict[tuple[str, bool], list[Entry]] = {}
    for e in entries:
        by_acl.setdefault((e.segment, e.egress), []).append(e)
    for (seg, _egress), group in sorted(by_acl.items()):
        numbers = rule_numbers([(named[entry_keys[id(e)]], e.band) for e in group])
        for e in group:
            name = named[entry_keys[id(e)]]
            out.append(_entry_record(e, name, numbers[name], names.acl[seg]))
    return out


# ------------------------------------------------------------ security groups


def _list_key(pl: PrefixList) -> str:
    return f"pl|{pl.network}|{pl.family}"


def _peer_label(r: Rule) -> str:
    if r.peer is not None:
        return r.peer.lstrip("@")
    if r.prefix_list is not None:
        return f"{r.prefix_list.network.lstrip('@')}-ipv{r.prefix_list.family}"
    return cidr_label(r.box.net)  # type: ignore[arg-type]


def _rule_base(spec: str, r: Rule) -> str:
    inbound = r.direction == INGRESS
    return (f"{spec}-{r.segment.lstrip('@')}-{'in' if inbound else 'out'}-"
            f"{ports_label(r.box.proto, r.box.lo, r.box.hi, r.box.full)}-"
            f"{'from' if inbound else 'to'}-{_peer_label(r)}")


def _ports(box: Box, icmp: tuple[str, str]) -> dict[str, int]:
    if box.proto in ("tcp", "udp"):
        return {"fromPort": box.lo, "toPort": box.hi}
    if box.proto in ("icmp", "icmpv6"):
        return {icmp[0]: -1, icmp[1]: -1}  # every type, every code
    return {}  # "-1" and numbered protocols: AWS allows every port


def _rule_record(intent: Intent, r: Rule, name: str, group_names: dict[str, list[str]],
                 sg_name: dict[str, str], flows: dict[str, Any], pl_name: dict[str, str]) -> Resource:
    inputs: dict[str, Any] = {
        "securityGroupId": ref(group_names[r.segment][r.group]),
        "ipProtocol": SG_PROTOCOL[r.box.proto],
        **_ports(r.box, ("fromPort", "toPort")),
    }
    if r.peer is not None:
        inputs["referencedSecurityGroupId"] = ref(sg_name[r.peer])
    elif r.prefix_list is not None:
        managed = r.prefix_list.managed  # an endpoint cloudfence creates names its list by reference
        inputs["prefixListId"] = (ref(pl_name[managed], "prefixListId") if managed in pl_name
                                  else managed or ref(pl_name[_list_key(r.prefix_list)]))
    else:
        assert r.box.net is not None
        inputs["cidrIpv4" if r.box.net.version == 4 else "cidrIpv6"] = str(r.box.net)
    inputs["description"] = description(f"{intent.name}: " + "; ".join(
        _flow_text(flows[k]) for k in r.flows))
    inputs["tags"] = tags(intent.name, r.segment, flows=r.flows)
    return Resource(INGRESS_RULE if r.direction == INGRESS else EGRESS_RULE, name, inputs)


def _flow_text(flow: Flow) -> str:
    text = f"{flow.src} to {flow.dst}"
    return f"{text} ({', '.join(flow.descriptions)})" if flow.descriptions else text


# ------------------------------------------------------------ network ACLs


def _entry_key(e: Entry) -> str:
    b = e.box
    return f"acl|{e.segment}|{'out' if e.egress else 'in'}|{e.band}|{b.net}|{b.proto}|{b.lo}|{b.hi}"


def _cidr_owners(intent: Intent) -> dict[IPNetwork, str]:
    """Segment cidrs -> a readable peer label: the segment (its cidr too if it has several)."""
    out: dict[IPNetwork, str] = {}
    for name, seg in intent.segments.items():
        for c in seg.cidrs:
            out[c] = name if len(seg.cidrs) == 1 else f"{name}-{cidr_label(c)}"
    return out


def _entry_base(spec: str, e: Entry, owners: dict[IPNetwork, str]) -> str:
    """Entries name CIDRs; one that is exactly a segment's reads as that segment."""
    peer = owners.get(e.box.net) or cidr_label(e.box.net)  # type: ignore[arg-type]
    what = "deny" if not e.allow else ports_label(e.box.proto, e.box.lo, e.box.hi, e.box.full)
    return (f"{spec}-{e.segment}-acl-{'out' if e.egress else 'in'}-{what}-"
            f"{'to' if e.egress else 'from'}-{peer}")


def _entry_record(e: Entry, name: str, number: int, acl: str) -> Resource:
    assert e.box.net is not None
    inputs: dict[str, Any] = {
        "networkAclId": ref(acl),
        "ruleNumber": number,
        "egress": e.egress,
        "protocol": ACL_PROTOCOL[e.box.proto],
        "ruleAction": "allow" if e.allow else "deny",
        "cidrBlock" if e.box.net.version == 4 else "ipv6CidrBlock": str(e.box.net),
        **_ports(e.box, ("icmpType", "icmpCode")),
    }
    return Resource(NETWORK_ACL_RULE, name, inputs)
