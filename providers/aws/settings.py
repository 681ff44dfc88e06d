"""AWS provider settings (`cloudfence:providers: {aws: ...}` in the stack config):
one typed model, validated once by the core with errors that name the key, so
compile never guesses.

The internal space (DESIGN section 3) is the VPC's CIDRs: the one cloudfence
creates (`vpcCidr`, or the /16 compile derives from the segments), or the
`vpcCidrs` of an existing VPC (`vpcId`). `egressIps` are the deployment's own
NAT and egress addresses. Both give `internet` its meaning on AWS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from cloudfence.addresses import PRIVATE, PUBLIC, AddressSet, IPNetwork
from cloudfence.endpoints import LOAD_BALANCER, OBJECT_STORAGE, Resolved
from cloudfence.settings import Flag, ProviderSettings, matching, whole

DEFAULT_RULES_PER_SECURITY_GROUP = 60  # per direction and IP family (amazon-vpc-limits)
DEFAULT_RULES_PER_NETWORK_ACL = 20  # per direction and IP family, default deny included
DEFAULT_GROUPS_PER_INTERFACE = 5  # security groups per network interface
MAX_GROUPS_PER_INTERFACE = 16  # the highest value AWS grants
MAX_RULES_PER_NETWORK_ACL = 40  # the highest value AWS grants
MAX_RULES_PER_SECURITY_GROUP = 1000  # rules per group x groups per interface <= 1,000
FALLBACK_VPC_CIDR = ipaddress.IPv4Network("10.0.0.0/16")

VPC_ID = r"vpc-[0-9a-f]{8,17}"
PREFIX_LIST_ID = r"pl-[0-9a-f]{8,17}"
#: What an AWS-managed S3 prefix list counts against the rule quota (VPC user guide,
#: "AWS-managed prefix list weights": com.amazonaws.<region>.s3 weighs 1).
DEFAULT_S3_PREFIX_LIST_WEIGHT = 1
REGION = r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}"
PUBLIC_V4 = PUBLIC & AddressSet.from_cidrs(["0.0.0.0/0"])
#: What `@object-storage` is in network mode (its `native` is the endpoint's service name).
S3_ENDPOINT_KIND = "prefix list of the S3 gateway endpoint"


def s3_service(region: str) -> str:
    """The S3 gateway endpoint's service name in a region."""
    return f"com.amazonaws.{region}.s3"
VPC_V4_PREFIX = (16, 28)  # AWS VPC IPv4 CIDR blocks
VPC_V6_PREFIX = (44, 60)  # AWS VPC IPv6 CIDR blocks (Amazon-provided /56; IPAM and BYOIP /44-/60)


def _cidr(text: str, example: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a CIDR: write {example}") from None
        raise ValueError(f"host bits are set in {text!r}: did you mean {loose}?") from None


def _vpc_size(net: IPNetwork) -> None:
    lo, hi = VPC_V4_PREFIX if net.version == 4 else VPC_V6_PREFIX
    if not lo <= net.prefixlen <= hi:
        raise ValueError(f"AWS VPC IPv{net.version} CIDRs are /{lo} to /{hi}, {net} is /{net.prefixlen}")


def _vpc_cidr(text: Any) -> ipaddress.IPv4Network | None:
    """An IPv4 network /16 to /28, written exactly (no host bits)."""
    if text is None or isinstance(text, ipaddress.IPv4Network):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected an IPv4 CIDR such as 10.20.0.0/16, got {text!r}")
    net = _cidr(text, "an IPv4 network such as 10.20.0.0/16")
    if not isinstance(net, ipaddress.IPv4Network):
        raise ValueError(f"{net} is IPv6: the VPC's primary CIDR is IPv4 (/16 to /28)")
    _vpc_size(net)
    return net


def _cidr_list(value: Any, example: str) -> list[IPNetwork]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of CIDRs such as {example}, got {value!r}")
    out = []
    for item in value:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            out.append(item)
            continue
        if not isinstance(item, str):
            raise ValueError(f"expected a CIDR such as 10.20.0.0/16, got {item!r}")
        if "/" not in item:
            if not _is_address(item):
                raise ValueError(f"{item!r} is not an address or a CIDR: write one such as 10.20.0.0/16")
            one = "/128" if ":" in item else "/32"
            raise ValueError(f"{item!r} has no prefix length: write {item.strip()}{one} for one address")
        out.append(_cidr(item, "a network such as 10.20.0.0/16"))
    return out


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def _disjoint(nets: list[IPNetwork]) -> tuple[IPNetwork, ...]:
    for i, a in enumerate(nets):
        for b in nets[:i]:
            if a.version == b.version and a.overlaps(b):
                raise ValueError(f"{a} overlaps {b}: list each range once")
    return tuple(sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen)))


