"""The AWS provider: security groups per segment with standalone rules,
prefix lists for wide networks, and optionally (network mode) the VPC,
segment subnets, network ACLs and the routing the flows need.

Thin on purpose: settings.py holds the settings model, internal.py the VPC's
address space, rules.py/layout.py/nacl.py decide rules and where they go,
network.py the VPC layout, routing.py its routes and gateways, compile.py writes
records, evaluate.py reads them back. No Pulumi import here except in `sdk_class`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from cloudfence.addresses import GLOBAL_V6, AddressSet
from cloudfence.bridges import bridge_problems
from cloudfence.endpoints import INSTANCE_METADATA, LOAD_BALANCER, OBJECT_STORAGE
from cloudfence.errors import Problem
from cloudfence.intent import INTERNET, Intent
from cloudfence.plan import DeployedRecords, Plan, Resource
from cloudfence.provider import BaseProvider, Capabilities, SdkMissing
from cloudfence.providers.aws import deployed, nacl, pods
from cloudfence.providers.aws.compile import compile_plan
from cloudfence.providers.aws.evaluate import READ_INPUTS, evaluate_plan
from cloudfence.providers.aws.internal import AwsSpace, aws_space, resolved
from cloudfence.providers.aws.layout import layout
from cloudfence.providers.aws.network import network_problems, subnets
from cloudfence.providers.aws.rules import families
from cloudfence.providers.aws.settings import (
    DEFAULT_GROUPS_PER_INTERFACE,
    DEFAULT_RULES_PER_NETWORK_ACL,
    DEFAULT_RULES_PER_SECURITY_GROUP,
    AwsSettings,
)
from cloudfence.providers.aws.wire import (
    EGRESS_RULE,
    INGRESS_RULE,
    INTERNET_GATEWAY,
    LEGACY_RULE,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
    ROUTE,
    ROUTE_TABLE,
    ROUTE_TABLE_ASSOCIATION,
    SDK_CLASSES,
    SECURITY_GROUP,
    SUBNET,
    VPC,
    VPC_ENDPOINT,
)
from cloudfence.pulumistate import StateResource
from cloudfence.reachability import Reachability
from cloudfence.settings import ProviderSettings, narrow


class AwsProvider(BaseProvider):
    name = "aws"
    description = ("AWS VPC security groups (one per segment, standalone rules referencing groups), "
                   "optionally network ACLs on segment subnets")
    capabilities = Capabilities(
        protocols=frozenset({"tcp", "udp", "sctp", "icmp", "icmpv6"}),  # "other" only within any
        icmp_types=True,
        ipv6=True,
        segments_need_addresses=False,
        governs="every segment (its security groups; with nacls, also its subnets)",
        platform_endpoints={
            LOAD_BALANCER: "a security group cloudfence creates for your ALB or NLB to attach "
                           "(exports['@load-balancer']), referenced by the segments' rules; flows "
                           "into it are its listener's ingress",
            OBJECT_STORAGE: "the prefix list of the S3 gateway endpoint cloudfence creates in "
                            "settings.region (network mode), or with vpcId the region's AWS-managed S3 "
                            "prefix list (settings.objectStoragePrefixList), weighing "
                            "settings.objectStoragePrefixListWeight; network ACLs: public space",
        },
        quotas={"rulesPerSecurityGroup": DEFAULT_RULES_PER_SECURITY_GROUP,
                "rulesPerNetworkAcl": DEFAULT_RULES_PER_NETWORK_ACL,
                "securityGroupsPerInterface": DEFAULT_GROUPS_PER_INTERFACE},
    )
    settings_model = AwsSettings
    internal_setting = "vpcCidrs"
    #: The load balancer's own group takes the listener's ingress (`internet -> @load-balancer`).
    governed_endpoints: ClassVar[frozenset[str]] = frozenset({LOAD_BALANCER})
    refused_endpoints: ClassVar[Mapping[str, str]] = {
        INSTANCE_METADATA: "security groups and network ACLs never see traffic to instance metadata "
                           "(169.254.169.254, fd00:ec2::254), so no flow can allow or deny it; remove "
                           "the flow and harden the instances instead: require IMDSv2 "
                           "(http_tokens: required) with a hop limit of 1 so containers cannot reach it, "
                           "and give workloads only the IAM role they need"}
    endpoint_settings: ClassVar[Mapping[str, str]] = {
        OBJECT_STORAGE: "settings.region (the VPC cloudfence creates gets the S3 gateway endpoint "
                        "com.amazonaws.<region>.s3) or, with settings.vpcId, "
                        "settings.objectStoragePrefixList, the id of com.amazonaws.<region>.s3 (aws ec2 "
                        "describe-managed-prefix-lists --filters Name=prefix-list-name,"
                        "Values=com.amazonaws.<region>.s3 --query 'PrefixLists[0].PrefixListId')"}
    # What the AWS API cannot modify in place (cloud-semantics.md 1.7, 1.8): a group's
    # description, name and VPC; a rule's group; every field of a network ACL entry; and,
    # for every record, its region.
    replace_on: ClassVar[Mapping[str, frozenset[str]]] = {
        VPC: frozenset({"cidrBlock", "instanceTenancy", "region"}),
        SUBNET: frozenset({"vpcId", "cidrBlock", "availabilityZone", "region"}),
        SECURITY_GROUP: frozenset({"description", "name", "namePrefix", "vpcId", "region"}),
        INGRESS_RULE: frozenset({"securityGroupId", "region"}),
        EGRESS_RULE: frozenset({"securityGroupId", "region"}),
        NETWORK_ACL: frozenset({"vpcId", "region"}),
        ROUTE_TABLE: frozenset({"vpcId", "region"}),
        ROUTE: frozenset({"routeTableId", "destinationCidrBlock", "region"}),
        ROUTE_TABLE_ASSOCIATION: frozenset({"subnetId", "gatewayId", "region"}),
        VPC_ENDPOINT: frozenset({"vpcId", "serviceName", "vpcEndpointType", "region"}),
        INTERNET_GATEWAY: frozenset({"region"}),
        pods.POLICY: frozenset({"metadata.name", "metadata.namespace", "apiVersion", "kind"}),
        NETWORK_ACL_RULE: frozenset({"networkAclId", "ruleNumber", "egress", "protocol", "ruleAction",
                                     "cidrBlock", "ipv6CidrBlock", "fromPort", "toPort", "icmpType",
                                     "icmpCode", "region"}),
    }

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        options = narrow(AwsSettings, settings)
        problems = super().check(intent, settings)  # capabilities, then check_meaning below
        problems += _sctp_problems(intent)
        problems += network_problems(intent, options)
        problems += pods.check(intent, options.security_groups_for_pods)
        if any(p.where.startswith("settings.") for p in problems):
            return _unique(problems)  # no VPC CIDR: the rules cannot be laid out
        options = resolved(intent, options)
        space = aws_space(intent, options)
        problems += _vpc_problems(intent, options)
        problems += layout(intent, space, options).problems
        if options.nacls:
            nets = subnets(intent)
            problems += nacl.expressible(intent, nets)
            problems += nacl.quota_problems(intent, nacl.acl_entries(intent, nets, space),
                                            options.usable_acl_rules, options.rules_per_network_acl)
        return _unique(problems)

    def check_meaning(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        """Dead flows and bridges as the core finds them, judged in the VPC's space
        (the created VPC's CIDR, or vpcCidrs; while those are unknown, the VPC's
        IPv6 prefix may be anywhere), and rules toward internet that an unknown
        IPv6 prefix would widen."""
        options = resolved(intent, narrow(AwsSettings, settings))
        space = aws_space(intent, options)
        problems = [intent.problem(f, why) for f, why in space.dead_flows(intent.flows)]
        unknown = _unknown_vpc_problems(intent, space, options)
        refused = {p.where for p in unknown}
        hidden = frozenset(name for name, seg in intent.segments.items() if not seg.cidrs)
        bridges = bridge_problems(intent, space, hidden, options.internal_setting, self.name,
                                  self.governed_endpoints) if hidden else []
        return problems + unknown + [p for p in bridges if p.where not in refused]

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        return compile_plan(intent, narrow(AwsSettings, settings), self.name)

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        return evaluate_plan(plan, intent, self.governs(intent), self.name)

    def summarize(self, resource: Resource) -> str | None:
        return pods.summary(resource) if resource.type == pods.POLICY else None

    def count_rules(self, plan: Plan) -> int:
        """Security group rules (standalone records, and any inline or legacy ones AWS
        would enforce too) plus network ACL entries."""
        rules = (INGRESS_RULE, EGRESS_RULE, LEGACY_RULE, NETWORK_ACL_RULE)
        inline = plan.entries(SECURITY_GROUP, "ingress") + plan.entries(SECURITY_GROUP, "egress")
        return sum(len(plan.by_type(t)) for t in rules) + inline

    deployed_types: ClassVar[frozenset[str]] = frozenset(READ_INPUTS)

    def deployed_records(self, doc: Any, intent: Intent, file: str) -> DeployedRecords | None:
        """`aws ec2 describe-security-groups` / `describe-security-group-rules` JSON."""
        return deployed.cli_records(doc, intent, file) if deployed.is_cli(doc) else None

    def state_records(self, state: Sequence[StateResource], intent: Intent) -> DeployedRecords:
        """The stack's network records as AWS reported them at the last refresh."""
        return deployed.state_records(state, intent)

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        if type_token == pods.POLICY:  # settings.securityGroupsForPods: a Kubernetes custom resource
            try:
                from pulumi_kubernetes.apiextensions import CustomResource
            except ImportError:
                raise SdkMissing("settings.securityGroupsForPods registers SecurityGroupPolicies through "
                                 "the Kubernetes Pulumi SDK, which is not installed: pip install "
                                 "'cloudfence[aws,kubernetes]'") from None
            return CustomResource
        if type_token not in SDK_CLASSES:
            raise KeyError(f"the aws provider does not emit {type_token} "
                           f"(it emits {', '.join(sorted(SDK_CLASSES))})")
        module, cls = SDK_CLASSES[type_token]
        with warnings.catch_warnings():  # loading pulumi_aws.ec2 warns about classes we never use
            warnings.simplefilter("ignore", DeprecationWarning)
            found: Callable[..., Any] = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
            return found


