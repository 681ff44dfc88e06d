"""Routing the flows need beyond filters: in network mode cloudfence creates it (AWS:
internet gateway, per-segment route tables, the S3 gateway endpoint; GCP: Private
Google Access), otherwise the plan says what the user brings; verify reads both."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cloudfence.deploy.emitter import registered_plan
from cloudfence.errors import CheckError, CloudfenceError
from cloudfence.intent import parse_intent
from cloudfence.plan import Plan, Resource, ref
from cloudfence.planfile import plan_from_json
from cloudfence.provider import checked_plan, find_problems
from cloudfence.providers.aws.provider import AwsProvider
from cloudfence.providers.aws.routetables import route_assumptions
from cloudfence.providers.aws.routing import requirements as aws_requirements
from cloudfence.providers.aws.wire import (
    EGRESS_RULE,
    INTERNET_GATEWAY,
    ROUTE,
    ROUTE_TABLE,
    ROUTE_TABLE_ASSOCIATION,
    VPC_ENDPOINT,
)
from cloudfence.providers.gcp.provider import GcpProvider
from cloudfence.providers.gcp.wire import SUBNETWORK
from cloudfence.render import plan_text
from cloudfence.routes import Needs, needs
from cloudfence.space import space_for
from cloudfence.verify import verify, verify_plan
from tests.goldens import assert_golden

AWS, GCP = AwsProvider(), GcpProvider()
TEXT = """version: 1
name: t
segments:
  web: {cidr: 10.30.1.0/24}
  inf: {cidr: 10.30.2.0/24}
  db: {cidr: 10.30.3.0/24}
networks:
  office: [10.99.0.0/16]
flows:
  - {from: internet, to: web, ports: [tcp/443]}
  - {from: web, to: inf, ports: [tcp/8080]}
  - {from: inf, to: '@object-storage', ports: [tcp/443]}
  - {from: inf, to: db, ports: [tcp/5432]}
  - {from: office, to: db, ports: [tcp/22]}
