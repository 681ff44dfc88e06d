"""The internal space on AWS: the VPC's CIDRs, and where members of a segment
without a cidr may be.

In network mode it is the VPC cloudfence creates (IPv4 only), whose CIDR
compile may derive from the segments, so settings are resolved against the
intent first. With `vpcId` it is `vpcCidrs`; while that is not given the VPC
may also hold an IPv6 prefix anywhere in global unicast space, which rules
toward `internet` would then reach: where that matters, check refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from cloudfence.addresses import GLOBAL_V6, PRIVATE, AddressSet
from cloudfence.intent import Intent
from cloudfence.memo import remembered
from cloudfence.providers.aws.network import vpc_cidr
from cloudfence.providers.aws.settings import AwsSettings
from cloudfence.space import Space


@remembered
def resolved(intent: Intent, settings: AwsSettings) -> AwsSettings:
    """The settings as compile uses them: the created VPC's CIDR filled in."""
    if settings.network_mode and settings.vpc_cidr is None:
        derived = vpc_cidr(intent, settings)
        if derived is not None:
            return settings.model_copy(update={"vpc_cidr": derived})
    return settings


@dataclass(frozen=True)
class AwsSpace(Space):
    """`Space` whose hidden region also holds global IPv6 while an existing
    VPC's CIDRs are unknown (its IPv6 prefix is public and could be anywhere)."""

    vpc_unknown: bool = False

    @cached_property
    def hidden(self) -> AddressSet:
        base = self.internal if self.internal is not None else PRIVATE
        if self.internal is None and self.vpc_unknown:
            base = base | AddressSet.from_cidrs([GLOBAL_V6])
        return base - self.segment_addresses


@remembered
def aws_space(intent: Intent, settings: AwsSettings) -> AwsSpace:
    s = resolved(intent, settings)
    internal = s.internal_space()
    return AwsSpace(intent, internal, s.egress_ips(), s.platform_endpoints(),
                    vpc_unknown=internal is None and not s.network_mode)