def _unique(problems: list[Problem]) -> list[Problem]:
    """The same problem found by two checks is reported once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.where, p.message) not in seen:
            seen.add((p.where, p.message))
            out.append(p)
    return out


def _sctp_problems(intent: Intent) -> list[Problem]:
    """AWS allows every port for protocol 132: a port-restricted SCTP flow would widen."""
    out = []
    for flow in intent.flows:
        sctp = flow.ports.get("sctp")
        if sctp and not flow.ports.is_any() and list(sctp) != [(0, 65535)]:
            out.append(intent.problem(flow, (
                "AWS cannot restrict SCTP ports (security group and network ACL rules for protocol "
                "132 allow every port): write sctp/0-65535, or target another provider")))
    return out


def _vpc_problems(intent: Intent, options: AwsSettings) -> list[Problem]:
    """Segment cidrs are addresses of the VPC: one outside every VPC CIDR cannot be a subnet."""
    if options.network_mode or not options.vpc_cidrs:
        return []
    vpc = AddressSet.from_cidrs(options.vpc_cidrs)
    listed = ", ".join(str(c) for c in options.vpc_cidrs)
    out = []
    for name, seg in intent.segments.items():
        for c in seg.cidrs:
            if not AddressSet.from_cidrs([c]).issubset(vpc):
                where = f"segments.{name}.cidr"
                out.append(Problem(where, f"{c} is outside the VPC's CIDRs ({listed}, settings.vpcCidrs): "
                                   "move the segment, or list the VPC's missing CIDR in settings.vpcCidrs",
                                   intent.file, intent.lines.get(where)))
    return out


def _unknown_vpc_problems(intent: Intent, space: AwsSpace, options: AwsSettings) -> list[Problem]:
    """With an existing VPC whose CIDRs are not given, IPv6 rules toward `internet`
    may reach the VPC's own IPv6 prefix (public addresses, not internet)."""
    if not space.vpc_unknown or not intent.networks[INTERNET].builtin:
        return []
    if not space.network(INTERNET) & AddressSet.from_cidrs([GLOBAL_V6]):
        return []
    out = []
    for flow in intent.flows:
        seg = flow.src if flow.src.is_segment else flow.dst
        other = flow.dst if flow.src.is_segment else flow.src
        if other.kind != "network" or other.name != INTERNET:
            continue
        # the load balancer's listener is written for both families (it may be dual-stack)
        if not seg.is_segment or 6 in families(intent, seg.name):
            fix = "" if not seg.is_segment else f", or give '{seg.name}' an IPv4 cidr"
            out.append(intent.problem(flow, (
                f"'{seg.name}' may use IPv6, and the VPC's CIDRs are unknown: its IPv6 prefix (public "
                f"addresses, not internet) cannot be left out of the rules toward 'internet'; list the "
                f"VPC's IPv4 and IPv6 CIDRs in settings.vpcCidrs (aws ec2 describe-vpcs "
                f"--vpc-ids {options.vpc_id}){fix}")))
    return out