"""
INTENT = parse_intent(TEXT)
NETWORK = {"region": "us-east-1"}
EXISTING = {"vpcId": "vpc-0abc1234def567890", "vpcCidrs": ["10.30.0.0/16"],
            "objectStoragePrefixList": "pl-63a5400a"}
S3_LIST = "${t-s3.prefixListId}"


def aws_plan(settings: dict = NETWORK) -> Plan:
    return checked_plan(AWS, INTENT, settings)


def replaced(plan: Plan, name: str, **inputs: object) -> Plan:
    resources = tuple(Resource(r.type, r.name, {**r.inputs, **inputs}) if r.name == name else r
                      for r in plan.resources)
    return dataclasses.replace(plan, resources=resources)


# ------------------------------------------------------------ what the flows need


def test_needs_are_the_segments_that_meet_public_space_and_object_storage():
    found = needs(INTENT, space_for(INTENT))
    # office is private: db needs no internet route; web is reached from internet.
    assert found == Needs(internet=("web",), storage=("inf",), balancer=False)


def test_a_public_named_network_needs_the_internet_too():
    text = TEXT.replace("10.99.0.0/16", "203.0.113.0/24")
    assert needs(parse_intent(text), space_for(parse_intent(text))).internet == ("db", "web")


# ------------------------------------------------------------ AWS network mode


def test_aws_network_mode_routes_only_the_segments_that_reach_the_internet():
    plan = aws_plan()
    (gateway,) = plan.by_type(INTERNET_GATEWAY)
    assert gateway.inputs["vpcId"] == ref("t")
    tables = {r.inputs["tags"]["cloudfence:segment"]: r.name for r in plan.by_type(ROUTE_TABLE)}
    assert sorted(tables) == ["db", "inf", "web"]  # each segment its own table
    (route,) = plan.by_type(ROUTE)
    assert route.inputs == {"routeTableId": ref(tables["web"]), "destinationCidrBlock": "0.0.0.0/0",
                            "gatewayId": ref(gateway.name), "region": "us-east-1"}
    links = {r.inputs["subnetId"]: r.inputs["routeTableId"] for r in plan.by_type(ROUTE_TABLE_ASSOCIATION)}
    assert links == {ref(f"t-{s}-10-30-{n}-0-24"): ref(tables[s]) for s, n in
                     (("web", 1), ("inf", 2), ("db", 3))}


def test_aws_network_mode_object_storage_is_the_s3_gateway_endpoints_prefix_list():
    plan = aws_plan()
    (endpoint,) = plan.by_type(VPC_ENDPOINT)
    assert endpoint.name == "t-s3"
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["routeTableIds"] == [ref("t-inf-routes")]  # only the segment that reaches it
    (rule,) = [r for r in plan.by_type(EGRESS_RULE) if "prefixListId" in r.inputs and "inf" in r.name
               and r.inputs["fromPort"] == 443]
    assert rule.inputs["prefixListId"] == S3_LIST
    assert "objectStoragePrefixList" not in plan.settings or plan.settings["objectStoragePrefixList"] is None
    verdict = verify_plan(INTENT, AWS, plan, checked=True)
    assert verdict.equivalent, verdict.counterexamples
    assert ("'@object-storage' is the prefix list of the S3 gateway endpoint com.amazonaws.us-east-1.s3, "
            "taken to be anywhere in public space") in verdict.assumptions
    assert any(a.startswith("routing is as the plan's route tables say: the subnets of 'web' route to the "
                            "internet gateway; the S3 gateway endpoint is on the route tables of 'inf'")
               for a in verdict.assumptions)


def test_aws_without_internet_or_object_storage_creates_no_routing():
    text = TEXT.split("  - {from: internet")[0] + "  - {from: web, to: inf, ports: [tcp/8080]}\n"
    plan = checked_plan(AWS, parse_intent(text), {})
    assert not [r for r in plan if r.type in (INTERNET_GATEWAY, ROUTE_TABLE, VPC_ENDPOINT)]
    assert plan.requires == () and "requires" not in plan.to_json()


def test_aws_network_mode_needs_the_region_for_the_endpoint_and_refuses_a_prefix_list_id():
    (found,) = [str(p) for p in find_problems(AWS, INTENT, {})]
    assert "give settings.region (the VPC cloudfence creates gets the S3 gateway endpoint" in found
    with pytest.raises(CheckError, match=r"objectStoragePrefixList: only used with settings\.vpcId"):
        checked_plan(AWS, INTENT, {**NETWORK, "objectStoragePrefixList": "pl-63a5400a"})


@pytest.mark.parametrize("swap, why", [
    ("${t-s3.id}", "the endpoint's id is no prefix list"),
    ("${t-internet-ipv4.id}", "the internet's prefix list"),
    ("pl-0123456789abcdef0", "a list outside the plan"),
])
def test_aws_verify_catches_a_swapped_object_storage_reference(swap, why):
    plan = aws_plan()
    (rule,) = [r for r in plan if r.inputs.get("prefixListId") == S3_LIST]
    verdict = verify_plan(INTENT, AWS, replaced(plan, rule.name, prefixListId=swap))
    assert not verdict.equivalent, why


def test_aws_verify_recognises_only_the_s3_service_of_the_region():
    """Another service, region or endpoint type leaves 'inf' without its S3 route: refused."""
    plan = aws_plan()
    for inputs in ({"serviceName": "com.amazonaws.us-east-1.dynamodb"},
                   {"serviceName": "com.amazonaws.eu-west-1.s3"}, {"vpcEndpointType": "Interface"}):
        with pytest.raises(CloudfenceError) as caught:
            verify_plan(INTENT, AWS, replaced(plan, "t-s3", **inputs))
        assert "route table t-inf-routes of subnet t-inf-10-30-2-0-24 of segment 'inf'" in str(caught.value)
        assert "is not on an S3 gateway endpoint" in str(caught.value)


def test_aws_verify_reads_the_endpoints_prefix_list_id_as_deployed_state_holds_it():
    """Refreshed state holds ids, not references: the endpoint's `prefixListId` output and
    the rule's literal id must still be read as `@object-storage`."""
    plan = aws_plan()
    (rule,) = [r for r in plan if r.inputs.get("prefixListId") == S3_LIST]
    state = replaced(replaced(plan, rule.name, prefixListId="pl-0a1b2c3d4e5f60718"), "t-s3",
                     prefixListId="pl-0a1b2c3d4e5f60718")
    assert verify_plan(INTENT, AWS, state).equivalent


def test_aws_verify_refuses_an_internet_route_on_a_private_segment():
    plan = aws_plan()
    mutant = replaced(plan, "t-db-10-30-3-0-24-routes", routeTableId=ref("t-web-routes"))
    with pytest.raises(CloudfenceError) as caught:
        verify_plan(INTENT, AWS, mutant)
    text = str(caught.value)
    assert "resources.t-db-10-30-3-0-24-routes" in text
    assert "gives segment 'db' the route t-web-to-internet to an internet gateway" in text


