"""GCP provider settings (`cloudfence:providers: {gcp: ...}` in the stack config):
one strict model, validated once, every error naming its key."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from cloudfence.addresses import AddressSet
from cloudfence.endpoints import LOAD_BALANCER, OBJECT_STORAGE, Resolved
from cloudfence.nodepools import DESCRIPTION, NodePools
from cloudfence.settings import ProviderSettings, whole

DEFAULT_RULES_PER_PROJECT = 500
DEFAULT_RANGES_PER_RULE = 256  # older documented limit; current documentation says 5,000
MAX_RANGES_PER_RULE = 5000
DEFAULT_PRIORITY = 1000
MAX_PRIORITY = 65532  # the deny-all rules sit at priority + 1, above the 65534 pre-populated rules
#: Private Google Access: private.googleapis.com and restricted.googleapis.com (VPC-SC).
GOOGLE_API_RANGES = {
    "private": ("199.36.153.8/30", "2600:2d00:2:2000::/64"),
    "restricted": ("199.36.153.4/30", "2600:2d00:2:1000::/64"),
}
#: Health checks and Google Front End proxies (cloud.google.com/load-balancing/docs/firewall-rules).
LOAD_BALANCER_RANGES = ("35.191.0.0/16", "130.211.0.0/22", "2600:2d00:1:b029::/64", "2600:2d00:1:1::/64")
#: Per-rule limits GCP documents; cloudfence names one source identity per rule, so they never bind.
SOURCE_TAGS_PER_RULE = 30
SOURCE_SERVICE_ACCOUNTS_PER_RULE = 10
TAG: Literal["networkTag"] = "networkTag"
SERVICE_ACCOUNT: Literal["serviceAccount"] = "serviceAccount"
#: What a GKE pod carries of its segment: its node VM's (pod addresses are alias ranges of its interface).
NODE_IDENTITY = "network tag or service account"

PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]{1,2}$")
RESOURCE_NAME = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
NETWORK = re.compile(rf"^(?:(?:https://www\.googleapis\.com/compute/v1/)?projects/[a-z0-9.:-]+/global/"
                     rf"networks/)?{RESOURCE_NAME}$")
EMAIL = re.compile(r"^[a-z0-9][-a-z0-9._]{0,62}@[a-z0-9][-a-z0-9.]*\.[a-z]{2,}$")


def _text(pattern: re.Pattern[str], what: str, example: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if value is None:
            return value
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}: write one such as {example}")
        return value

    return BeforeValidator(check)


def _cidrs(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of CIDRs such as [10.20.0.0/16], got {value!r}")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"expected a CIDR such as 10.20.0.0/16, got {item!r}")
        if "/" not in item:
            try:
                ipaddress.ip_address(item.strip())
            except ValueError:
                raise ValueError(f"{item!r} is not an address or a CIDR: write one such as 10.20.0.0/16"
                                 ) from None
            host = "32" if ":" not in item else "128"
            raise ValueError(f"{item!r} has no prefix length: write {item.strip()}/{host} for one address")
        try:
            out.append(str(ipaddress.ip_network(item.strip(), strict=True)))
        except ValueError:
            try:
                loose = ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a CIDR: write an address and prefix length such as "
                                 "10.20.0.0/16") from None
            raise ValueError(f"host bits are set in {item!r}: did you mean {loose}?") from None
    return out


def _accounts(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of segment name to service account email, e.g. "
                         "{gateway: gateway@my-project.iam.gserviceaccount.com}")
    for seg, email in value.items():
        if not isinstance(email, str) or not EMAIL.match(email):
            raise ValueError(f"{seg}: {email!r} is not a service account email: write one such as "
                             f"{seg}@my-project.iam.gserviceaccount.com")
    return dict(value)


Cidrs = Annotated[list[str], BeforeValidator(_cidrs)]


class GcpSettings(ProviderSettings):
    project: Annotated[str | None, _text(PROJECT, "a GCP project id", "my-project-123")] = Field(
        None, description="project of every resource; default: the gcp:project of the stack")
    network: Annotated[str | None, _text(NETWORK, "a VPC network name or self link",
                                         "prod-vpc or projects/my-project/global/networks/prod-vpc")] = Field(
        None, description="existing VPC network the firewall rules go on (name or self link); omit to "
                          "let cloudfence create a network with one subnetwork per segment cidr")
    region: Annotated[str | None, _text(REGION, "a GCP region", "us-central1 or europe-west4")] = Field(
        None, validate_default=True,
        description="region of the subnetworks cloudfence creates (needed without settings.network)")
    subnetwork_cidrs: Cidrs = Field(
        default_factory=list, validate_default=True,
        description="with settings.network: the ranges of its subnetworks (primary and secondary), "
                    "the internal space where segments without a cidr live; omit if unknown (then "
                    "they may be anywhere in the private ranges)")
    identity: Literal["networkTag", "serviceAccount"] = Field(
        TAG, description="what workloads carry to join a segment: a network tag cloudfence derives "
                         "from spec and segment names, or the service account given per segment")
    service_accounts: Annotated[dict[str, str], BeforeValidator(_accounts)] = Field(
        default_factory=dict, validate_default=True,
        description="with identity serviceAccount: segment name -> the email of the service account "
                    "its workloads run as, one distinct account per segment")
    egress_cidrs: Cidrs = Field(
        default_factory=list, alias="egressIps",
        description="the deployment's own NAT and egress addresses (Cloud NAT, proxies): never "
                    "`internet`")
    google_api_access: Literal["private", "restricted"] = Field(
        "private", description="which Private Google Access ranges `@object-storage` is: private "
                               "(private.googleapis.com, 199.36.153.8/30) or restricted "
                               "(restricted.googleapis.com, 199.36.153.4/30, for VPC Service Controls)")
    proxy_only_cidrs: Cidrs = Field(
        default_factory=list,
        description="the proxy-only subnetworks of Envoy-based load balancers (regional and internal "
                    "Application Load Balancers): their proxies are part of `@load-balancer`")
    node_pools: NodePools = Field(None, description=DESCRIPTION)
    priority: Annotated[int, whole(0, MAX_PRIORITY)] = Field(
        DEFAULT_PRIORITY, description="priority of cloudfence's allow rules; its deny-all rules sit "
                                      "at priority + 1, so only rules of a higher priority (a lower "
                                      "number) elsewhere in the network can open a segment")
    rules_per_project: Annotated[int, whole(1, 100_000)] = Field(
        DEFAULT_RULES_PER_PROJECT,
        description="VPC firewall rules this deployment may create: set it to your project's quota "
                    "less the rules already there (the quota counts every network of the project)")
    ranges_per_rule: Annotated[int, whole(1, MAX_RANGES_PER_RULE)] = Field(
        DEFAULT_RANGES_PER_RULE,
        description=f"source or destination ranges per firewall rule (GCP documents {MAX_RANGES_PER_RULE}, "
                    f"older projects {DEFAULT_RANGES_PER_RULE}); longer lists are split over rules")

    @field_validator("region")
    @classmethod
    def _region_for_created_network(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("network") is None and "network" in info.data:
            raise ValueError("needed for the subnetworks cloudfence creates: set it (e.g. us-central1), "
                             "or set settings.network to use an existing network")
        return value

    @field_validator("subnetwork_cidrs")
    @classmethod
    def _only_with_network(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and "network" in info.data and info.data.get("network") is None:
            raise ValueError("only used with settings.network (the network cloudfence creates has "
                             "exactly the segments' subnetworks): remove it, or set settings.network")
        return value

    @field_validator("service_accounts")
    @classmethod
    def _accounts_need_identity(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if value and info.data.get("identity", TAG) != SERVICE_ACCOUNT:
            raise ValueError("only used with identity: serviceAccount: set it, or remove "
                             "settings.serviceAccounts")
        owner: dict[str, str] = {}
        for seg, email in sorted(value.items()):
            if email in owner:
                raise ValueError(f"{owner[email]} and {seg} share {email}: each segment needs its own "
                                 "service account (rules name segments by it)")
            owner[email] = seg
        return value

    @property
    def network_mode(self) -> bool:
        """True when cloudfence creates the network (and a subnetwork per segment cidr)."""
        return self.network is None

    @property
    def uses_service_accounts(self) -> bool:
        return self.identity == SERVICE_ACCOUNT

    def internal_space(self) -> AddressSet | None:
        return AddressSet.from_cidrs(self.subnetwork_cidrs) if self.subnetwork_cidrs else None

    def egress_ips(self) -> AddressSet:
        return AddressSet.from_cidrs(self.egress_cidrs)

    def platform_endpoints(self) -> Mapping[str, Resolved]:
        """Endpoints GCP documents as ranges, written as source or destination ranges."""
        return {
            OBJECT_STORAGE: Resolved(AddressSet.from_cidrs(GOOGLE_API_RANGES[self.google_api_access])),
            LOAD_BALANCER: Resolved(AddressSet.from_cidrs([*LOAD_BALANCER_RANGES, *self.proxy_only_cidrs])),
        }
