"""What a provider is: a name, declared capabilities, and three jobs.

`check` finds what the target cannot express (before anything is built),
`compile` turns the intent into plan records, `evaluate` reads plan records
back with the target's documented semantics. Helpers here are shared by the
built-in providers and free for third-party ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cloudfence.errors import CheckError, Problem, did_you_mean
from cloudfence.intent import Flow, Intent
from cloudfence.plan import Plan
from cloudfence.ports import PROTOCOLS
from cloudfence.reachability import Reachability


@dataclass(frozen=True)
class Capabilities:
    protocols: frozenset[str] = frozenset(PROTOCOLS)
    icmp_types: bool = False
    ipv6: bool = True
    segments_need_addresses: bool = False
    governs: str = "every segment"
    platform_endpoints: frozenset[str] = frozenset()
    quotas: Mapping[str, int] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)  # name -> what it does

    def to_json(self) -> dict[str, Any]:
        return {
            "protocols": sorted(self.protocols, key=PROTOCOLS.index),
            "icmpTypes": self.icmp_types,
            "ipv6": self.ipv6,
            "segmentsNeedAddresses": self.segments_need_addresses,
            "governs": self.governs,
            "platformEndpoints": sorted(self.platform_endpoints),
            "quotas": dict(self.quotas),
            "settings": dict(self.settings),
        }


@runtime_checkable
class Provider(Protocol):
    name: str
    description: str
    capabilities: Capabilities

    def governs(self, intent: Intent) -> frozenset[str]:
        """Segments whose traffic this target enforces."""
        ...

    def check(self, intent: Intent, settings: Mapping[str, Any]) -> list[Problem]: ...

    def compile(self, intent: Intent, settings: Mapping[str, Any]) -> Plan: ...

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        """Read the plan's records with the target's semantics. The intent only
        says which workloads exist and where; every permission comes from records."""
        ...

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        """The Pulumi SDK class for a type token, imported only when called."""
        ...


class BaseProvider:
    """Shared checks; subclasses set name, description, capabilities."""

    name = ""
    description = ""
    capabilities = Capabilities()

    def governs(self, intent: Intent) -> frozenset[str]:
        return frozenset(intent.segments)

    def check(self, intent: Intent, settings: Mapping[str, Any]) -> list[Problem]:
        problems = self.check_settings(settings)
        problems += self.check_capabilities(intent)
        return problems

    def check_settings(self, settings: Mapping[str, Any]) -> list[Problem]:
        known = self.capabilities.settings
        if not isinstance(settings, Mapping):
            return [Problem("settings", f"expected a mapping of {self.name} settings")]
        return [
            Problem(f"settings.{key}", f"unknown {self.name} setting{did_you_mean(key, known)}"
                    f" (known: {', '.join(sorted(known)) or 'none'})")
            for key in settings if key not in known
        ]

    def check_capabilities(self, intent: Intent) -> list[Problem]:
        caps = self.capabilities
        governed = self.governs(intent)
        problems = []
        for flow in intent.flows:
            if not _touches(flow, governed):
                continue
            missing = [p for p in flow.ports if p not in caps.protocols]
            if flow.ports.is_any() and "other" in missing:
                missing = []  # "any" maps to the target's all-protocol form
            if missing:
                problems.append(intent.problem(flow, f"{self.name} cannot express "
                                f"{', '.join(missing)}: remove it from this flow or target another provider"))
            for ep in (flow.src, flow.dst):
                if ep.kind == "platform" and ep.name not in caps.platform_endpoints:
                    known = ", ".join(sorted(caps.platform_endpoints)) or "none"
                    problems.append(intent.problem(flow, f"platform endpoint '{ep.name}' is not "
                                    f"known to {self.name} (it knows: {known})"))
            if not caps.ipv6:
                for ep in (flow.src, flow.dst):
                    if intent.addresses(ep).v6 and ep.name != "internet":
                        problems.append(intent.problem(flow, f"{self.name} cannot express IPv6 "
                                        f"addresses of '{ep.name}'"))
        return problems

    def require(self, intent: Intent, settings: Mapping[str, Any]) -> None:
        require(self, intent, settings)


def require(provider: Provider, intent: Intent, settings: Mapping[str, Any]) -> None:
    """Run a provider's check and stop with its problems: nothing is built from
    an intent the target cannot express."""
    problems = provider.check(intent, settings)
    if problems:
        raise CheckError(problems)


def checked_plan(provider: Provider, intent: Intent, settings: Mapping[str, Any]) -> Plan:
    """Check, then compile: the one way the core turns an intent into a plan."""
    require(provider, intent, settings)
    return provider.compile(intent, settings)


def _touches(flow: Flow, governed: Iterable[str]) -> bool:
    g = set(governed)
    return (flow.src.is_segment and flow.src.name in g) or (flow.dst.is_segment and flow.dst.name in g)