def test_aws_routing_registers_under_the_mock_runtime():
    plan = aws_plan()
    assert registered_plan(INTENT, AWS, NETWORK, plan) == json.loads(json.dumps(plan.to_json()))


# ------------------------------------------------------------ AWS network mode: mutations

# In network mode verify checks routing both ways: what a flow needs is on its segment's
# subnets' actual route tables, and nothing more. A violation is refused (exit 2) naming
# the record, like a malformed record.
GCP_NETWORK = {"project": "my-project-1", "region": "us-central1"}


def refused(provider, plan: Plan) -> str:
    with pytest.raises(CloudfenceError) as caught:
        verify_plan(INTENT, provider, plan)
    return str(caught.value)


def without(plan: Plan, name: str, *keys: str) -> Plan:
    resources = tuple(Resource(r.type, r.name, {k: v for k, v in r.inputs.items() if k not in keys})
                      if r.name == name else r for r in plan.resources)
    return dataclasses.replace(plan, resources=resources)


def dropped(plan: Plan, name: str) -> Plan:
    return dataclasses.replace(plan, resources=tuple(r for r in plan.resources if r.name != name))


S3_MISSING = ("resources.t-s3: route table t-inf-routes of subnet t-inf-10-30-2-0-24 of segment 'inf', "
              "whose flows reach @object-storage, is not on an S3 gateway endpoint")
IGW_MISSING = ("resources.t-web-10-30-1-0-24-routes: associates subnet t-web-10-30-1-0-24 of segment 'web', "
               "whose flows reach public space, with route table t-web-routes, which has no 0.0.0.0/0 route "
               "to an internet gateway of the plan attached to its VPC")


@pytest.mark.parametrize("inputs", [
    {"routeTableIds": [ref("t-db-routes")]},  # moved to another segment's table
    {"routeTableIds": ["rtb-0123456789abcdef0"]},  # a table outside the plan
    {"vpcId": "vpc-0123456789abcdef0"},  # the endpoint in another VPC
], ids=["other-table", "foreign-table", "other-vpc"])
def test_aws_verify_refuses_object_storage_without_the_endpoint_on_its_route_table(inputs):
    assert S3_MISSING in refused(AWS, replaced(aws_plan(), "t-s3", **inputs))


def test_aws_verify_refuses_the_endpoint_on_a_segment_that_does_not_reach_object_storage():
    mutant = replaced(aws_plan(), "t-s3", routeTableIds=[ref("t-inf-routes"), ref("t-db-routes")])
    text = refused(AWS, mutant)
    assert ("resources.t-db-10-30-3-0-24-routes: associates subnet t-db-10-30-3-0-24 of segment 'db' with "
            "route table t-db-routes, which is on the S3 gateway endpoint, but no flow of 'db' reaches "
            "@object-storage") in text


def test_aws_verify_reads_the_subnets_actual_associations():
    mutant = replaced(aws_plan(), "t-inf-10-30-2-0-24-routes", routeTableId=ref("t-db-routes"))
    assert ("resources.t-s3: route table t-db-routes of subnet t-inf-10-30-2-0-24 of segment 'inf'"
            in refused(AWS, mutant))
    # The assumptions are computed from the associations, not from the tables' tags.
    mutant = replaced(aws_plan(), "t-db-10-30-3-0-24-routes", routeTableId=ref("t-inf-routes"))
    (said,) = route_assumptions(mutant)
    assert "the S3 gateway endpoint is on the route tables of 'db', 'inf'" in said


def test_aws_verify_refuses_a_subnet_on_the_main_route_table_where_a_flow_needs_a_route():
    text = refused(AWS, dropped(aws_plan(), "t-web-10-30-1-0-24-routes"))
    assert "resources.t-web-10-30-1-0-24: a subnet of segment 'web' has no route table association" in text


@pytest.mark.parametrize("mutate", [
    lambda p: dropped(p, "t-web-to-internet"),
    lambda p: replaced(p, "t-web-to-internet", destinationCidrBlock="10.0.0.0/8"),
    lambda p: replaced(p, "t-web-to-internet", routeTableId=ref("t-inf-routes")),
    lambda p: replaced(p, "t-internet-gateway", vpcId="vpc-0123456789abcdef0"),
], ids=["removed", "narrowed", "moved", "gateway-of-another-vpc"])
def test_aws_verify_refuses_public_flows_without_the_default_route(mutate):
    assert IGW_MISSING in refused(AWS, mutate(aws_plan()))


