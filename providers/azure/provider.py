"""The Azure provider: per segment an application security group (identity) and
a network security group with inline rules that end in explicit deny-alls;
in network mode also the virtual network and a subnet per segment cidr.

Thin on purpose: settings.py holds the settings model, rules.py the rules each
NSG needs, priorities.py their priorities, checks.py what Azure cannot express
or hold, compile.py the records, evaluate.py the NSG semantics, wire.py the
spellings. No Pulumi import here except in `sdk_class`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from cloudfence.endpoints import INSTANCE_METADATA, OBJECT_STORAGE
from cloudfence.errors import Problem
from cloudfence.intent import Flow, Intent
from cloudfence.nodepools import node_pool_problems
from cloudfence.plan import Plan
from cloudfence.provider import BaseProvider, Capabilities
from cloudfence.providers.azure.checks import check_intent
from cloudfence.providers.azure.compile import compile_plan, implied_flows
from cloudfence.providers.azure.evaluate import evaluate_plan
from cloudfence.providers.azure.settings import (
    DEFAULT_PREFIXES_PER_NSG,
    DEFAULT_RULES_PER_NSG,
    NODE_IDENTITY,
    AzureSettings,
)
from cloudfence.providers.azure.wire import (
    ASG,
    LOAD_BALANCER,
    NSG,
    SDK_CLASSES,
    SECURITY_RULE,
    SUBNET,
    VIRTUAL_NETWORK,
)
from cloudfence.reachability import Reachability
from cloudfence.settings import ProviderSettings, narrow


class AzureProvider(BaseProvider):
    name = "azure"
    description = ("Azure network security groups (one per segment, inline rules, explicit deny-all) with "
                   "application security groups as segment identity")
    settings_model = AzureSettings
    internal_setting = "addressSpace"
    refused_endpoints: ClassVar[Mapping[str, str]] = {
        INSTANCE_METADATA: "network security groups do not filter the instance metadata service "
                           "(169.254.169.254) unless a rule names the AzurePlatformIMDS tag, which "
                           "cloudfence does not model; remove the flow and harden the workloads "
                           "instead: give them a managed identity with only the roles they need, "
                           "and on AKS use workload identity (pods then need no node credentials)"}
    capabilities = Capabilities(
        protocols=frozenset({"tcp", "udp", "icmp", "icmpv6"}),  # SCTP and the rest only within any
        icmp_types=False,
        ipv6=True,
        segments_need_addresses=False,
        governs="every segment (its NSG, on its subnet or its workloads' interfaces)",
        platform_endpoints={
            LOAD_BALANCER: "the AzureLoadBalancer service tag (health probes, as a source)",
            OBJECT_STORAGE: "the Storage service tag, or Storage.<Region> (settings.objectStorageTag)",
        },
        quotas={"rulesPerNsg": DEFAULT_RULES_PER_NSG, "prefixesPerNsg": DEFAULT_PREFIXES_PER_NSG},
    )

    #: An ARM resource is its id: the resource group and names in its path, and a
    #: location it cannot leave, change only by delete and create. Rules, prefixes,
    #: tags and the subnet's NSG update in place (the NSG's rules are one PUT).
    replace_on: ClassVar[Mapping[str, frozenset[str]]] = {
        ASG: frozenset({"resourceGroupName", "location", "applicationSecurityGroupName"}),
        NSG: frozenset({"resourceGroupName", "location", "networkSecurityGroupName"}),
        VIRTUAL_NETWORK: frozenset({"resourceGroupName", "location", "virtualNetworkName"}),
        SUBNET: frozenset({"resourceGroupName", "virtualNetworkName", "subnetName"}),
    }

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        options = narrow(AzureSettings, settings)
        return (super().check(intent, settings) + check_intent(intent, options)
                + node_pool_problems(intent, options.node_pools, NODE_IDENTITY))

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        return compile_plan(intent, narrow(AzureSettings, settings), self.name)

    def implied_flows(self, intent: Intent, settings: ProviderSettings) -> tuple[Flow, ...]:
        """Load balancer health probes kept open by settings.loadBalancerProbes."""
        return implied_flows(intent, narrow(AzureSettings, settings))

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        return evaluate_plan(plan, intent, self.governs(intent), self.name)

    def count_rules(self, plan: Plan) -> int:
        """The NSGs' security rules (inline, and any standalone ones), deny-alls included."""
        return plan.entries(NSG, "securityRules") + len(plan.by_type(SECURITY_RULE))

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        if type_token not in SDK_CLASSES:
            raise KeyError(f"the azure provider does not emit {type_token} "
                           f"(it emits {', '.join(sorted(SDK_CLASSES))})")
        found: Callable[..., Any] = getattr(importlib.import_module("pulumi_azure_native.network"),
                                            SDK_CLASSES[type_token])
        return found