def _vpc_cidrs(value: Any) -> tuple[IPNetwork, ...]:
    nets = _cidr_list(value, "[10.20.0.0/16, 2600:1f18:aa:bb00::/56]")
    for net in nets:
        _vpc_size(net)
    if nets and not any(n.version == 4 for n in nets):
        raise ValueError("a VPC always has an IPv4 CIDR: list it too (aws ec2 describe-vpcs shows "
                         "CidrBlockAssociationSet and Ipv6CidrBlockAssociationSet)")
    return _disjoint(nets)


def _egress(value: Any) -> tuple[IPNetwork, ...]:
    return _disjoint(_cidr_list(value, "[203.0.113.10/32]"))


Cidrs = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


class AwsSettings(ProviderSettings):
    vpc_id: Annotated[str | None, matching(VPC_ID, lambda v: (
        f"{v!r} is not a VPC id: write vpc- and 8 to 17 hex digits (e.g. vpc-0abc1234def567890), "
        "or omit it to let cloudfence create the VPC"))] = Field(
        None, description="existing VPC to attach the security groups to (vpc-...); omit to let "
                          "cloudfence create a VPC with one subnet per segment cidr")
    vpc_cidr: Annotated[ipaddress.IPv4Network | None, BeforeValidator(_vpc_cidr)] = Field(
        None, description="IPv4 CIDR (/16 to /28) of the VPC cloudfence creates; default: the /16 "
                          "that holds every segment's IPv4 cidr (10.0.0.0/16 when none has one)")
    vpc_cidrs: Annotated[Cidrs, BeforeValidator(_vpc_cidrs)] = Field(
        (), description="with vpcId: every IPv4 and IPv6 CIDR of that VPC, its internal space "
                        "(segments without a cidr live there; its public IPv6 prefix is not internet)")
    egress: Annotated[Cidrs, BeforeValidator(_egress)] = Field(
        (), alias="egressIps", description="the deployment's own NAT gateway and egress addresses "
                                           "(CIDRs): never internet")
    nacls: Flag = Field(
        False, description="also enforce the flows at subnet level with one network ACL per segment "
                           "subnet (needs the VPC cloudfence creates)")
    rules_per_security_group: Annotated[int, whole(1, MAX_RULES_PER_SECURITY_GROUP)] = Field(
        DEFAULT_RULES_PER_SECURITY_GROUP,
        description="your account's quota of security group rules per direction and IP family")
    rules_per_network_acl: Annotated[int, whole(2, MAX_RULES_PER_NETWORK_ACL)] = Field(
        DEFAULT_RULES_PER_NETWORK_ACL,
        description="your account's quota of network ACL rules per direction and IP family, "
                    f"default deny included (at most {MAX_RULES_PER_NETWORK_ACL})")
    security_groups_per_interface: Annotated[int, whole(1, MAX_GROUPS_PER_INTERFACE)] = Field(
        DEFAULT_GROUPS_PER_INTERFACE,
        description="security groups a segment's members may attach per network interface, for a "
                    f"segment whose rules one group cannot hold (at most {MAX_GROUPS_PER_INTERFACE})")
    prefix_lists: Flag = Field(
        True, description="write networks of many CIDRs (internet: 47 IPv4 CIDRs) as customer-managed "
                          "prefix lists shared by every group instead of one rule per CIDR")
    region: Annotated[str | None, matching(REGION, lambda v: (
        f"{v!r} is not an AWS region name: write one such as us-east-1 or eu-central-1, or omit it "
        "to use the stack's aws:region"))] = Field(
        None, description="AWS region for every resource (e.g. us-east-1); default: the aws:region "
                          "of the stack")

    security_groups_for_pods: Flag = Field(
        False, description="EKS security groups for pods: one SecurityGroupPolicy per pod segment (a "
                           "segment with a kubernetes block), so its pods attach the segment's groups "
                           "on branch network interfaces (needs the VPC CNI with ENABLE_POD_ENI=true)")

    object_storage_prefix_list: Annotated[str | None, matching(PREFIX_LIST_ID, lambda v: (
        f"{v!r} is not a prefix list id: write pl- and 8 to 17 hex digits, the id of "
        "com.amazonaws.<region>.s3 in your region"))] = Field(
        None, description="with vpcId: the id of the region's AWS-managed S3 prefix list, which "
                          "`@object-storage` is (aws ec2 describe-managed-prefix-lists --filters "
                          "Name=prefix-list-name,Values=com.amazonaws.<region>.s3); in the VPC "
                          "cloudfence creates, the rules name the prefix list of the S3 gateway "
                          "endpoint it creates in settings.region instead")
    object_storage_prefix_list_weight: Annotated[int, whole(1, MAX_RULES_PER_SECURITY_GROUP)] = Field(
        DEFAULT_S3_PREFIX_LIST_WEIGHT,
        description="rules one reference to that prefix list counts as against the group quota "
                    f"(AWS documents {DEFAULT_S3_PREFIX_LIST_WEIGHT} for S3)")

    @field_validator("vpc_cidr")
    @classmethod
    def _only_when_created(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("vpc_id") is not None:
            raise ValueError("only used for the VPC cloudfence creates: list an existing VPC's CIDRs "
                             "in settings.vpcCidrs, or remove settings.vpcId")
        return value

    @field_validator("vpc_cidrs")
    @classmethod
    def _only_when_existing(cls, value: Any, info: ValidationInfo) -> Any:
        if value and "vpc_id" in info.data and info.data.get("vpc_id") is None:
            raise ValueError("describes an existing VPC (settings.vpcId): set vpcId, or give the VPC "
                             "cloudfence creates its CIDR with settings.vpcCidr")
        return value

    @field_validator("object_storage_prefix_list")
    @classmethod
    def _only_for_existing_vpc(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and "vpc_id" in info.data and info.data.get("vpc_id") is None:
            raise ValueError("only used with settings.vpcId: in the VPC cloudfence creates, "
                             "`@object-storage` is the prefix list of the S3 gateway endpoint it "
                             "creates (named by settings.region); remove it, or set settings.vpcId")
        return value

    @field_validator("nacls")
    @classmethod
    def _needs_created_vpc(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("vpc_id") is not None:
            raise ValueError("network ACLs go on the subnets cloudfence creates, which it does not do "
                             "with settings.vpcId: remove vpcId (cloudfence creates the VPC) or set "
                             "nacls: false")
        return value

    @field_validator("security_groups_per_interface")
    @classmethod
    def _product(cls, value: int, info: ValidationInfo) -> int:
        rules = info.data.get("rules_per_security_group")
        if isinstance(rules, int) and rules * value > MAX_RULES_PER_SECURITY_GROUP:
            most = max(1, MAX_RULES_PER_SECURITY_GROUP // rules)
            raise ValueError(f"{rules} rules per group x {value} groups per interface is over the 1,000 "
                             f"AWS allows: set it to at most {most}, or lower settings.rulesPerSecurityGroup")
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
        the created VPC's /16: see `internal.resolved`)."""
        if self.network_mode:
            return AddressSet.from_cidrs([self.vpc_cidr]) if self.vpc_cidr else None
        return AddressSet.from_cidrs(self.vpc_cidrs) if self.vpc_cidrs else None

    def egress_ips(self) -> AddressSet:
        return AddressSet.from_cidrs(self.egress)

    def platform_endpoints(self) -> Mapping[str, Resolved]:
        """`@load-balancer` is the security group cloudfence creates for the user's load
        balancers, whose nodes hold addresses in the VPC; `@object-storage` the S3 prefix
        list given: IPv4 addresses AWS keeps, somewhere in public space."""
        out = {LOAD_BALANCER: Resolved(self.internal_space() or PRIVATE, "cloudfence creates "
                                       "(exports['@load-balancer'])", "security group")}
        if self.network_mode and self.region is not None:
            # The rules reference the prefix list of the S3 gateway endpoint compile creates.
            return {**out, OBJECT_STORAGE: Resolved(PUBLIC_V4, s3_service(self.region),
                                             S3_ENDPOINT_KIND, self.object_storage_prefix_list_weight)}
        if self.object_storage_prefix_list is None:
            return out
        return {**out, OBJECT_STORAGE: Resolved(PUBLIC_V4, self.object_storage_prefix_list,
                                         "AWS-managed S3 prefix list",
                                         self.object_storage_prefix_list_weight)}
