"""The AWS provider: a security group per segment with standalone rules, and
optionally (network mode) the VPC, segment subnets and network ACLs.

Thin on purpose: settings.py declares the settings, rules.py/nacl.py decide rules,
network.py the VPC layout, compile.py writes records, evaluate.py reads them
back. No Pulumi import here except in `sdk_class`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

from cloudfence.errors import Problem
from cloudfence.intent import Intent
from cloudfence.plan import Plan
from cloudfence.provider import BaseProvider, Capabilities
from cloudfence.providers.aws import nacl, rules
from cloudfence.providers.aws.compile import compile_plan
from cloudfence.providers.aws.evaluate import evaluate_plan
from cloudfence.providers.aws.network import network_problems, segment_problem, subnets
from cloudfence.providers.aws.settings import (
    DEFAULT_RULES_PER_NETWORK_ACL,
    DEFAULT_RULES_PER_SECURITY_GROUP,
    AwsSettings,
)
from cloudfence.providers.aws.wire import SDK_CLASSES
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
        governs="every segment (its security group; with nacls, also its subnets)",
        platform_endpoints=frozenset(),
        quotas={"rulesPerSecurityGroup": DEFAULT_RULES_PER_SECURITY_GROUP,
                "rulesPerNetworkAcl": DEFAULT_RULES_PER_NETWORK_ACL},
    )
    settings_model = AwsSettings

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        options = narrow(AwsSettings, settings)
        problems = super().check(intent, settings)
        problems += _sctp_problems(intent)
        problems += network_problems(intent, options)
        problems += _quota_problems(intent, options)
        if options.nacls:
            nets = subnets(intent)
            problems += nacl.expressible(intent, nets)
            problems += nacl.quota_problems(intent, nacl.acl_entries(intent, nets),
                                            options.usable_acl_rules, options.rules_per_network_acl)
        return problems

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        return compile_plan(intent, narrow(AwsSettings, settings), self.name)

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        return evaluate_plan(plan, intent, self.governs(intent), self.name)

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        if type_token not in SDK_CLASSES:
            raise KeyError(f"the aws provider does not emit {type_token} "
                           f"(it emits {', '.join(sorted(SDK_CLASSES))})")
        module, cls = SDK_CLASSES[type_token]
        with warnings.catch_warnings():  # loading pulumi_aws.ec2 warns about classes we never use
            warnings.simplefilter("ignore", DeprecationWarning)
            return getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)


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


def _quota_problems(intent: Intent, options: AwsSettings) -> list[Problem]:
    quota = options.rules_per_security_group
    out = []
    for (seg, direction, fam), n in sorted(rules.count(rules.security_group_rules(intent)).items()):
        if n > quota:
            out.append(segment_problem(intent, seg, (
                f"its security group needs {n} {direction} IPv{fam} rules, over the quota of {quota} "
                f"per direction and IP family (settings.rulesPerSecurityGroup; a rule naming another "
                f"segment counts for IPv4 and IPv6): merge ports or peers, or raise the quota"),
                key=""))
    return out
