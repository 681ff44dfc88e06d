"""NetworkPolicy vocabulary shared by compile, check, evaluate and manifests:
the type token, the labels cloudfence puts on its policies, the cluster DNS
peer, and how port sets are written as NetworkPolicy ports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from cloudfence.intent import KubernetesSelector
from cloudfence.ports import FULL, PORTED, PortSet, parse_port
from cloudfence.settings import Flag, ProviderSettings

POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"
POLICY_TYPES = ["Ingress", "Egress"]

# The control plane labels every namespace with its own name (immutable).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
MANAGED_BY = {"app.kubernetes.io/managed-by": "cloudfence"}
SPEC_LABEL = "cloudfence.io/spec"
SEGMENT_LABEL = "cloudfence.io/segment"

CLUSTER_DNS = "@cluster-dns"
DNS_NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns"}  # kept by CoreDNS on kubeadm, GKE, EKS and AKS
DNS_PORTS = parse_port("udp/53") | parse_port("tcp/53")

WIRE_PROTOCOL = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}


class Options(ProviderSettings):
    """The kubernetes provider's settings (`cloudfence:providers: {kubernetes: ...}`)."""

    dns: Flag = Field(True, description="allow every pod segment to query the cluster DNS (kube-dns "
                                        "in kube-system, UDP and TCP 53)")
    default_deny_namespaces: Flag = Field(
        False, description="also emit one deny-all policy (both directions) per namespace that holds "
                           "a segment")


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

