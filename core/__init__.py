"""cloudfence: one network segmentation spec, compiled per target and proven
equivalent before deploy.

The public API for stack programs and provider plugins. `Segmentation` is
imported lazily so that the CLI and the pure layers never pay for Pulumi.
"""

from typing import TYPE_CHECKING, Any

from cloudfence.errors import CheckError, CloudfenceError, Problem, SpecError
from cloudfence.hookspecs import hookimpl
from cloudfence.intent import Endpoint, Flow, Intent, Network, Segment, load_intent, parse_intent
from cloudfence.intervals import IntervalSet
from cloudfence.plan import Plan, Resource, ordered, ref
from cloudfence.ports import PortSet, parse_port
from cloudfence.provider import BaseProvider, Capabilities, Provider, checked_plan, find_problems
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability
from cloudfence.settings import Flag, ProviderSettings, matching, narrow, whole

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
    "Flag",
    "Flow",
    "Intent",
    "IntervalSet",
    "Network",
    "Peer",
    "Plan",
    "PortSet",
    "Problem",
    "Provider",
    "ProviderSettings",
    "Reachability",
    "Resource",
    "Segment",
    "Segmentation",
    "SpecError",
    "checked_plan",
    "find_problems",
    "hookimpl",
    "load_intent",
    "matching",
    "narrow",
    "ordered",
    "parse_intent",
    "parse_port",
    "ref",
    "whole",
]


def __getattr__(name: str) -> Any:
    if name == "Segmentation":
        from cloudfence.deploy.component import Segmentation

        return Segmentation
    raise AttributeError(name)
