"""Reading the routing a network-mode plan creates (verify): which route table each
subnet is associated with, which tables route 0.0.0.0/0 to the plan's internet gateway,
which are on the S3 gateway endpoint. Checked both ways against what the flows need:
a segment that reaches public space or `@object-storage` has the route on its subnets'
actual tables, and a segment that reaches no public space has no internet route."""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudfence.addresses import PUBLIC
from cloudfence.errors import Problem
from cloudfence.intent import Intent
from cloudfence.plan import Plan, Resource, ref_name
from cloudfence.providers.aws.names import TAG_SEGMENT
from cloudfence.providers.aws.routing import DEFAULT_ROUTE, is_s3_service
from cloudfence.providers.aws.wire import (
    INTERNET_GATEWAY,
    ROUTE,
    ROUTE_TABLE,
    ROUTE_TABLE_ASSOCIATION,
    SUBNET,
    VPC_ENDPOINT,
)
from cloudfence.routes import names as _names
from cloudfence.routes import reaching_object_storage

REGENERATE = "regenerate the plan with cloudfence plan"


def _segment(r: Resource) -> str | None:
    found = (r.inputs.get("tags") or {}).get(TAG_SEGMENT)
    return found if isinstance(found, str) else None


def _public_segments(intent: Intent) -> set[str]:
    """Segments with a flow to or from a network with public addresses (`internet` included)."""
    out = set()
    for flow in intent.flows:
        for end, other in ((flow.src, flow.dst), (flow.dst, flow.src)):
            if end.is_segment and other.kind == "network" and intent.networks[other.name].addresses & PUBLIC:
                out.add(end.name)
    return out