@pytest.mark.parametrize("name, mutate, where, says", [
    ("t-inf-10-30-2-0-24-routes", lambda p: without(p, "t-inf-10-30-2-0-24-routes", "routeTableId"),
     "routeTableId", "must refer to a route table of the plan (${<name>.id}), not None"),
    ("t-inf-10-30-2-0-24-routes", lambda p: replaced(p, "t-inf-10-30-2-0-24-routes", subnetId=None),
     "subnetId", "must refer to a subnet of the plan (${<name>.id}), not None"),
    ("t-s3", lambda p: without(p, "t-s3", "routeTableIds"),
     "routeTableIds", "must be the list of route tables the endpoint is on, not None"),
    ("t-s3", lambda p: replaced(p, "t-s3", routeTableIds=ref("t-inf-routes")),
     "routeTableIds", "must be the list of route tables the endpoint is on, not '${t-inf-routes.id}'"),
    ("t-s3", lambda p: replaced(p, "t-s3", routeTableIds=[None]),
     "routeTableIds[0]", "must be a route table (${<name>.id}), not None"),
    ("t-web-to-internet", lambda p: replaced(p, "t-web-to-internet", gatewayId=None),
     "gatewayId", "must be a string, not None"),
], ids=["assoc-no-table", "assoc-subnet-null", "s3-no-tables", "s3-tables-string", "s3-table-null",
        "route-gateway-null"])
def test_aws_verify_refuses_malformed_routing_records(name, mutate, where, says):
    text = refused(AWS, mutate(aws_plan()))
    assert f"resources.{name}.inputs.{where}: {says}" in text


def test_aws_verify_refuses_malformed_routing_from_a_plan_file(tmp_path):
    doc = aws_plan().to_json()
    (s3,) = [r for r in doc["resources"] if r["name"] == "t-s3"]
    s3["inputs"]["routeTableIds"] = "${t-inf-routes.id}"
    plan = plan_from_json(json.loads(json.dumps(doc)), INTENT, "aws")
    assert "resources.t-s3.inputs.routeTableIds: must be the list" in refused(AWS, plan)


# ------------------------------------------------------------ AWS existing VPC


def test_aws_existing_vpc_creates_no_routing_and_the_plan_says_what_you_bring():
    plan = aws_plan(EXISTING)
    assert not [r for r in plan if r.type in (INTERNET_GATEWAY, ROUTE_TABLE, ROUTE, VPC_ENDPOINT)]
    assert plan.requires == (
        "the subnets of 'web' route 0.0.0.0/0 to an internet gateway (or a NAT gateway for egress); "
        "no other segment's do",
        "an S3 gateway endpoint (com.amazonaws.<region>.s3) whose prefix list is "
        "settings.objectStoragePrefixList is on the route tables of 'inf'")
    assert plan.to_json()["requires"] == list(plan.requires)
    text = plan_text(plan, plan.to_json(), False)
    assert "requires (what you bring for the flows to carry traffic):\n  the subnets of 'web'" in text
    verdict = verify(INTENT, AWS, EXISTING)
    assert verdict.equivalent
    assert f"taken as given (the plan requires it): {plan.requires[1]}" in verdict.assumptions


def test_requirements_name_ipv6_routes_and_the_load_balancers_subnets():
    wanted = Needs(internet=("web",), balancer=True)
    text = aws_requirements(INTENT, wanted, False, frozenset({"web"}))
    assert text[0].startswith("the subnets of 'web' route 0.0.0.0/0 (and ::/0 for 'web')")
    assert text[-1] == "your load balancer sits in subnets that route to an internet gateway"


def test_network_mode_says_what_a_segment_without_a_cidr_needs_routed():
    text = TEXT.replace("  inf: {cidr: 10.30.2.0/24}\n", "  inf: {}\n").replace(
        "{from: web, to: inf, ports: [tcp/8080]}", "{from: inf, to: internet, ports: [tcp/443]}")
    plan = checked_plan(AWS, parse_intent(text), NETWORK)
    assert ("the subnets of 'inf' (no cidr, so no subnet of cloudfence's) route 0.0.0.0/0 to an "
            "internet gateway or a NAT gateway") in plan.requires
    assert ("the route tables of the subnets of 'inf' (no cidr, so no subnet of cloudfence's) are on "
            "the S3 gateway endpoint") in plan.requires
    (endpoint,) = plan.by_type(VPC_ENDPOINT)
    assert endpoint.inputs["routeTableIds"] == []  # no table of cloudfence's reaches it
    assert verify_plan(parse_intent(text), AWS, plan, checked=True).equivalent


