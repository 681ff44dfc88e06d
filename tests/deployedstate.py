"""Deployed-state documents built from compiled records, in the documented formats of
`kubectl get networkpolicies -A -o json`, `aws ec2 describe-security-groups` /
`describe-security-group-rules` and `pulumi stack export` (version 3), as a cluster,
AWS or Pulumi would hand them back after the records were applied unchanged."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from cloudfence.intent import load_intent
from cloudfence.plan import REF, Plan, Resource
from cloudfence.plugins import get_provider
from cloudfence.provider import checked_plan
from cloudfence.providers.aws.wire import EGRESS_RULE, INGRESS_RULE, SECURITY_GROUP, VPC_ENDPOINT
from tests.fakeplugin import AWS_EXAMPLE, EXAMPLE, K8S_EXAMPLE, S3_PREFIX_LIST

ACCOUNT = "123456789012"
VPC_ID = "vpc-0a1b2c3d4e5f60718"


def compiled(provider: str, settings: dict[str, Any]) -> Plan:
    return checked_plan(get_provider(provider), load_intent(str(EXAMPLE)), settings)


def kubernetes_plan() -> Plan:
    return compiled("kubernetes", {**K8S_EXAMPLE, "dns": True, "defaultDenyNamespaces": True})


def aws_plan(prefix_lists: bool = False) -> Plan:
    return compiled("aws", {**AWS_EXAMPLE, "vpcCidr": "10.20.0.0/16", "prefixLists": prefix_lists})


def _id(prefix: str, name: str) -> str:
    return f"{prefix}-0{hashlib.sha256(name.encode()).hexdigest()[:16]}"


# ----------------------------------------------------------------- kubectl


def kubectl_list(plan: Plan) -> dict[str, Any]:
    items = []
    for i, r in enumerate(plan.resources):
        item = copy.deepcopy(r.inputs)
        item["metadata"].update(uid=f"5b1c0f5e-0000-4000-8000-{i:012d}", resourceVersion=str(40211 + i),
                                generation=1, creationTimestamp="2026-11-30T10:00:00Z")
        items.append(item)
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


# ------------------------------------------------------------------ AWS CLI


def _aws_ids(plan: Plan) -> dict[str, str]:
    return {r.name: _id("sg", r.name) for r in plan.by_type(SECURITY_GROUP)}


def _peer_id(value: Any, ids: dict[str, str]) -> str:
    m = REF.match(value) if isinstance(value, str) else None
    if m and m.group("output") == "prefixListId":  # the S3 gateway endpoint's list
        return S3_PREFIX_LIST
    return ids[m.group("name")] if m else str(value)


def _permission(rule: Resource, ids: dict[str, str]) -> dict[str, Any]:
    i = rule.inputs
    perm: dict[str, Any] = {"IpProtocol": i["ipProtocol"], "IpRanges": [], "Ipv6Ranges": [],
                            "PrefixListIds": [], "UserIdGroupPairs": []}
    if i["ipProtocol"] != "-1":
        perm.update(FromPort=i["fromPort"], ToPort=i["toPort"])
    text = {"Description": i["description"]}
    if i.get("cidrIpv4"):
        perm["IpRanges"].append({"CidrIp": i["cidrIpv4"], **text})
    if i.get("cidrIpv6"):
        perm["Ipv6Ranges"].append({"CidrIpv6": i["cidrIpv6"], **text})
    if i.get("prefixListId"):
        perm["PrefixListIds"].append({"PrefixListId": _peer_id(i["prefixListId"], ids), **text})
    if i.get("referencedSecurityGroupId"):
        perm["UserIdGroupPairs"].append({"GroupId": _peer_id(i["referencedSecurityGroupId"], ids),
                                         "UserId": ACCOUNT, **text})
    return perm


def _rules_of(plan: Plan, rtype: str, group_ref: str) -> list[Resource]:
    return [r for r in plan.by_type(rtype) if r.inputs["securityGroupId"] == group_ref]


def describe_security_groups(plan: Plan) -> dict[str, Any]:
    """As `aws ec2 describe-security-groups` prints it (Pulumi's auto-name suffix on GroupName)."""
    ids = _aws_ids(plan)
    groups = []
    for g in plan.by_type(SECURITY_GROUP):
        ref = f"${{{g.name}.id}}"
        ingress = [_permission(r, ids) for r in _rules_of(plan, INGRESS_RULE, ref)]
        egress = [_permission(r, ids) for r in _rules_of(plan, EGRESS_RULE, ref)]
        groups.append({
            "Description": g.inputs["description"], "GroupName": f"{g.name}-{ids[g.name][-7:]}",
            "IpPermissions": ingress, "OwnerId": ACCOUNT, "GroupId": ids[g.name],
            "IpPermissionsEgress": egress,
            "Tags": [{"Key": k, "Value": v} for k, v in g.inputs["tags"].items()], "VpcId": VPC_ID,
            "SecurityGroupArn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{ids[g.name]}"})
    return {"SecurityGroups": groups}


def describe_security_group_rules(plan: Plan) -> dict[str, Any]:
    """As `aws ec2 describe-security-group-rules` prints it."""
    ids = _aws_ids(plan)
    rules = []
    for r in [*plan.by_type(INGRESS_RULE), *plan.by_type(EGRESS_RULE)]:
        i = r.inputs
        rule: dict[str, Any] = {
            "SecurityGroupRuleId": _id("sgr", r.name), "GroupId": _peer_id(i["securityGroupId"], ids),
            "GroupOwnerId": ACCOUNT, "IsEgress": r.type == EGRESS_RULE, "IpProtocol": i["ipProtocol"],
            "FromPort": i.get("fromPort", -1), "ToPort": i.get("toPort", -1), "Description": i["description"],
            "Tags": [{"Key": k, "Value": v} for k, v in i["tags"].items()],
            "SecurityGroupRuleArn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group-rule/"
                                    f"{_id('sgr', r.name)}"}
        for key, wire in (("cidrIpv4", "CidrIpv4"), ("cidrIpv6", "CidrIpv6"),
                          ("prefixListId", "PrefixListId")):
            if i.get(key):
                rule[wire] = _peer_id(i[key], ids)
        if i.get("referencedSecurityGroupId"):
            rule["ReferencedGroupInfo"] = {"GroupId": _peer_id(i["referencedSecurityGroupId"], ids),
                                           "UserId": ACCOUNT}
        rules.append(rule)
    return {"SecurityGroupRules": rules}


# ------------------------------------------------------------ Pulumi state


def _resolved(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _peer_id(value, ids)
    if isinstance(value, dict):
        return {k: _resolved(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, ids) for v in value]
    return value


def _inline(rule: Resource, ids: dict[str, str]) -> dict[str, Any]:
    """A rule as a refreshed group lists it in its `ingress`/`egress` output."""
    i = _resolved(rule.inputs, ids)
    proto = i["ipProtocol"]
    return {"cidrBlocks": [i["cidrIpv4"]] if i.get("cidrIpv4") else [],
            "description": i.get("description", ""), "fromPort": i.get("fromPort", 0),
            "ipv6CidrBlocks": [i["cidrIpv6"]] if i.get("cidrIpv6") else [],
            "prefixListIds": [i["prefixListId"]] if i.get("prefixListId") else [],
            "protocol": proto, "securityGroups": [i["referencedSecurityGroupId"]]
            if i.get("referencedSecurityGroupId") else [], "self": False, "toPort": i.get("toPort", 0)}


def stack_export(plan: Plan, stack: str = "prod", project: str = "ai-inference") -> dict[str, Any]:
    """`pulumi stack export` after `pulumi up` and `pulumi refresh` of these records."""
    prefix = {"aws": "aws", "kubernetes": "kubernetes"}[plan.provider]
    ids = {r.name: _resource_id(r) for r in plan.resources}
    stack_urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
    provider_urn = f"urn:pulumi:{stack}::{project}::pulumi:providers:{prefix}::default_6_0_0"
    resources: list[dict[str, Any]] = [
        {"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {}},
        {"urn": provider_urn, "custom": True, "id": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
         "type": f"pulumi:providers:{prefix}", "inputs": {"__internal": {}}, "outputs": {}}]
    for r in plan.resources:
        inputs = _resolved(r.inputs, ids)
        outputs = {**copy.deepcopy(inputs), "id": ids[r.name]}
        if r.type == VPC_ENDPOINT:
            outputs["prefixListId"] = S3_PREFIX_LIST
        if r.type == SECURITY_GROUP:
            inputs = {"__defaults": ["name"], **inputs, "name": f"{r.name}-{ids[r.name][-7:]}",
                      "revokeRulesOnDelete": False}
            ref = f"${{{r.name}.id}}"
            outputs.update(
                name=inputs["name"], arn=f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{ids[r.name]}",
                tagsAll=inputs["tags"], ownerId=ACCOUNT,
                ingress=[_inline(x, ids) for x in _rules_of(plan, INGRESS_RULE, ref)],
                egress=[_inline(x, ids) for x in _rules_of(plan, EGRESS_RULE, ref)])
        elif r.type.startswith("kubernetes:"):
            outputs["metadata"].update(uid="5b1c0f5e-0000-4000-8000-000000000001", resourceVersion="40211",
                                       generation=1, creationTimestamp="2026-11-30T10:00:00Z")
        resources.append({
            "urn": f"urn:pulumi:{stack}::{project}::{r.type}::{r.name}", "custom": True, "id": ids[r.name],
            "type": r.type, "inputs": inputs, "outputs": outputs, "parent": stack_urn,
            "provider": f"{provider_urn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9",
            "dependencies": sorted({f"urn:pulumi:{stack}::{project}::{o.type}::{o.name}"
                                    for o in plan.resources if o.name in r.refs.values()})})
    return {"version": 3, "deployment": {
        "manifest": {"time": "2026-11-30T10:00:00Z", "magic": "0e0d1b9b", "version": "v3.140.0"},
        "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:AAAA:v1:BBBB:CCCC"}},
        "resources": resources}}


def _resource_id(r: Resource) -> str:
    if r.type.startswith("kubernetes:"):
        meta = r.inputs["metadata"]
        return f"{meta['namespace']}/{meta['name']}"
    short = {"aws:ec2/securityGroup:SecurityGroup": "sg", "aws:ec2/vpc:Vpc": "vpc",
             "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/managedPrefixList:ManagedPrefixList": "pl"}
    return _id(short.get(r.type, "sgr"), r.name)
