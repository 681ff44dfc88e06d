"""Azure wire vocabulary shared by compile (writing) and evaluate (reading):
type tokens, protocol and access spellings, service tags and the default rules,
exactly as azure-native registers them."""

from __future__ import annotations

import re

from cloudfence.names import TAG_SEGMENT as TAG_SEGMENT
from cloudfence.names import TAG_SPEC as TAG_SPEC

VIRTUAL_NETWORK = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
NSG = "azure-native:network:NetworkSecurityGroup"
ASG = "azure-native:network:ApplicationSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"  # standalone: read by evaluate, never written

# type token -> class name in pulumi_azure_native.network
SDK_CLASSES = {
    VIRTUAL_NETWORK: "VirtualNetwork",
    SUBNET: "Subnet",
    NSG: "NetworkSecurityGroup",
    ASG: "ApplicationSecurityGroup",
}

INBOUND, OUTBOUND = "Inbound", "Outbound"
ALLOW, DENY = "Allow", "Deny"
ANY = "*"

# Model protocol -> the rule's `protocol`. Azure has one Icmp for ICMP and ICMPv6.
PROTOCOL = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "icmpv6": "Icmp", "any": ANY}

# The platform endpoint that Azure Load Balancer health probes come from (168.63.129.16).
LOAD_BALANCER = "@load-balancer"
LOAD_BALANCER_TAG = "AzureLoadBalancer"
#: `@object-storage`: the Storage service tag, or a regional one (Storage.WestEurope).
STORAGE_TAG = "Storage"
STORAGE = re.compile(r"^Storage(\.[A-Za-z][A-Za-z0-9]{1,39})?$")
VIRTUAL_NETWORK_TAG = "VirtualNetwork"
INTERNET_TAG = "Internet"

# User rules live in 100-4096; cloudfence ends each direction with a deny-all at 4096.
MIN_PRIORITY, MAX_PRIORITY = 100, 4096
DENY_ALL_PRIORITY = MAX_PRIORITY

# The rules every NSG has after the user's (cloud-semantics.md 2.1): they cannot be
# removed, only shadowed. (name, priority, direction, source, destination, access)
DEFAULT_RULES = (
    ("AllowVNetInBound", 65000, INBOUND, VIRTUAL_NETWORK_TAG, VIRTUAL_NETWORK_TAG, ALLOW),
    ("AllowAzureLoadBalancerInBound", 65001, INBOUND, LOAD_BALANCER_TAG, ANY, ALLOW),
    ("DenyAllInBound", 65500, INBOUND, ANY, ANY, DENY),
    ("AllowVnetOutBound", 65000, OUTBOUND, VIRTUAL_NETWORK_TAG, VIRTUAL_NETWORK_TAG, ALLOW),
    ("AllowInternetOutBound", 65001, OUTBOUND, ANY, INTERNET_TAG, ALLOW),
    ("DenyAllOutBound", 65500, OUTBOUND, ANY, ANY, DENY),
)
