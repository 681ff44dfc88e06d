"""Platform endpoints (DESIGN section 3): the `@names` a spec may use for what the
platform provides, and what one is on one target.

A spec names an endpoint once; each provider resolves it natively (a service tag,
a managed prefix list, a group, documented ranges, a selector) or refuses it with
a message naming the endpoint. What an endpoint is on a target is a `Resolved`:
the addresses it stands for, and whether the target's rules name it by those
addresses or by a name of its own, in which case the addresses are where it is
taken to be (an assumption every verdict prints).
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudfence.addresses import PUBLIC, AddressSet

LOAD_BALANCER = "@load-balancer"
OBJECT_STORAGE = "@object-storage"
INSTANCE_METADATA = "@instance-metadata"
CLUSTER_DNS = "@cluster-dns"

#: Every endpoint the core knows, with what it stands for (plugins may add their own).
KNOWN = {
    LOAD_BALANCER: "what a cloud load balancer delivers to a segment: health checks and proxied "
                   "client traffic",
    OBJECT_STORAGE: "the provider's object store (model weights, datasets)",
    INSTANCE_METADATA: "the instance metadata service (169.254.169.254, fd00:ec2::254): credentials",
    CLUSTER_DNS: "the cluster's DNS pods",
}

#: Endpoints that only receive: a flow from one is refused by every target. (The
#: cluster DNS pods are pods: a policy may admit them like any.)
RECEIVE_ONLY = frozenset({OBJECT_STORAGE, INSTANCE_METADATA})

#: Endpoints that send only, unless the target governs them (on AWS, the load
#: balancer's own security group takes the listener's ingress). A flow into one,
#: from a segment or a network, is accepted by the spec; each target's check
#: refuses it unless the target governs the endpoint (`governed_endpoints`).
GOVERNABLE = frozenset({LOAD_BALANCER})

#: 169.254.169.254/32 and fd00:ec2::254/128.
METADATA_ADDRESSES = AddressSet.from_cidrs(["169.254.169.254/32", "fd00:ec2::254/128"])


@dataclass(frozen=True)
class Resolved:
    """What one endpoint is on one target.

    `addresses` is exactly what rules write when `native` is empty; otherwise the
    rules name `native` (a tag, a prefix list, a group) and `addresses` is where
    that is taken to be. Public addresses are also `internet` (DESIGN section 3).
    """

    addresses: AddressSet
    native: str = ""  # the name the rules write (Storage, com.amazonaws.us-east-1.s3)
    kind: str = ""  # what that name is: "service tag", "managed prefix list", "security group"
    weight: int = 1  # how many rules one reference to it counts as (an AWS prefix list's weight)
    #: What else it is, known by identity, not by address (Kubernetes: the ingress
    #: controller pods, by namespace and labels): the evaluator declares them as ends.
    members: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.native:
            return f"the {self.kind} {self.native}".replace("  ", " ")
        return " and ".join(part for part in (", ".join(str(c) for c in self.addresses.cidrs()),
                                              *self.members) if part)

    @property
    def by_name(self) -> bool:
        return bool(self.native)

    @property
    def public(self) -> bool:
        """Somewhere in public space only: written from the same includes as `internet`."""
        return bool(self.addresses) and self.addresses.issubset(PUBLIC)
