"""Routing: what the flows need beyond filters to carry traffic, created in network
mode and, with an existing VPC (`vpcId`), listed in the plan as what the user brings.

In the VPC cloudfence creates:

- a segment with a flow to or from public space (`internet`, or a network with public
  addresses), in either direction, gets 0.0.0.0/0 to the VPC's internet gateway in its
  own route table (the created VPC is IPv4-only, so there is no ::/0 route);
- `@object-storage` is an S3 gateway endpoint (com.amazonaws.<region>.s3) on the route
  tables of the segments whose flows reach it, and their rules name the endpoint's
  prefix list (`${<endpoint>.prefixListId}`), so no prefix list id is looked up;
- once the VPC has either, every segment with subnets gets a route table of its own:
  a segment without such flows has only the local route, and never inherits a route
  someone adds to the VPC's main route table.

Pure data; the emitter turns records into pulumi_aws resources.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudfence.intent import Intent
from cloudfence.names import unique
from cloudfence.plan import Resource, ref
from cloudfence.providers.aws.names import tags
from cloudfence.providers.aws.settings import s3_service
from cloudfence.providers.aws.wire import (
    INTERNET_GATEWAY,
    ROUTE,
    ROUTE_TABLE,
    ROUTE_TABLE_ASSOCIATION,
    VPC_ENDPOINT,
)
from cloudfence.routes import Needs
from cloudfence.routes import names as _names

DEFAULT_ROUTE = "0.0.0.0/0"
#: The inputs verify reads per routing record: any other (a route to a NAT gateway, a
#: peering connection) is refused rather than judged as if absent.
ROUTE_INPUTS: dict[str, frozenset[str]] = {
    INTERNET_GATEWAY: frozenset({"vpcId"}),
    ROUTE_TABLE: frozenset({"vpcId"}),
    ROUTE: frozenset({"routeTableId", "destinationCidrBlock", "gatewayId"}),
    ROUTE_TABLE_ASSOCIATION: frozenset({"subnetId", "routeTableId"}),
    VPC_ENDPOINT: frozenset({"vpcId", "serviceName", "vpcEndpointType", "routeTableIds", "prefixListId"}),
}


def is_s3_service(name: object, region: str | None) -> bool:
    """The S3 service of the region (any region while it is not known)."""
    if not isinstance(name, str):
        return False
    if region is not None:
        return name == s3_service(region)
    parts = name.split(".")
    return len(parts) == 4 and parts[:2] == ["com", "amazonaws"] and parts[3] == "s3"


@dataclass(frozen=True)
class RouteNames:
    """Logical names of the routing records, chosen once with the plan's other names."""

    gateway: str = ""  # the internet gateway ("" when no segment reaches public space)
    endpoint: str = ""  # the S3 gateway endpoint ("" without `@object-storage`)
    table: dict[str, str] = field(default_factory=dict)  # segment -> its route table
    route: dict[str, str] = field(default_factory=dict)  # segment -> its route to the internet gateway
    association: dict[str, str] = field(default_factory=dict)  # subnet -> its route table association

    @classmethod
    def choose(cls, spec: str, wanted: Needs, subnets: dict[str, list[str]],
               reserved: set[str]) -> RouteNames:
        """`subnets`: segment -> its subnets' logical names. Adds the names to `reserved`."""
        if not wanted.any:
            return cls()
        routed = [seg for seg in subnets if subnets[seg]]
        public = set(wanted.internet)
        items = [("igw", f"{spec}-internet-gateway")] if wanted.internet else []
        items += [("s3", f"{spec}-s3")] if wanted.storage else []
        items += [(f"rt|{seg}", f"{spec}-{seg}-routes") for seg in routed]
        items += [(f"route|{seg}", f"{spec}-{seg}-to-internet") for seg in routed if seg in public]
        items += [(f"assoc|{s}", f"{s}-routes") for seg in routed for s in subnets[seg]]
        named = unique(items, reserved)
        reserved |= set(named.values())
        return cls(named.get("igw", ""), named.get("s3", ""),
                   {seg: named[f"rt|{seg}"] for seg in routed},
                   {seg: named[f"route|{seg}"] for seg in routed if seg in public},
                   {s: named[f"assoc|{s}"] for seg in routed for s in subnets[seg]})


