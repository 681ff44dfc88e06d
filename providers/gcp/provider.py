"""The GCP provider: VPC firewall rules per segment on network tags or service
accounts, with explicit deny-all rules below the allows, on an existing network
or (network mode) one cloudfence creates with a subnetwork per segment cidr.

Thin on purpose: settings.py reads settings, identity.py and rules.py decide,
network.py the network layout, checks.py what GCP cannot express, compile.py
writes records, evaluate.py reads them back. No Pulumi import here except in
`sdk_class`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from cloudfence.bridges import bridge_problems
from cloudfence.endpoints import INSTANCE_METADATA, LOAD_BALANCER, OBJECT_STORAGE
from cloudfence.errors import Problem
from cloudfence.intent import Intent
from cloudfence.nodepools import node_pool_problems
from cloudfence.plan import Plan
from cloudfence.provider import BaseProvider, Capabilities
from cloudfence.providers.gcp.checks import account_problems, egress_problems, quota_problems
from cloudfence.providers.gcp.compile import compile_plan
from cloudfence.providers.gcp.evaluate import evaluate_plan
from cloudfence.providers.gcp.identity import identities
from cloudfence.providers.gcp.network import network_problems, proxy_problems
from cloudfence.providers.gcp.rules import firewall_rules
from cloudfence.providers.gcp.settings import (
    DEFAULT_RANGES_PER_RULE,
    DEFAULT_RULES_PER_PROJECT,
    NODE_IDENTITY,
    SOURCE_SERVICE_ACCOUNTS_PER_RULE,
    SOURCE_TAGS_PER_RULE,
    GcpSettings,
)
from cloudfence.providers.gcp.wire import FIREWALL, NETWORK, SDK_CLASSES, SUBNETWORK
from cloudfence.reachability import Reachability
from cloudfence.settings import ProviderSettings, narrow
from cloudfence.space import space_for


class GcpProvider(BaseProvider):
    name = "gcp"
    description = ("GCP VPC firewall rules per segment on network tags or service accounts, with "
                   "explicit deny-all rules; optionally the network and a subnetwork per segment")
    settings_model: ClassVar[type[GcpSettings]] = GcpSettings
    capabilities = Capabilities(
        protocols=frozenset({"tcp", "udp", "sctp", "icmp", "icmpv6"}),  # "other" only within any
        icmp_types=False,
        ipv6=True,
        segments_need_addresses=False,  # only as egress destinations (check says which)
        governs="every segment (the firewall rules that target its tag or service account)",
        platform_endpoints={
            LOAD_BALANCER: "source ranges 35.191.0.0/16, 130.211.0.0/22, 2600:2d00:1:b029::/64, "
                           "2600:2d00:1:1::/64 (health checks, Google Front Ends) and "
                           "settings.proxyOnlyCidrs",
            OBJECT_STORAGE: "destination ranges of Private Google Access (settings.googleApiAccess: "
                            "private 199.36.153.8/30, 2600:2d00:2:2000::/64 or restricted "
                            "199.36.153.4/30, 2600:2d00:2:1000::/64)",
        },
        quotas={"rulesPerProject": DEFAULT_RULES_PER_PROJECT, "rangesPerRule": DEFAULT_RANGES_PER_RULE,
                "sourceTagsPerRule": SOURCE_TAGS_PER_RULE,
                "sourceServiceAccountsPerRule": SOURCE_SERVICE_ACCOUNTS_PER_RULE},
    )

    internal_setting = "subnetworkCidrs"
    refused_endpoints: ClassVar[Mapping[str, str]] = {
        INSTANCE_METADATA: "VPC firewall rules always allow the metadata server (169.254.169.254), so "
                           "no flow can allow or deny it; remove the flow and harden the workloads "
                           "instead: on GKE enable Workload Identity (the GKE metadata server hides the "
                           "node's credentials), and run VMs as a service account with only the "
                           "scopes they need"}
    #: Fields the GCP API sets only at creation (the Terraform provider's ForceNew, as far as
    #: documented); ranges, tags, priority and allows/denies of a rule are patched in place.
    #: A subnetwork's range may grow in place; any other change recreates it.
    replace_on: ClassVar[Mapping[str, frozenset[str]]] = {
        NETWORK: frozenset({"name", "autoCreateSubnetworks", "description", "project"}),
        SUBNETWORK: frozenset({"name", "network", "region", "project", "ipCidrRange"}),
        FIREWALL: frozenset({"name", "network", "direction", "project"}),
    }

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        options = narrow(GcpSettings, settings)
        problems = super().check(intent, options)  # capabilities, dead flows, bridges
        problems += egress_problems(intent)
        problems += account_problems(intent, options)
        problems += network_problems(intent, options)
        problems += proxy_problems(intent, options)
        problems += node_pool_problems(intent, options.node_pools, NODE_IDENTITY)
        if problems:
            return problems
        return quota_problems(firewall_rules(intent, options, identities(intent, options)), options)

    def check_meaning(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        """The core's dead-flow and bridge checks; a bridge's fix names the setting
        that exists in this mode (a created network takes no subnetworkCidrs)."""
        options = narrow(GcpSettings, settings)
        space = space_for(intent, options)
        problems = [intent.problem(f, why) for f, why in space.dead_flows(intent.flows)]
        hidden = frozenset(s for s, seg in intent.segments.items() if not seg.cidrs)
        if hidden:
            setting = ("network with settings.subnetworkCidrs" if options.network_mode
                       else self.internal_setting)
            problems += bridge_problems(intent, space, hidden, setting, self.name)
        return problems

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        return compile_plan(intent, narrow(GcpSettings, settings), self.name)

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        return evaluate_plan(plan, intent, self.governs(intent), self.name)

    def count_rules(self, plan: Plan) -> int:
        """Firewall records: each is one rule of the network, with its own priority."""
        return len(plan.by_type(FIREWALL))

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        if type_token not in SDK_CLASSES:
            raise KeyError(f"the gcp provider does not emit {type_token} "
                           f"(it emits {', '.join(sorted(SDK_CLASSES))})")
        module, cls = SDK_CLASSES[type_token]
        with warnings.catch_warnings():  # loading pulumi_gcp.compute warns about classes we never use
            warnings.simplefilter("ignore", DeprecationWarning)
            found: Callable[..., Any] = getattr(importlib.import_module(f"pulumi_gcp.{module}"), cls)
            return found
