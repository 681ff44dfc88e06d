"""AWS provider settings (`cloudfence:settings` in the stack config), read once
and checked with errors that name the key, so compile never guesses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudfence.errors import Problem

DEFAULT_RULES_PER_SECURITY_GROUP = 60  # per direction and IP family (amazon-vpc-limits)
DEFAULT_RULES_PER_NETWORK_ACL = 20  # per direction and IP family, default deny included
MAX_RULES_PER_NETWORK_ACL = 40  # the highest value AWS grants
MAX_RULES_PER_SECURITY_GROUP = 1000  # rules per group x groups per interface <= 1,000
FALLBACK_VPC_CIDR = ipaddress.IPv4Network("10.0.0.0/16")

SETTINGS: dict[str, str] = {
    "vpcId": "existing VPC to attach the security groups to (vpc-...); omit to let cloudfence "
             "create a VPC with one subnet per segment cidr",
    "vpcCidr": "IPv4 CIDR (/16 to /28) of the VPC cloudfence creates; default: the /16 that "
               "holds every segment's IPv4 cidr (10.0.0.0/16 when none has one)",
    "nacls": "also enforce the flows at subnet level with one network ACL per segment subnet "
             "(needs the VPC cloudfence creates; default false)",
    "rulesPerSecurityGroup": "your account's quota of security group rules per direction and IP "
                             "family (default 60)",
    "rulesPerNetworkAcl": "your account's quota of network ACL rules per direction and IP family, "
                          "default deny included (default 20, at most 40)",
    "region": "AWS region for every resource (e.g. us-east-1); default: the aws:region of the stack",
}

VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")


@dataclass(frozen=True)
class AwsSettings:
    vpc_id: str | None = None
    vpc_cidr: ipaddress.IPv4Network | None = None  # as given; None = derive from segments
    nacls: bool = False
    rules_per_security_group: int = DEFAULT_RULES_PER_SECURITY_GROUP
    rules_per_network_acl: int = DEFAULT_RULES_PER_NETWORK_ACL
    region: str | None = None

    @property
    def network_mode(self) -> bool:
        """True when cloudfence creates the VPC (and a subnet per segment cidr)."""
        return self.vpc_id is None

    @property
    def usable_acl_rules(self) -> int:
        """Rules cloudfence may write per direction and family: the quota counts the `*` deny."""
        return self.rules_per_network_acl - 1


def read_settings(raw: Any) -> tuple[AwsSettings, list[Problem]]:
    """Typed settings and the problems found; unknown keys are BaseProvider's to report."""
    if not isinstance(raw, Mapping):
        return AwsSettings(), []  # BaseProvider.check_settings reports the wrong shape
    problems: list[Problem] = []

    def bad(key: str, message: str) -> None:
        problems.append(Problem(f"settings.{key}", message))

    vpc_id = raw.get("vpcId")
    if vpc_id is not None and (not isinstance(vpc_id, str) or not VPC_ID.match(vpc_id)):
        bad("vpcId", f"{vpc_id!r} is not a VPC id: write vpc- and 8 to 17 hex digits "
            "(e.g. vpc-0abc1234def567890), or omit it to let cloudfence create the VPC")
        vpc_id = None

    vpc_cidr = None
    text = raw.get("vpcCidr")
    if text is not None:
        vpc_cidr = _vpc_cidr(text, bad)
        if raw.get("vpcId") is not None:
            bad("vpcCidr", "only used for the VPC cloudfence creates: remove it, or remove "
                "settings.vpcId")

    nacls = raw.get("nacls", False)
    if not isinstance(nacls, bool):
        bad("nacls", f"expected true or false, got {nacls!r}")
        nacls = False
    elif nacls and raw.get("vpcId") is not None:
        bad("nacls", "network ACLs go on the subnets cloudfence creates, which it does not do "
            "with settings.vpcId: remove vpcId (cloudfence creates the VPC) or set nacls: false")

    rules_sg = _int(raw, "rulesPerSecurityGroup", DEFAULT_RULES_PER_SECURITY_GROUP,
                    1, MAX_RULES_PER_SECURITY_GROUP, bad)
    rules_acl = _int(raw, "rulesPerNetworkAcl", DEFAULT_RULES_PER_NETWORK_ACL,
                     2, MAX_RULES_PER_NETWORK_ACL, bad)

    region = raw.get("region")
    if region is not None and (not isinstance(region, str) or not REGION.match(region)):
        bad("region", f"{region!r} is not an AWS region name: write one such as us-east-1 or "
            "eu-central-1, or omit it to use the stack's aws:region")
        region = None

    return AwsSettings(vpc_id, vpc_cidr, nacls, rules_sg, rules_acl, region), problems


def _vpc_cidr(text: Any, bad) -> ipaddress.IPv4Network | None:
    if not isinstance(text, str):
        bad("vpcCidr", f"expected an IPv4 CIDR such as 10.20.0.0/16, got {text!r}")
        return None
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
            bad("vpcCidr", f"host bits are set in {text!r}: did you mean {loose}?")
        except ValueError:
            bad("vpcCidr", f"{text!r} is not a CIDR: write an IPv4 network such as 10.20.0.0/16")
        return None
    if net.version != 4:
        bad("vpcCidr", f"{net} is IPv6: the VPC's primary CIDR is IPv4 (/16 to /28)")
        return None
    if not 16 <= net.prefixlen <= 28:
        bad("vpcCidr", f"AWS VPCs are /16 to /28, {net} is /{net.prefixlen}")
        return None
    return net


def _int(raw: Mapping[str, Any], key: str, default: int, lo: int, hi: int, bad) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        bad(key, f"expected a whole number from {lo} to {hi}, got {value!r}")
        return default
    if not lo <= value <= hi:
        bad(key, f"{value} is outside {lo}-{hi}")
        return default
    return value