def records(spec: str, wanted: Needs, names: RouteNames, subnets: dict[str, list[str]],
            vpc: str, region: str | None) -> list[Resource]:
    """The internet gateway, a route table per segment with subnets (and its route to
    the gateway where the segment reaches public space), and the S3 gateway endpoint."""
    out: list[Resource] = []
    if names.gateway:
        out.append(Resource(INTERNET_GATEWAY, names.gateway, {
            "vpcId": vpc, "tags": tags(spec, name=names.gateway)}))
    for seg, table in sorted(names.table.items()):
        out.append(Resource(ROUTE_TABLE, table, {"vpcId": vpc, "tags": tags(spec, seg, name=table)}))
        if seg in names.route:
            out.append(Resource(ROUTE, names.route[seg], {
                "routeTableId": ref(table),
                "destinationCidrBlock": DEFAULT_ROUTE,
                "gatewayId": ref(names.gateway),
            }))
        for subnet in subnets.get(seg, []):
            out.append(Resource(ROUTE_TABLE_ASSOCIATION, names.association[subnet], {
                "subnetId": ref(subnet), "routeTableId": ref(table)}))
    if names.endpoint:
        if region is None:
            raise ValueError("compile without check: the S3 gateway endpoint needs settings.region")
        tables = [names.table[seg] for seg in wanted.storage if seg in names.table]
        out.append(Resource(VPC_ENDPOINT, names.endpoint, {
            "vpcId": vpc,
            "serviceName": s3_service(region),
            "vpcEndpointType": "Gateway",
            "routeTableIds": [ref(t) for t in tables],
            "tags": tags(spec, name=names.endpoint),
        }))
    return out


def requirements(intent: Intent, wanted: Needs, network_mode: bool, v6: frozenset[str],
                 region: str | None = None) -> list[str]:
    """What the user brings for the flows to carry traffic: everything with an existing
    VPC; in network mode, what cloudfence does not own (addresses, the load balancer's
    subnets, the subnets of segments without a cidr). `v6`: segments that may use IPv6."""
    out = []
    if network_mode:
        bare = [s for s in wanted.internet if not intent.segments[s].cidrs]
        if bare:
            out.append(f"the subnets of {_names(bare)} (no cidr, so no subnet of cloudfence's) route "
                       "0.0.0.0/0 to an internet gateway or a NAT gateway")
        if wanted.internet:
            out.append(f"members of {_names(wanted.internet)} that send to or receive from the internet "
                       "have public IPv4 addresses (or send through your NAT gateway: list it in "
                       "settings.egressIps)")
        bare = [s for s in wanted.storage if not intent.segments[s].cidrs]
        if bare:
            out.append(f"the route tables of the subnets of {_names(bare)} (no cidr, so no subnet of "
                       "cloudfence's) are on the S3 gateway endpoint")
    else:
        if wanted.internet:
            six = [s for s in wanted.internet if s in v6]
            out.append(f"the subnets of {_names(wanted.internet)} route 0.0.0.0/0"
                       + (f" (and ::/0 for {_names(six)})" if six else "")
                       + " to an internet gateway (or a NAT gateway for egress); no other segment's do")
        if wanted.storage:
            service = f"com.amazonaws.{region or '<region>'}.s3"
            out.append(f"an S3 gateway endpoint ({service}) whose prefix list is "
                       f"settings.objectStoragePrefixList is on the route tables of {_names(wanted.storage)}")
    if wanted.balancer:
        out.append("your load balancer sits in subnets that route to an internet gateway")
    return out
