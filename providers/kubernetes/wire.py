"""NetworkPolicy vocabulary shared by compile, check, evaluate and manifests:
the type token, the labels cloudfence puts on its policies, the cluster DNS
peer, and how port sets are written as NetworkPolicy ports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from cloudfence.addresses import PUBLIC, AddressSet, parse_cidr
from cloudfence.endpoints import (
    CLUSTER_DNS,
    INSTANCE_METADATA,
    LOAD_BALANCER,
    METADATA_ADDRESSES,
    OBJECT_STORAGE,
    Resolved,
)
from cloudfence.intent import Intent, KubernetesSelector
from cloudfence.labels import label_key_problem, label_value_problem, namespace_problem
from cloudfence.names import MANAGED_BY, SEGMENT_LABEL, SPEC_LABEL
from cloudfence.ports import FULL, PORTED, PortSet, parse_port
from cloudfence.reachability import NEVER, OVERLAP, SUPERSET
from cloudfence.settings import Flag, ProviderSettings

__all__ = ["CLUSTER_DNS", "MANAGED_BY", "SEGMENT_LABEL", "SPEC_LABEL"]

POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"
POLICY_TYPES = ["Ingress", "Egress"]

# The control plane labels every namespace with its own name (immutable).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

DNS_NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns"}  # kept by CoreDNS on kubeadm, GKE, EKS and AKS
DNS_PORTS = parse_port("udp/53") | parse_port("tcp/53")

WIRE_PROTOCOL = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}


#: How an ipBlock reaches pods, per CNI: (for "nothing extra", for "nothing
#: missing"). Calico's ipBlock matches pod addresses; Cilium's never does;
#: unknown takes the widest reading for the one and the narrowest for the other.
CNI_ADDRESS_MATCH = {"calico": (OVERLAP, SUPERSET), "cilium": (NEVER, NEVER), "unknown": (OVERLAP, NEVER)}


def _cidr(text: str) -> str:
    if "/" not in text:
        raise ValueError(f"expected a CIDR with its prefix length (e.g. 10.244.0.0/16), got {text!r}")
    parse_cidr(text)
    return text


Cidr = Annotated[str, AfterValidator(_cidr)]

#: The word `objectStorageCidrs` takes for public space (as the spec's `internet`): an
#: object store reached at its public addresses (S3 through a VPC's gateway endpoint).
PUBLIC_WORD = "internet"


def _storage_cidr(text: str) -> str:
    if text == PUBLIC_WORD:
        return text
    if "/" in text:
        return _cidr(text)
    raise ValueError(f"expected a CIDR with its prefix length (e.g. 199.36.153.8/30) or "
                     f"{PUBLIC_WORD!r} (public space), got {text!r}")


StorageCidr = Annotated[str, AfterValidator(_storage_cidr)]


class IngressController(BaseModel):
    """Pods that receive a cloud load balancer's traffic and proxy it on (an ingress
    controller, a gateway's proxies): `@load-balancer` on this cluster."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              frozen=True)

    namespace: str = Field(description="the controller's namespace, e.g. ingress-nginx")
    labels: dict[str, str] = Field(description="labels every controller pod carries, e.g. "
                                   "{app.kubernetes.io/name: ingress-nginx}")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        problem = namespace_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        # No labels would make every pod of the namespace the load balancer.
        if not value:
            raise ValueError("give at least one label the controller's pods carry (no labels would "
                             "admit every pod of the namespace), e.g. {app.kubernetes.io/name: "
                             "ingress-nginx}")
        for key, text in value.items():
            problem = label_key_problem(key) or label_value_problem(text)
            if problem:
                raise ValueError(f"label {key}: {problem}")
        return value

    @property
    def selector(self) -> KubernetesSelector:
        return KubernetesSelector(self.namespace, tuple(sorted(self.labels.items())))

    @property
    def text(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return (f"the ingress controller pods {{{shown}}} in namespace {self.namespace} (not the "
                "namespace's other pods)")


class Options(ProviderSettings):
    """The kubernetes provider's settings (`cloudfence:providers: {kubernetes: ...}`).

    `clusterCidrs` is the cluster's internal space (pod and service CIDRs): it
    tells pods from private networks and keeps public pod ranges out of
    `internet`. `cni` settles how an ipBlock reads against pod addresses.
    """

    dns: Flag = Field(True, description="allow every pod segment to query the cluster DNS (kube-dns "
                                        "in kube-system, UDP and TCP 53)")
    default_deny_namespaces: Flag = Field(
        False, description="also emit one deny-all policy (both directions) per namespace that holds "
                           "a segment")
    cluster_cidrs: list[Cidr] = Field(
        default_factory=list, description="the pod and service CIDRs: where pods live, never `internet` "
        "nor a network; empty = unknown (pods may be anywhere in the private ranges)")
    egress: list[Cidr] = Field(default_factory=list, alias="egressIps",
                               description="the cluster's own NAT and egress addresses: never `internet`")
    node_cidrs: list[Cidr] = Field(
        default_factory=list, description="the nodes' addresses, which `@load-balancer` is: a cloud "
        "load balancer's traffic reaches pods from them after SNAT (externalTrafficPolicy: Cluster); "
        "with ingressControllers empty too, a flow from @load-balancer is refused")
    ingress_controllers: list[IngressController] = Field(
        default_factory=list, description="the ingress controller's pods, which `@load-balancer` "
        "also is (by namespaceSelector and podSelector): [{namespace: ingress-nginx, labels: "
        "{app.kubernetes.io/name: ingress-nginx}}]; other pods of that namespace are not")
    object_storage_cidrs: list[StorageCidr] = Field(
        default_factory=list, description="the addresses `@object-storage` stands for (the object "
        "store's ranges, a private endpoint or an egress proxy; `internet` for public space, less "
        "clusterCidrs and egressIps, where it is reached at public addresses): Kubernetes has no "
        "name for it; empty = a flow to @object-storage is refused")
    cni: Literal["calico", "cilium", "unknown"] = Field(
        "unknown", description="whether an ipBlock matches pod addresses (Calico's does, Cilium's does "
        "not); unknown: verify assumes each reading where it is worse")

    def to_json(self) -> dict[str, Any]:
        """As validated; no ingressControllers key when there are none, so a plan of a
        cluster without one records what it did before the setting existed."""
        out = super().to_json()
        if not self.ingress_controllers:
            out.pop("ingressControllers", None)
        return out

    def internal_space(self) -> AddressSet | None:
        """The pod and service CIDRs, when given: where pods and cluster IPs live."""
        return AddressSet.from_cidrs(self.cluster_cidrs) if self.cluster_cidrs else None

    def egress_ips(self) -> AddressSet:
        return AddressSet.from_cidrs(self.egress)

    def platform_endpoints(self) -> Mapping[str, Resolved]:
        """Endpoints written as ipBlocks of the addresses the settings give."""
        out = {INSTANCE_METADATA: Resolved(METADATA_ADDRESSES)}
        if self.node_cidrs or self.ingress_controllers:
            out[LOAD_BALANCER] = Resolved(AddressSet.from_cidrs(self.node_cidrs), members=tuple(
                c.text for c in self.ingress_controllers))
        if self.object_storage_cidrs:
            storage = AddressSet.from_cidrs([c for c in self.object_storage_cidrs if c != PUBLIC_WORD])
            if PUBLIC_WORD in self.object_storage_cidrs:
                storage = storage | (PUBLIC - (self.internal_space() or AddressSet()) - self.egress_ips())
            out[OBJECT_STORAGE] = Resolved(storage)
        return out

    @property
    def address_match(self) -> tuple[str, str]:
        return CNI_ADDRESS_MATCH[self.cni]


def selector(intent: Intent, segment: str) -> KubernetesSelector:
    """A governed segment's namespace and labels (every governed segment has them)."""
    k = intent.segment(segment).kubernetes
    if k is None:
        raise ValueError(f"segment {segment!r} has no kubernetes mapping: it is not governed here")
    return k


def label_selector(labels: Mapping[str, str]) -> dict[str, Any]:
    """`{}` (every pod) for no labels, else matchLabels with sorted keys."""
    return {"matchLabels": dict(sorted(labels.items()))} if labels else {}


def namespace_selector(namespace: str) -> dict[str, Any]:
    return {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}


def pod_peer(target: KubernetesSelector, policy_namespace: str) -> dict[str, Any]:
    """Pods of a segment as seen from a policy: podSelector alone in the same
    namespace; otherwise namespaceSelector AND podSelector in ONE peer."""
    if target.namespace == policy_namespace:
        return {"podSelector": label_selector(target.match_labels)}
    return {"namespaceSelector": namespace_selector(target.namespace),
            "podSelector": label_selector(target.match_labels)}


def dns_peer() -> dict[str, Any]:
    return {"namespaceSelector": namespace_selector(DNS_NAMESPACE),
            "podSelector": label_selector(DNS_LABELS)}


def zero_port_protocols(ports: PortSet) -> list[str]:
    """Protocols whose ports include 0 without being the full range: a
    NetworkPolicy port is 1-65535, so these have no faithful form."""
    if ports.is_any():
        return []
    return [proto for proto, ivs in ports.items()
            if proto in PORTED and ivs != FULL and ivs.first() == 0]


def port_entries(ports: PortSet) -> list[dict[str, Any]] | None:
    """NetworkPolicy `ports` for a port set; None means no `ports` key (every
    protocol and port). Only for sets check accepts: TCP/UDP/SCTP, no port 0."""
    if ports.is_any():
        return None
    out: list[dict[str, Any]] = []
    for proto, ivs in ports.items():
        wire = WIRE_PROTOCOL[proto]
        if ivs == FULL:
            out.append({"protocol": wire})
            continue
        for lo, hi in ivs:
            entry: dict[str, Any] = {"protocol": wire, "port": lo}
            if hi > lo:
                entry["endPort"] = hi
            out.append(entry)
    return out