def test_a_plan_file_keeps_what_it_requires_and_refuses_a_wrong_shape():
    plan = aws_plan(EXISTING)
    back = plan_from_json(json.loads(plan.dumps()), INTENT, "aws")
    assert back.requires == plan.requires
    with pytest.raises(CloudfenceError, match="requires: expected a list of texts"):
        plan_from_json({**plan.to_json(), "requires": "all of it"}, INTENT, "aws")


# ------------------------------------------------------------ GCP


def test_gcp_network_mode_turns_on_private_google_access_where_object_storage_is_reached():
    plan = checked_plan(GCP, INTENT, {"project": "my-project-1", "region": "us-central1"})
    access = {r.name: r.inputs.get("privateIpGoogleAccess") for r in plan.by_type(SUBNETWORK)}
    assert access == {"t-inf": True, "t-web": None, "t-db": None}
    assert any(r.startswith("DNS resolves Google APIs (storage.googleapis.com) for 'inf' to "
                            "private.googleapis.com (199.36.153.8/30") for r in plan.requires)
    assert not any("Private Google Access enabled" in r for r in plan.requires)
    settings = {"project": "my-project-1", "region": "us-central1"}
    assert registered_plan(INTENT, GCP, settings, plan) == json.loads(json.dumps(plan.to_json()))


def test_gcp_existing_network_says_to_enable_private_google_access_and_the_routes():
    plan = checked_plan(GCP, INTENT, {"project": "my-project-1", "network": "prod",
                                      "googleApiAccess": "restricted"})
    assert not [r for r in plan.by_type(SUBNETWORK)]
    assert ("the subnetworks of 'inf' have Private Google Access enabled and the network routes "
            "199.36.153.4/30, 2600:2d00:2:1000::/64 to the default internet gateway") in plan.requires
    assert any("to restricted.googleapis.com" in r for r in plan.requires)
    assert any(r.startswith("the network routes 0.0.0.0/0") and "'web'" in r for r in plan.requires)


@pytest.mark.parametrize("mutate, where, says", [
    (lambda p: replaced(p, "t-inf", privateIpGoogleAccess=False), "t-inf",
     "subnetwork t-inf (10.30.2.0/24) of segment 'inf', whose flows reach @object-storage, has no "
     "Private Google Access"),
    (lambda p: replaced(without(p, "t-inf", "privateIpGoogleAccess"), "t-web", privateIpGoogleAccess=True),
     "t-inf", "subnetwork t-inf (10.30.2.0/24) of segment 'inf', whose flows reach @object-storage, has no "
     "Private Google Access"),
    (lambda p: replaced(p, "t-db", privateIpGoogleAccess=True), "t-db",
     "subnetwork t-db (10.30.3.0/24) of segment 'db' has Private Google Access, but no flow of 'db' "
     "reaches @object-storage"),
    (lambda p: replaced(p, "t-inf", privateIpGoogleAccess="yes"), "t-inf",
     "must be true or false, not 'yes'"),
], ids=["off", "moved", "extra", "not-a-boolean"])
def test_gcp_verify_refuses_object_storage_without_private_google_access(mutate, where, says):
    plan = checked_plan(GCP, INTENT, GCP_NETWORK)
    assert f"resources.{where}.inputs.privateIpGoogleAccess: {says}" in refused(GCP, mutate(plan))


def test_gcp_verify_refuses_a_reaching_segment_without_its_subnetwork():
    plan = checked_plan(GCP, INTENT, GCP_NETWORK)
    mutant = replaced(plan, "t-inf", ipCidrRange="10.30.9.0/24")
    assert "the plan's network has no subnetwork 10.30.2.0/24 for segment 'inf'" in refused(GCP, mutant)


def test_gcp_verify_says_where_private_google_access_is_on():
    verdict = verify_plan(INTENT, GCP, checked_plan(GCP, INTENT, GCP_NETWORK), checked=True)
    assert verdict.equivalent, verdict.counterexamples
    assert ("Private Google Access is as the plan's subnetworks say: on for the subnetworks of 'inf' and "
            "off for the others") in verdict.assumptions


# ------------------------------------------------------------ goldens


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("provider, settings, golden", [
    (AWS, NETWORK, "aws/routing.json"),
    (AWS, EXISTING, "aws/routing-existing-vpc.json"),
    (GCP, {"project": "my-project-1", "region": "us-central1"}, "gcp/private-google-access.json"),
])
def test_routing_plan_matches_golden_file(provider, settings, golden):
    assert_golden(GOLDEN / golden, checked_plan(provider, INTENT, settings).dumps() + "\n",
                  "tests/test_network_routing.py")
