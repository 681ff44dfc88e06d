"""AWS provider settings: one strict model, validated once by the core
(`cloudfence.settings.validate_settings`), with errors that name the key, so
compile never guesses.

The internal space (DESIGN section 3) is the VPC's CIDRs: the one cloudfence
creates (`vpcCidr`, or the /16 compile derives from the segments), or the
`vpcCidrs` of an existing VPC (`vpcId`). `egressIps` are the deployment's own
NAT and egress addresses. Both give `internet` its meaning on AWS.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import Field, field_validator

from cloudfence.addresses import AddressSet, IPNetwork
from cloudfence.errors import Problem
from cloudfence.settings import ProviderSettings

DEFAULT_RULES_PER_SECURITY_GROUP = 60  # per direction and IP family (amazon-vpc-limits)
DEFAULT_RULES_PER_NETWORK_ACL = 20  # per direction and IP family, default deny included
DEFAULT_GROUPS_PER_INTERFACE = 5  # security groups per network interface
MAX_GROUPS_PER_INTERFACE = 16  # the highest value AWS grants
MAX_RULES_PER_NETWORK_ACL = 40  # the highest value AWS grants
MAX_RULES_PER_SECURITY_GROUP = 1000  # rules per group x groups per interface <= 1,000
FALLBACK_VPC_CIDR = ipaddress.IPv4Network("10.0.0.0/16")

VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
VPC_V4_PREFIX = (16, 28)  # AWS VPC IPv4 CIDR blocks
VPC_V6_PREFIX = (44, 60)  # AWS VPC IPv6 CIDR blocks (Amazon-provided /56; IPAM and BYOIP /44-/60)


class AwsSettings(ProviderSettings):
    vpc_id: str | None = Field(None, description=(
        "existing VPC to attach the security groups to (vpc-...); omit to let cloudfence create a VPC "
        "with one subnet per segment cidr"))
    vpc_cidr: ipaddress.IPv4Network | None = Field(None, description=(
        "IPv4 CIDR (/16 to /28) of the VPC cloudfence creates; default: the /16 that holds every "
        "segment's IPv4 cidr (10.0.0.0/16 when none has one)"))
    vpc_cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = Field((), description=(
        "with vpcId: every IPv4 and IPv6 CIDR of that VPC (its internal space: segments without a cidr "
        "live there, and its public IPv6 prefix is not internet)"))
    egress: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = Field(
        (), alias="egressIps", description=(
            "the deployment's own NAT gateway and egress addresses (CIDRs): never internet"))
    nacls: bool = Field(False, description=(
        "also enforce the flows at subnet level with one network ACL per segment subnet (needs the "
        "VPC cloudfence creates; default false)"))
    rules_per_security_group: int = Field(DEFAULT_RULES_PER_SECURITY_GROUP, description=(
        "your account's quota of security group rules per direction and IP family (default 60)"))
    rules_per_network_acl: int = Field(DEFAULT_RULES_PER_NETWORK_ACL, description=(
        "your account's quota of network ACL rules per direction and IP family, default deny "
        "included (default 20, at most 40)"))
    security_groups_per_interface: int = Field(DEFAULT_GROUPS_PER_INTERFACE, description=(
        "security groups a segment's members may attach per network interface, for a segment whose "
        "rules one group cannot hold (default 5, AWS allows up to 16)"))
    prefix_lists: bool = Field(True, description=(
        "write networks of many CIDRs (internet: 47 IPv4 CIDRs) as customer-managed prefix lists "
        "shared by every group instead of one rule per CIDR (default true)"))
    region: str | None = Field(None, description=(
        "AWS region for every resource (e.g. us-east-1); default: the aws:region of the stack"))

    @field_validator("vpc_id", mode="before")
    @classmethod
    def _vpc_id(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not VPC_ID.match(value)):
            raise ValueError(f"{value!r} is not a VPC id: write vpc- and 8 to 17 hex digits "
                             "(e.g. vpc-0abc1234def567890), or omit it to let cloudfence create the VPC")
        return value

    @field_validator("vpc_cidr", mode="before")
    @classmethod
    def _vpc_cidr(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"expected an IPv4 CIDR such as 10.20.0.0/16, got {value!r}")
        net = _cidr(value, "an IPv4 network such as 10.20.0.0/16")
        if net.version != 4:
            raise ValueError(f"{net} is IPv6: the VPC's primary CIDR is IPv4 (/16 to /28)")
        _vpc_size(net)
        return net

    @field_validator("vpc_cidrs", mode="before")
    @classmethod
    def _vpc_cidrs(cls, value: Any) -> Any:
        nets = _cidr_list(value, "vpcCidrs", "[10.20.0.0/16, 2600:1f18:aa:bb00::/56]")
        for net in nets:
            _vpc_size(net)
        if nets and not any(n.version == 4 for n in nets):
            raise ValueError("a VPC always has an IPv4 CIDR: list it too (aws ec2 describe-vpcs shows "
                             "CidrBlockAssociationSet and Ipv6CidrBlockAssociationSet)")
        return _disjoint(nets)

    @field_validator("egress", mode="before")
    @classmethod
    def _egress(cls, value: Any) -> Any:
        return _disjoint(_cidr_list(value, "egressIps", "[203.0.113.10/32]"))

    @field_validator("nacls", "prefix_lists", mode="before")
    @classmethod
    def _bool(cls, value: Any) -> Any:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    @field_validator("rules_per_security_group", mode="before")
    @classmethod
    def _rules_sg(cls, value: Any) -> Any:
        return _int(value, 1, MAX_RULES_PER_SECURITY_GROUP)

    @field_validator("rules_per_network_acl", mode="before")
    @classmethod
    def _rules_acl(cls, value: Any) -> Any:
        return _int(value, 2, MAX_RULES_PER_NETWORK_ACL)

    @field_validator("security_groups_per_interface", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        return _int(value, 1, MAX_GROUPS_PER_INTERFACE)

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not REGION.match(value)):
            raise ValueError(f"{value!r} is not an AWS region name: write one such as us-east-1 or "
                             "eu-central-1, or omit it to use the stack's aws:region")
        return value

    # ------------------------------------------------------------ meaning

    @property
    def network_mode(self) -> bool:
        """True when cloudfence creates the VPC (and a subnet per segment cidr)."""
        return self.vpc_id is None

    @property
    def usable_acl_rules(self) -> int:
        """Rules cloudfence may write per direction and family: the quota counts the `*` deny."""
        return self.rules_per_network_acl - 1

    @property
    def groups_per_interface(self) -> int:
        """Groups a member may attach: AWS caps rules per group x groups per interface at 1,000."""
        return max(1, min(self.security_groups_per_interface,
                          MAX_RULES_PER_SECURITY_GROUP // self.rules_per_security_group))

    @property
    def internal_setting(self) -> str:
        """The setting that gives the internal space in this mode."""
        return "vpcCidr" if self.network_mode else "vpcCidrs"

    def internal_space(self) -> AddressSet | None:
        """The VPC's CIDRs: the created VPC's (IPv4 only) or the listed ones; None
        while unknown (an existing VPC without vpcCidrs, or before compile derives
        the created VPC's /16: see `resolved`)."""
        if self.network_mode:
            return AddressSet.from_cidrs([self.vpc_cidr]) if self.vpc_cidr else None
        return AddressSet.from_cidrs(self.vpc_cidrs) if self.vpc_cidrs else None

    def egress_ips(self) -> AddressSet:
        return AddressSet.from_cidrs(self.egress)


def cross_problems(settings: AwsSettings) -> list[Problem]:
    """Settings that are each valid but do not go together."""
    out = []
    if settings.vpc_cidr is not None and not settings.network_mode:
        out.append(Problem("settings.vpcCidr", "only used for the VPC cloudfence creates: remove it "
                           "(list an existing VPC's CIDRs in settings.vpcCidrs), or remove settings.vpcId"))
    if settings.vpc_cidrs and settings.network_mode:
        out.append(Problem("settings.vpcCidrs", "describes an existing VPC (settings.vpcId): set vpcId, "
                           "or give the VPC cloudfence creates its CIDR with settings.vpcCidr"))
    product = settings.rules_per_security_group * settings.security_groups_per_interface
    explicit = "security_groups_per_interface" in settings.model_fields_set
    if explicit and product > MAX_RULES_PER_SECURITY_GROUP:
        out.append(Problem("settings.securityGroupsPerInterface", (
            f"{settings.rules_per_security_group} rules per group x {settings.security_groups_per_interface} "
            f"groups per interface is over the 1,000 AWS allows: set it to at most "
            f"{settings.groups_per_interface}, or lower settings.rulesPerSecurityGroup")))
    if settings.nacls and not settings.network_mode:
        out.append(Problem("settings.nacls", "network ACLs go on the subnets cloudfence creates, which "
                           "it does not do with settings.vpcId: remove vpcId (cloudfence creates the VPC) "
                           "or set nacls: false"))
    return out


def _cidr(text: str, example: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a CIDR: write {example}") from None
        raise ValueError(f"host bits are set in {text!r}: did you mean {loose}?") from None


def _cidr_list(value: Any, key: str, example: str) -> list[IPNetwork]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of CIDRs such as {example}, got {value!r}")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"expected a CIDR such as 10.20.0.0/16, got {item!r}")
        if "/" not in item:
            raise ValueError(f"{item!r} has no prefix length: write {item.strip()}/32 for one IPv4 "
                             f"address or {item.strip()}/128 for one IPv6 address")
        out.append(_cidr(item, "a network such as 10.20.0.0/16"))
    return out


def _vpc_size(net: IPNetwork) -> None:
    lo, hi = VPC_V4_PREFIX if net.version == 4 else VPC_V6_PREFIX
    if not lo <= net.prefixlen <= hi:
        raise ValueError(f"AWS VPC IPv{net.version} CIDRs are /{lo} to /{hi}, {net} is /{net.prefixlen}")


def _disjoint(nets: list[IPNetwork]) -> tuple[IPNetwork, ...]:
    for i, a in enumerate(nets):
        for b in nets[:i]:
            if a.version == b.version and a.overlaps(b):
                raise ValueError(f"{a} overlaps {b}: list each range once")
    return tuple(sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen)))


def _int(value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number from {lo} to {hi}, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{value} is outside {lo}-{hi}")
    return value


#: Setting name -> what it does, as `cloudfence providers` lists it.
SETTINGS: dict[str, str] = {f.alias or name: f.description or ""
                            for name, f in AwsSettings.model_fields.items()}
