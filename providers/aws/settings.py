"""AWS provider settings (`cloudfence:providers: {aws: ...}` in the stack config):
one typed model, validated once by the core with errors that name the key, so
compile never guesses."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from cloudfence.settings import Flag, ProviderSettings, matching, whole

DEFAULT_RULES_PER_SECURITY_GROUP = 60  # per direction and IP family (amazon-vpc-limits)
DEFAULT_RULES_PER_NETWORK_ACL = 20  # per direction and IP family, default deny included
MAX_RULES_PER_NETWORK_ACL = 40  # the highest value AWS grants
MAX_RULES_PER_SECURITY_GROUP = 1000  # rules per group x groups per interface <= 1,000
FALLBACK_VPC_CIDR = ipaddress.IPv4Network("10.0.0.0/16")

VPC_ID = r"vpc-[0-9a-f]{8,17}"
REGION = r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}"


def _vpc_cidr(text: Any) -> ipaddress.IPv4Network | None:
    """An IPv4 network /16 to /28, written exactly (no host bits)."""
    if text is None or isinstance(text, ipaddress.IPv4Network):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected an IPv4 CIDR such as 10.20.0.0/16, got {text!r}")
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a CIDR: write an IPv4 network such as 10.20.0.0/16") from None
        raise ValueError(f"host bits are set in {text!r}: did you mean {loose}?") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ValueError(f"{net} is IPv6: the VPC's primary CIDR is IPv4 (/16 to /28)")
    if not 16 <= net.prefixlen <= 28:
        raise ValueError(f"AWS VPCs are /16 to /28, {net} is /{net.prefixlen}")
    return net


class AwsSettings(ProviderSettings):
    vpc_id: Annotated[str | None, matching(VPC_ID, lambda v: (
        f"{v!r} is not a VPC id: write vpc- and 8 to 17 hex digits (e.g. vpc-0abc1234def567890), "
        "or omit it to let cloudfence create the VPC"))] = Field(
        None, description="existing VPC to attach the security groups to (vpc-...); omit to let "
                          "cloudfence create a VPC with one subnet per segment cidr")
    vpc_cidr: Annotated[ipaddress.IPv4Network | None, BeforeValidator(_vpc_cidr)] = Field(
        None, description="IPv4 CIDR (/16 to /28) of the VPC cloudfence creates; default: the /16 "
                          "that holds every segment's IPv4 cidr (10.0.0.0/16 when none has one)")
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
    region: Annotated[str | None, matching(REGION, lambda v: (
        f"{v!r} is not an AWS region name: write one such as us-east-1 or eu-central-1, or omit it "
        "to use the stack's aws:region"))] = Field(
        None, description="AWS region for every resource (e.g. us-east-1); default: the aws:region "
                          "of the stack")

    @field_validator("vpc_cidr")
    @classmethod
    def _only_when_created(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("vpc_id") is not None:
            raise ValueError("only used for the VPC cloudfence creates: remove it, or remove settings.vpcId")
        return value

    @field_validator("nacls")
    @classmethod
    def _needs_created_vpc(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("vpc_id") is not None:
            raise ValueError("network ACLs go on the subnets cloudfence creates, which it does not do "
                             "with settings.vpcId: remove vpcId (cloudfence creates the VPC) or set "
                             "nacls: false")
        return value

    @property
    def network_mode(self) -> bool:
        """True when cloudfence creates the VPC (and a subnet per segment cidr)."""
        return self.vpc_id is None

    @property
    def usable_acl_rules(self) -> int:
        """Rules cloudfence may write per direction and family: the quota counts the `*` deny."""
        return self.rules_per_network_acl - 1
