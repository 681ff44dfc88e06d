"""The Kubernetes provider: one NetworkPolicy per pod segment.

Thin on purpose: checks live in checks.py, the mapping in compile.py, the
API semantics in evaluate.py. No Pulumi import here except in `sdk_class`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from cloudfence.endpoints import INSTANCE_METADATA, LOAD_BALANCER, OBJECT_STORAGE
from cloudfence.errors import CheckError, Problem
from cloudfence.intent import Flow, Intent
from cloudfence.plan import DeployedRecords, Plan, Resource
from cloudfence.provider import BaseProvider, Capabilities
from cloudfence.providers.kubernetes.checks import check_intent
from cloudfence.providers.kubernetes.compile import compile_plan, dns_flows
from cloudfence.providers.kubernetes.deployed import is_kubectl, kubectl_records, state_records
from cloudfence.providers.kubernetes.evaluate import evaluate_plan
from cloudfence.providers.kubernetes.manifests import manifests
from cloudfence.providers.kubernetes.wire import CLUSTER_DNS, POLICY_TYPE, Options
from cloudfence.pulumistate import StateResource
from cloudfence.reachability import Reachability
from cloudfence.settings import ProviderSettings, narrow, validate_settings
from cloudfence.space import space_for


class KubernetesProvider(BaseProvider):
    name = "kubernetes"
    description = "Kubernetes NetworkPolicies (networking.k8s.io/v1): pod segments by namespace and labels"
    capabilities = Capabilities(
        protocols=frozenset({"tcp", "udp", "sctp"}),
        icmp_types=False,
        ipv6=True,
        segments_need_addresses=False,
        governs="segments with a kubernetes mapping",
        platform_endpoints={
            CLUSTER_DNS: "the kube-dns pods of kube-system (namespace and pod selector)",
            LOAD_BALANCER: "ipBlocks of settings.nodeCidrs (load balancer traffic after SNAT) and/or the "
                           "pods of settings.ingressControllers (namespaceSelector and podSelector), "
                           "as a source",
            OBJECT_STORAGE: "ipBlocks of settings.objectStorageCidrs",
            INSTANCE_METADATA: "ipBlocks 169.254.169.254/32 and fd00:ec2::254/128 (the node's metadata "
                               "service, as a destination)",
        },
        manifests=True,
    )
    settings_model = Options
    # An object's name and namespace are its identity in the API server: changing
    # either deletes the policy and creates another (a moment with neither).
    replace_on: ClassVar[Mapping[str, frozenset[str]]] = {
        POLICY_TYPE: frozenset({"metadata.name", "metadata.namespace", "apiVersion", "kind"})}

    def governs(self, intent: Intent) -> frozenset[str]:
        return frozenset(n for n, s in intent.segments.items() if s.kubernetes is not None)

    internal_setting = "clusterCidrs"
    endpoint_settings: ClassVar[Mapping[str, str]] = {
        LOAD_BALANCER: "settings.nodeCidrs (the nodes' addresses, from which a cloud load balancer's "
                       "traffic reaches pods) or settings.ingressControllers (the ingress controller's "
                       "pods, e.g. [{namespace: ingress-nginx, labels: {app.kubernetes.io/name: "
                       "ingress-nginx}}]), or both",
        OBJECT_STORAGE: "settings.objectStorageCidrs (the object store's ranges, a private endpoint "
                        "or an egress proxy, e.g. [199.36.153.8/30])"}

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        options = narrow(Options, settings)
        return super().check(intent, settings) + check_intent(intent, self.governs(intent), options)

    def check_meaning(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        """Dead flows as every target; no address bridge check: ipBlocks leave out
        clusterCidrs, and a network that may hold pods while it is unknown is
        refused on its own (checks.py), both ends or one."""
        space = space_for(intent, settings)
        governed = self.governs(intent)
        flows = [f for f in intent.flows
                 if any(ep.is_segment and ep.name in governed for ep in (f.src, f.dst))]
        return [intent.problem(f, why) for f, why in space.dead_flows(flows)]

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        return compile_plan(intent, self.governs(intent), narrow(Options, settings), self.name)

    def implied_flows(self, intent: Intent, settings: ProviderSettings) -> tuple[Flow, ...]:
        return dns_flows(intent, self.governs(intent), narrow(Options, settings))

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        """The settings the plan was compiled with (its cluster ranges, the CNI)
        say how its records read."""
        options, problems = validate_settings(Options, plan.settings, self.name)
        if options is None:
            raise CheckError(problems)
        return evaluate_plan(plan, intent, self.governs(intent), self.name, options)

    def count_rules(self, plan: Plan) -> int:
        """The ingress and egress rules of the NetworkPolicies (a deny-all policy has none)."""
        return plan.entries(POLICY_TYPE, "spec", "ingress") + plan.entries(POLICY_TYPE, "spec", "egress")

    deployed_types: ClassVar[frozenset[str]] = frozenset({POLICY_TYPE})

    def deployed_records(self, doc: Any, intent: Intent, file: str) -> DeployedRecords | None:
        """`kubectl get networkpolicies -A -o json|yaml`: every policy of the cluster."""
        return kubectl_records(doc, intent, file) if is_kubectl(doc) else None

    def state_records(self, state: Sequence[StateResource], intent: Intent) -> DeployedRecords:
        """The stack's policies as the API server returned them at the last refresh."""
        return state_records(state, intent)

    def manifests(self, plan: Plan) -> dict[str, str]:
        """YAML per NetworkPolicy for `cloudfence export` (kubectl apply -f DIR)."""
        return manifests(plan)

    def summarize(self, resource: Resource) -> str | None:
        """One line for the `plan` table: which pods, which directions, how many rules."""
        if resource.type != POLICY_TYPE:
            return None
        spec = resource.inputs.get("spec", {})
        ns = resource.inputs.get("metadata", {}).get("namespace", "default")
        labels = (spec.get("podSelector") or {}).get("matchLabels") or {}
        pods = ",".join(f"{k}={v}" for k, v in labels.items()) or "every pod"
        types = "+".join(t.lower() for t in spec.get("policyTypes", []))
        counts = ", ".join(f"{len(spec[k])} {k} rule{'' if len(spec[k]) == 1 else 's'}"
                           for k in ("ingress", "egress") if k in spec)
        return f"{ns}: {pods}; isolates {types}; " + (counts or "denies all")

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        if type_token != POLICY_TYPE:
            raise KeyError(f"the kubernetes provider emits only {POLICY_TYPE}, not {type_token}")
        from pulumi_kubernetes.networking.v1 import NetworkPolicy

        return NetworkPolicy
