"""Azure provider settings: one strict model, keys as users write them in stack files.

What the settings cannot know alone (a segment named under loadBalancerProbes
exists, a segment's cidr lies inside the address space) and what depends on
two keys (addressSpace with virtualNetworkName) is the provider's check, which
places each problem at its key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from cloudfence.addresses import PUBLIC, AddressSet, IPNetwork
from cloudfence.endpoints import OBJECT_STORAGE, Resolved
from cloudfence.nodepools import DESCRIPTION, NodePools
from cloudfence.ports import PortError, PortSet, parse_port
from cloudfence.providers.azure.wire import STORAGE, STORAGE_TAG
from cloudfence.settings import ProviderSettings

DEFAULT_RULES_PER_NSG = 1000  # security rules per NSG, both directions (azure-virtual-network-limits)
DEFAULT_PREFIXES_PER_NSG = 4000  # source or destination IPs/ranges per NSG, counted apart
MAX_ASGS_PER_NSG = 100  # ASGs referenced across all rules of one NSG

_RESOURCE_GROUP = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")
_LOCATION = re.compile(r"^[a-z][a-z0-9]{1,39}$")
_VNET_NAME = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}[A-Za-z0-9_]$")


def _storage_tag(text: str) -> str:
    if not STORAGE.match(text):
        raise ValueError(f"{text!r} is not a Storage service tag: write Storage or Storage.<Region> "
                         "(e.g. Storage.WestEurope)")
    return text


def _cidr(text: object, key: str) -> IPNetwork:
    if not isinstance(text, str):
        raise ValueError(f"{key}: expected a CIDR such as 10.20.0.0/16, got {text!r}")
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a CIDR: write a network such as 10.20.0.0/16") from None
        raise ValueError(f"host bits are set in {text!r}: did you mean {loose}?") from None


#: What an AKS pod carries of its segment: its node's (the node NIC's ASG, its subnet's NSG).
NODE_IDENTITY = "application security group"


class AzureSettings(ProviderSettings):
    """Where the NSGs and ASGs go, the virtual network they filter, and Azure's limits."""

    resource_group_name: str = Field(
        description="resource group of every NSG, ASG and (in network mode) the virtual network "
                    "and subnets, e.g. rg-inference")
    location: str = Field(description="Azure region name of every resource, e.g. westeurope or eastus2")
    virtual_network_name: str | None = Field(
        default=None,
        description="existing virtual network the workloads are in: cloudfence then creates no network "
                    "or subnets, and each segment's NSG is associated by you (give addressSpace too); "
                    "omit it to let cloudfence create a virtual network with one subnet per segment cidr")
    address_space: list[str] | None = Field(
        default=None,
        description="the virtual network's address space (CIDRs): of the existing network (required "
                    "with virtualNetworkName), or of the one cloudfence creates (default: the "
                    "segments' cidrs); the internal space that is never internet")
    egress_cidrs: list[str] = Field(
        default_factory=list, alias="egressIps",  # the method egress_ips() gives them as addresses
        description="the deployment's own NAT gateway and public egress addresses (CIDRs): never internet")
    rules_per_nsg: Annotated[int, Field(ge=3, le=DEFAULT_RULES_PER_NSG)] = Field(
        default=DEFAULT_RULES_PER_NSG,
        description="security rules per NSG, both directions and the two deny-all rules included "
                    "(Azure's limit: 1000)")
    prefixes_per_nsg: Annotated[int, Field(ge=1, le=DEFAULT_PREFIXES_PER_NSG)] = Field(
        default=DEFAULT_PREFIXES_PER_NSG,
        description="address prefixes per NSG, sources and destinations counted apart (Azure's limit: 4000)")
    object_storage_tag: Annotated[str, AfterValidator(_storage_tag)] = Field(
        default=STORAGE_TAG,
        description="the service tag `@object-storage` is: Storage (every region) or a regional "
                    "Storage.<Region> such as Storage.WestEurope")
    load_balancer_probes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per segment, the tcp ports Azure Load Balancer health probes reach "
                    "(e.g. {inference: [tcp/8000]}): an implied flow from @load-balancer, "
                    "shown by plan and verify; without it the deny-all rules shut probes out")
    node_pools: NodePools = Field(None, description=DESCRIPTION)

    @field_validator("resource_group_name")
    @classmethod
    def _resource_group(cls, value: str) -> str:
        if not _RESOURCE_GROUP.match(value):
            raise ValueError(f"{value!r} is not a resource group name: 1-90 letters, digits, '-', '_', "
                             "'.', '(' or ')', not ending in '.'")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if not _LOCATION.match(value):
            hint = re.sub(r"[^a-z0-9]", "", value.lower())
            raise ValueError(f"{value!r} is not an Azure location name: write it as ARM does, "
                             f"lowercase without spaces (e.g. {hint or 'westeurope'})")
        return value

    @field_validator("virtual_network_name")
    @classmethod
    def _vnet(cls, value: str | None) -> str | None:
        if value is not None and not _VNET_NAME.match(value):
            raise ValueError(f"{value!r} is not a virtual network name: 2-64 letters, digits, '-', '_' "
                             "or '.', starting with a letter or digit")
        return value

    @field_validator("address_space", "egress_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for text in value:
            _cidr(text, "")
        return value

    @field_validator("load_balancer_probes")
    @classmethod
    def _probes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for segment, literals in value.items():
            if not literals:
                raise ValueError(f"{segment}: empty port list: give the probe ports, e.g. [tcp/8080]")
            for text in literals:
                try:
                    ports = parse_port(text)
                except PortError as exc:
                    raise ValueError(f"{segment}: {exc}") from None
                if list(ports) != ["tcp"]:
                    raise ValueError(f"{segment}: {text!r}: health probes are TCP, HTTP or HTTPS, "
                                     "so write tcp ports (e.g. tcp/8080)")
        return value

    @property
    def network_mode(self) -> bool:
        """True when cloudfence creates the virtual network and a subnet per segment cidr."""
        return self.virtual_network_name is None

    def address_prefixes(self) -> list[IPNetwork] | None:
        if self.address_space is None:
            return None
        return [_cidr(t, "addressSpace") for t in self.address_space]

    def internal_space(self) -> AddressSet | None:
        prefixes = self.address_prefixes()
        return None if prefixes is None else AddressSet.from_cidrs(prefixes)

    def egress_ips(self) -> AddressSet:
        return AddressSet.from_cidrs([_cidr(t, "egressIps") for t in self.egress_cidrs])

    def platform_endpoints(self) -> Mapping[str, Resolved]:
        """Endpoints named by service tags, whose addresses Azure keeps (public space)."""
        return {OBJECT_STORAGE: Resolved(PUBLIC, self.object_storage_tag, "service tag")}

    def probe_ports(self) -> dict[str, PortSet]:
        out: dict[str, PortSet] = {}
        for segment, literals in sorted(self.load_balancer_probes.items()):
            ports = PortSet()
            for text in literals:
                ports = ports | parse_port(text)
            out[segment] = ports
        return out
