"""Kubernetes provider settings: one strict model, validated once by the core
(`cloudfence.settings.validate_settings`) into one-line problems.

`clusterCidrs` is the cluster's internal space (pod and service CIDRs): it
tells pods from private networks and keeps public pod ranges out of
`internet`. `cni` settles how an ipBlock reads against pod addresses.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from cloudfence.addresses import AddressSet, parse_cidr
from cloudfence.reachability import NEVER, OVERLAP, SUPERSET
from cloudfence.settings import ProviderSettings

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


class KubernetesSettings(ProviderSettings):
    dns: bool = Field(True, description="allow every pod segment to query the cluster DNS (kube-dns in "
                      "kube-system, UDP and TCP 53)")
    default_deny_namespaces: bool = Field(False, description="also emit one deny-all policy (both "
                                          "directions) per namespace that holds a segment")
    cluster_cidrs: list[Cidr] = Field(default_factory=list, description="the pod and service CIDRs: where "
                                      "pods live, never `internet` nor a network; empty = unknown (pods may "
                                      "be anywhere in the private ranges)")
    egress: list[Cidr] = Field(default_factory=list, alias="egressIps", description="the cluster's own "
                               "NAT and egress addresses: never `internet`")
    cni: Literal["calico", "cilium", "unknown"] = Field(
        "unknown", description="whether an ipBlock matches pod addresses (Calico's does, Cilium's does "
        "not); unknown: verify assumes each reading where it is worse")

    def internal_space(self) -> AddressSet | None:
        """The pod and service CIDRs, when given: where pods and cluster IPs live."""
        return AddressSet.from_cidrs(self.cluster_cidrs) if self.cluster_cidrs else None

    def egress_ips(self) -> AddressSet:
        return AddressSet.from_cidrs(self.egress)

    @property
    def address_match(self) -> tuple[str, str]:
        return CNI_ADDRESS_MATCH[self.cni]


#: Key -> what it does, for `cloudfence providers` and the unknown-key check.
SETTINGS = {(f.alias or name): f.description or "" for name, f in KubernetesSettings.model_fields.items()}
