"""GCP wire vocabulary shared by compile (writing) and evaluate (reading):
type tokens, directions and protocol spellings, exactly as Pulumi registers them."""

from __future__ import annotations

NETWORK = "gcp:compute/network:Network"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"

# type token -> (pulumi_gcp submodule, class name)
SDK_CLASSES = {
    NETWORK: ("compute", "Network"),
    SUBNETWORK: ("compute", "Subnetwork"),
    FIREWALL: ("compute", "Firewall"),
}

INGRESS, EGRESS = "INGRESS", "EGRESS"
IMPLIED_PRIORITY = 65535  # allow all egress, deny all ingress: not listed, not deletable
DEFAULT_PRIORITY = 1000  # what GCP assumes when a rule gives none

#: Protocol spellings cloudfence writes; ports only for tcp, udp and sctp.
PROTOCOL = {"tcp": "tcp", "udp": "udp", "sctp": "sctp", "icmp": "icmp", "icmpv6": "58"}
ALL = "all"
#: Reading: names and numbers GCP accepts, as the model's protocols. Any other
#: protocol (esp, ah, ipip, a number) is "other".
PROTOCOL_NAMES = {
    "tcp": "tcp", "6": "tcp",
    "udp": "udp", "17": "udp",
    "sctp": "sctp", "132": "sctp",
    "icmp": "icmp", "1": "icmp",
    "58": "icmpv6", "ipv6-icmp": "icmpv6",
}
PORTED = ("tcp", "udp", "sctp")
