"""cloudfence: one network segmentation spec, compiled per target and proven
equivalent before deploy.

The public API for stack programs and provider plugins. `Segmentation` is
imported lazily so that the CLI and the pure layers never pay for Pulumi.
"""

from typing import TYPE_CHECKING, Any

from cloudfence.errors import CheckError, CloudfenceError, Problem, SpecError
from cloudfence.hookspecs import hookimpl
from cloudfence.intent import Endpoint, Flow, Intent, Network, Segment, load_intent, parse_intent
from cloudfence.plan import Plan, Resource, ref
from cloudfence.ports import PortSet
from cloudfence.provider import BaseProvider, Capabilities, Provider
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability

if TYPE_CHECKING:
    from cloudfence.deploy.component import Segmentation

__all__ = [
    "EGRESS",
    "INGRESS",
    "BaseProvider",
    "Capabilities",
    "CheckError",
    "CloudfenceError",
    "Endpoint",
    "Flow",
    "Intent",
    "Network",
    "Peer",
    "Plan",
    "PortSet",
    "Problem",
    "Provider",
    "Reachability",
    "Resource",
    "Segment",
    "Segmentation",
    "SpecError",
    "hookimpl",
    "load_intent",
    "parse_intent",
    "ref",
]


def __getattr__(name: str) -> Any:
    if name == "Segmentation":
        from cloudfence.deploy.component import Segmentation

        return Segmentation
    raise AttributeError(name)