@dataclass
class Routing:
    """The plan's routing as records say it, after checking their form."""

    subnet_vpc: dict[str, str | None] = field(default_factory=dict)  # subnet -> its VPC
    subnet_segment: dict[str, str | None] = field(default_factory=dict)
    table_vpc: dict[str, str | None] = field(default_factory=dict)
    gateway_vpc: dict[str, str | None] = field(default_factory=dict)
    association: dict[str, tuple[str, str]] = field(default_factory=dict)  # subnet -> (record, table)
    to_gateway: dict[str, str] = field(default_factory=dict)  # table -> a route of it to any internet gateway
    default: dict[str, str] = field(default_factory=dict)  # table -> its 0.0.0.0/0 route to the VPC's gateway
    endpoints: list[tuple[str, str | None, list[str]]] = field(default_factory=list)  # S3 gateway endpoints
    problems: list[Problem] = field(default_factory=list)

    def storage_tables(self, vpc: str | None) -> set[str]:
        return {t for _, ep_vpc, tables in self.endpoints if ep_vpc == vpc for t in tables}

    def segment_tables(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for subnet, (_, table) in self.association.items():
            seg = self.subnet_segment.get(subnet)
            if seg is not None:
                out.setdefault(seg, set()).add(table)
        return out


def _reference(r: Resource, key: str, to: dict[str, str | None], what: str, out: list[Problem]) -> str | None:
    """The record `r.inputs[key]` refers to, which must be one of `to` (a `what` of the plan)."""
    name = ref_name(r.inputs.get(key))
    if name is None or name not in to:
        out.append(Problem(f"resources.{r.name}.inputs.{key}", (
            f"must refer to a {what} of the plan (${{<name>.id}}), not {r.inputs.get(key)!r}: "
            f"verify cannot tell what it routes; {REGENERATE}")))
        return None
    return name


def read_routing(plan: Plan) -> Routing:
    got = Routing()
    got.subnet_vpc = {s.name: ref_name(s.inputs.get("vpcId")) for s in plan.by_type(SUBNET)}
    got.subnet_segment = {s.name: _segment(s) for s in plan.by_type(SUBNET)}
    got.table_vpc = {t.name: ref_name(t.inputs.get("vpcId")) for t in plan.by_type(ROUTE_TABLE)}
    got.gateway_vpc = {g.name: ref_name(g.inputs.get("vpcId")) for g in plan.by_type(INTERNET_GATEWAY)}
    _read_associations(plan, got)
    _read_routes(plan, got)
    _read_endpoints(plan, got)
    return got


def _read_associations(plan: Plan, got: Routing) -> None:
    for a in plan.by_type(ROUTE_TABLE_ASSOCIATION):
        subnet = _reference(a, "subnetId", got.subnet_vpc, "subnet", got.problems)
        table = _reference(a, "routeTableId", got.table_vpc, "route table", got.problems)
        if subnet is None or table is None:
            continue
        if subnet in got.association:
            got.problems.append(Problem(f"resources.{a.name}", (
                f"associates subnet {subnet} a second time ({got.association[subnet][0]} does too): a subnet "
                f"has one route table; {REGENERATE}")))
        got.association[subnet] = (a.name, table)


def _read_routes(plan: Plan, got: Routing) -> None:
    for route in plan.by_type(ROUTE):
        table = _reference(route, "routeTableId", got.table_vpc, "route table", got.problems)
        gw, dest = route.inputs.get("gatewayId"), route.inputs.get("destinationCidrBlock")
        for key, value in (("gatewayId", gw), ("destinationCidrBlock", dest)):
            if not isinstance(value, str):
                got.problems.append(Problem(f"resources.{route.name}.inputs.{key}", (
                    f"must be a string, not {value!r}; {REGENERATE}")))
        if table is None or not isinstance(gw, str):
            continue
        gateway = ref_name(gw)
        if gateway in got.gateway_vpc or gw.startswith("igw-"):
            got.to_gateway.setdefault(table, route.name)
        vpc = got.table_vpc[table]
        if dest == DEFAULT_ROUTE and vpc is not None and got.gateway_vpc.get(gateway or "") == vpc:
            got.default.setdefault(table, route.name)


def _read_endpoints(plan: Plan, got: Routing) -> None:
    region = (plan.settings or {}).get("region")
    for ep in plan.by_type(VPC_ENDPOINT):
        tables = ep.inputs.get("routeTableIds")
        if not isinstance(tables, list):
            got.problems.append(Problem(f"resources.{ep.name}.inputs.routeTableIds", (
                f"must be the list of route tables the endpoint is on, not {tables!r}; {REGENERATE}")))
            continue
        bad = [i for i, t in enumerate(tables) if not isinstance(t, str)]
        got.problems += [Problem(f"resources.{ep.name}.inputs.routeTableIds[{i}]", (
            f"must be a route table (${{<name>.id}}), not {tables[i]!r}; {REGENERATE}")) for i in bad]
        if ep.inputs.get("vpcEndpointType") == "Gateway" and \
                is_s3_service(ep.inputs.get("serviceName"), region if isinstance(region, str) else None):
            on = [n for n in (ref_name(t) for t in tables) if n in got.table_vpc]
            got.endpoints.append((ep.name, ref_name(ep.inputs.get("vpcId")), on))


def route_problems(plan: Plan, intent: Intent) -> list[Problem]:
    """In network mode (the plan holds route tables): malformed routing records; a segment
    whose flows reach public space or `@object-storage` without the route on its subnets'
    tables (the flow would be allowed and never carried); an internet route on a segment
    none of whose flows reaches public space (it could be reached the moment a filter opens)."""
    got = read_routing(plan)
    if got.problems or not got.table_vpc:
        return got.problems
    public, storage = _public_segments(intent), reaching_object_storage(intent)
    out = []
    for subnet, seg in sorted(got.subnet_segment.items()):
        if seg is None or seg not in intent.segments:
            continue
        if subnet not in got.association:
            if seg in public or seg in storage:
                out.append(Problem(f"resources.{subnet}", (
                    f"a subnet of segment '{seg}' has no route table association, so it uses the VPC's main "
                    f"route table, which has only the local route; {REGENERATE}")))
            continue
        record, table = got.association[subnet]
        out += _subnet_problems(got, seg, subnet, record, table, public, storage)
    return out


def _subnet_problems(got: Routing, seg: str, subnet: str, record: str, table: str,
                     public: set[str], storage: set[str]) -> list[Problem]:
    out = []
    where = f"resources.{record}"
    if seg in public and table not in got.default:
        out.append(Problem(where, (
            f"associates subnet {subnet} of segment '{seg}', whose flows reach public space, with route "
            f"table {table}, which has no {DEFAULT_ROUTE} route to an internet gateway of the plan attached "
            f"to its VPC: the flows would be allowed and never carried; {REGENERATE}")))
    if seg not in public and table in got.to_gateway:
        out.append(Problem(where, (
            f"gives segment '{seg}' the route {got.to_gateway[table]} to an internet gateway, but no flow of "
            f"'{seg}' reaches public space: associate its subnets with a route table that has only "
            f"the local route ({REGENERATE})")))
    on_endpoint = table in {t for _, _, on in got.endpoints for t in on}
    if seg not in storage and on_endpoint:
        out.append(Problem(where, (
            f"associates subnet {subnet} of segment '{seg}' with route table {table}, which is on the S3 "
            f"gateway endpoint, but no flow of '{seg}' reaches @object-storage: take the table off the "
            f"endpoint's routeTableIds, or associate the subnet with a table that is not on it "
            f"({REGENERATE})")))
    if seg in storage and table not in got.storage_tables(got.subnet_vpc.get(subnet)):
        endpoint = next((n for n, _, _ in got.endpoints), None)
        out.append(Problem(f"resources.{endpoint}" if endpoint else where, (
            f"route table {table} of subnet {subnet} of segment '{seg}', whose flows reach @object-storage, "
            "is not on an S3 gateway endpoint (the region's s3 service, type Gateway) of the subnet's VPC: "
            f"its traffic to S3 would not take the endpoint's prefix list; {REGENERATE}")))
    return out


def route_assumptions(plan: Plan) -> list[str]:
    """What the verdict takes as given about the routing the plan creates, from the
    subnets' actual associations."""
    got = read_routing(plan)
    if not got.table_vpc:
        return []
    by_segment = got.segment_tables()
    internet = sorted(s for s, ts in by_segment.items() if ts & set(got.default))
    storage = sorted(s for s, ts in by_segment.items()
                     if any(t in {x for _, _, on in got.endpoints for x in on} for t in ts))
    parts = [f"the subnets of {_names(internet)} route to the internet gateway"] if internet else []
    parts += [f"the S3 gateway endpoint is on the route tables of {_names(storage)}"] if storage else []
    parts.append("no other subnet of the VPC routes to the internet (its main route table is as AWS "
                 "creates it, with the local route only)")
    return ["routing is as the plan's route tables say: " + "; ".join(parts)]
