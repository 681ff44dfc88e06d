"""What a provider is: a name, declared capabilities, a settings model, and three jobs.

`check` finds what the target cannot express (before anything is built),
`compile` turns the intent into plan records, `evaluate` reads plan records
back with the target's documented semantics. The core validates settings into
the provider's model once, then runs check and compile once per plan
(`checked_plan`); a provider's jobs receive the validated model, never raw input.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from cloudfence.attribution import RecordRule, changed_inputs, isolated_rules
from cloudfence.bridges import bridge_problems
from cloudfence.collection import fewer_collections
from cloudfence.endpoints import GOVERNABLE, RECEIVE_ONLY
from cloudfence.errors import CheckError, CloudfenceError, Problem
from cloudfence.intent import Flow, Intent
from cloudfence.plan import DeployedRecords, Plan, Resource
from cloudfence.ports import PROTOCOLS
from cloudfence.pulumistate import StateResource
from cloudfence.reachability import Reachability
from cloudfence.settings import ProviderSettings, validate_settings
from cloudfence.space import space_for


@dataclass(frozen=True)
class Capabilities:
    protocols: frozenset[str] = frozenset(PROTOCOLS)
    icmp_types: bool = False
    ipv6: bool = True
    segments_need_addresses: bool = False
    governs: str = "every segment"
    #: Each platform endpoint the target resolves, and what it resolves to.
    platform_endpoints: Mapping[str, str] = field(default_factory=dict)
    quotas: Mapping[str, int] = field(default_factory=dict)
    manifests: bool = False  # `cloudfence export` can write native manifests

    def to_json(self) -> dict[str, Any]:
        return {
            "protocols": sorted(self.protocols, key=PROTOCOLS.index),
            "icmpTypes": self.icmp_types,
            "ipv6": self.ipv6,
            "segmentsNeedAddresses": self.segments_need_addresses,
            "governs": self.governs,
            "platformEndpoints": dict(sorted(self.platform_endpoints.items())),
            "quotas": dict(self.quotas),
            "manifests": self.manifests,
        }


@runtime_checkable
class Provider(Protocol):
    """The interface the core uses. `BaseProvider` implements it; subclass that."""

    name: str
    description: str
    capabilities: Capabilities

    @property
    def settings_model(self) -> type[ProviderSettings]:
        """The provider's settings, as one typed model (key names as users write them)."""
        ...

    def governs(self, intent: Intent) -> frozenset[str]:
        """Segments whose traffic this target enforces."""
        ...

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]: ...

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan: ...

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        """Read the plan's records with the target's semantics. The intent only
        says which workloads exist and where; every permission comes from records."""
        ...

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        """The Pulumi SDK class for a type token, imported only when called."""
        ...

    def implied_flows(self, intent: Intent, settings: ProviderSettings) -> tuple[Flow, ...]: ...

    def manifests(self, plan: Plan) -> dict[str, str]: ...

    def summarize(self, resource: Resource) -> str | None: ...

    def replaced_by(self, old: Resource, new: Resource) -> list[str]: ...

    def record_rules(self, plan: Plan, intent: Intent) -> dict[str, list[RecordRule]]: ...

    def count_rules(self, plan: Plan) -> int | None: ...

    def deployed_records(self, doc: Any, intent: Intent, file: str) -> DeployedRecords | None: ...

    def state_records(self, state: Sequence[StateResource], intent: Intent) -> DeployedRecords: ...


class BaseProvider(ABC):
    """What every provider shares: the capability check and defaults for the
    optional jobs. Subclasses set name, description, capabilities and
    settings_model, and write compile, evaluate and sdk_class."""

    name: str = ""
    description: str = ""
    capabilities: Capabilities = Capabilities()
    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings

    def governs(self, intent: Intent) -> frozenset[str]:
        return frozenset(intent.segments)

    #: The setting that gives the target's internal space, named in refusals.
    internal_setting: ClassVar[str] = ""

    #: Platform endpoints the target itself governs (has rules of), which flows may enter.
    governed_endpoints: ClassVar[frozenset[str]] = frozenset()

    #: Platform endpoints the target cannot filter, with the hardening that does work.
    refused_endpoints: ClassVar[Mapping[str, str]] = {}

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        """What the target cannot express; extend with the target's own limits."""
        return (self.check_capabilities(intent) + self.check_endpoints(intent, settings)
                + self.check_meaning(intent, settings))

    #: Per platform endpoint the target resolves from settings, the setting and what it holds.
    endpoint_settings: ClassVar[Mapping[str, str]] = {}

    def check_endpoints(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        """A flow naming an endpoint these settings leave unresolved is refused, naming
        the setting: never guessed."""
        resolved = settings.platform_endpoints()
        governed = self.governs(intent)
        problems = []
        for flow in intent.flows:
            if not _touches(flow, governed):
                continue
            for ep in (flow.src, flow.dst):
                hint = self.endpoint_settings.get(ep.name)
                if ep.kind == "platform" and hint and ep.name not in resolved:
                    problems.append(intent.problem(flow, f"{self.name} resolves '{ep.name}' from "
                                                   f"settings: give {hint}"))
        return problems

    def check_meaning(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        """Flows that can never carry a packet, and bridges through networks where
        segments without a cidr may be (DESIGN section 3): refused, never guessed."""
        space = space_for(intent, settings)
        governed = self.governs(intent)
        flows = [f for f in intent.flows if _touches(f, governed)]
        problems = [intent.problem(f, why) for f, why in space.dead_flows(flows)]
        hidden = frozenset(s for s in governed if not intent.segments[s].cidrs)
        if hidden:
            problems += bridge_problems(intent, space, hidden, self.internal_setting, self.name)
        return problems

    @abstractmethod
    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        """Intent to plan records, for an intent that `check` accepted."""

    @abstractmethod
    def evaluate(self, plan: Plan, intent: Intent) -> Reachability: ...

    @abstractmethod
    def sdk_class(self, type_token: str) -> Callable[..., Any]: ...

    def implied_flows(self, intent: Intent, settings: ProviderSettings) -> tuple[Flow, ...]:
        """Flows the target adds on purpose (cluster DNS ...); compile lists them in `Plan.implied`."""
        return ()

    def manifests(self, plan: Plan) -> dict[str, str]:
        """Native manifests by file name, for `cloudfence export` (set `capabilities.manifests`)."""
        raise CheckError(f"provider {self.name} cannot export manifests")

    def summarize(self, resource: Resource) -> str | None:
        """One line for the `plan` table; None: the core's reading of the wire inputs."""
        return None

    #: Per type token, the inputs (dotted wire paths) whose change makes Pulumi replace the
    #: resource (delete and create) instead of updating it; `cloudfence diff` calls them out.
    replace_on: ClassVar[Mapping[str, frozenset[str]]] = {}

    def replaced_by(self, old: Resource, new: Resource) -> list[str]:
        """The changed inputs of one record that force its replacement (none: an update).
        Known per target, so it lives with the provider; the default reads `replace_on`."""
        keys = self.replace_on.get(new.type, frozenset())
        return [p for p in changed_inputs(old.inputs, new.inputs)
                if any(p == k or p.startswith((k + ".", k + "[")) or k.startswith(p + ".") for k in keys)]

    def record_rules(self, plan: Plan, intent: Intent) -> dict[str, list[RecordRule]]:
        """Which rules each record contributes, for `cloudfence query` to name the records that
        allow a connection. The default evaluates each record beside what it references
        (cloudfence.attribution); override where a rule needs more records to mean anything."""
        return isolated_rules(self, plan, intent)

    def count_rules(self, plan: Plan) -> int | None:
        """How many rules the plan holds, for the RULES column of `verify`: the entries the
        target evaluates one by one (a rule record, an inline rule), not the records that
        carry them. None, the default: the provider does not say, and verify shows '-'
        rather than a number that might mislead."""
        return None

    #: The type tokens `evaluate` reads: in a Pulumi state export, the resources of these
    #: types are this target's records (`verify --deployed`); none: it reads no deployed state.
    deployed_types: ClassVar[frozenset[str]] = frozenset()

    def deployed_records(self, doc: Any, intent: Intent, file: str) -> DeployedRecords | None:
        """The records of a Plan from one of the target's own documents (a kubectl List, the
        AWS CLI's JSON), for `verify --deployed`; None: the document is none of its formats.
        A defect raises CloudfenceError naming the place in `file`."""
        return None

    def state_records(self, state: Sequence[StateResource], intent: Intent) -> DeployedRecords:
        """The target's records from a Pulumi state export: each resource of a type it reads,
        with its inputs. Override to read what the refreshed outputs show beyond them."""
        if not self.deployed_types:
            raise CheckError(f"provider {self.name} reads no deployed state: verify its plan instead")
        return DeployedRecords(tuple(r.record() for r in state if r.type in self.deployed_types))

    def check_capabilities(self, intent: Intent) -> list[Problem]:
        caps = self.capabilities
        governed = self.governs(intent)
        problems = []
        for flow in intent.flows:
            if not (_touches(flow, governed) or _listener(flow)):
                continue
            missing = [p for p in flow.ports if p not in caps.protocols]
            if flow.ports.is_any() and "other" in missing:
                missing = []  # "any" maps to the target's all-protocol form
            if missing:
                problems.append(intent.problem(flow, f"{self.name} cannot express "
                                f"{', '.join(missing)}: remove it from this flow or target another provider"))
            problems += self._endpoint_problems(intent, flow)
            if not caps.ipv6:
                for ep in (flow.src, flow.dst):
                    if intent.addresses(ep).v6 and ep.name != "internet":
                        problems.append(intent.problem(flow, f"{self.name} cannot express IPv6 "
                                        f"addresses of '{ep.name}'"))
        return problems


    def _endpoint_problems(self, intent: Intent, flow: Flow) -> list[Problem]:
        caps = self.capabilities
        problems = []
        for ep in (flow.src, flow.dst):
            if ep.kind != "platform":
                continue
            refused = self.refused_endpoints.get(ep.name)
            if refused:
                problems.append(intent.problem(flow, f"{self.name} cannot filter '{ep.name}': {refused}"))
            elif ep.name not in caps.platform_endpoints:
                known = ", ".join(sorted(caps.platform_endpoints)) or "none"
                problems.append(intent.problem(flow, f"platform endpoint '{ep.name}' is not "
                                f"known to {self.name} (it knows: {known})"))
            elif ep == flow.src and ep.name in RECEIVE_ONLY:
                problems.append(intent.problem(flow, f"'{ep.name}' only receives: write it as the "
                                f"flow's `to`, with a segment as `from`"))
            elif ep == flow.dst and ep.name in GOVERNABLE and ep.name not in self.governed_endpoints:
                problems.append(intent.problem(flow, f"'{ep.name}' takes no rules on {self.name}: its "
                                "load balancers have no filter that cloudfence writes, so nothing "
                                "enforces a flow into it; write the clients' flow to the segment behind it "
                                f"(`{flow.src} -> <segment>`), and `{ep.name} -> <segment>` for what "
                                "the load balancer delivers"))
        return problems


def validated(provider: Provider, raw: Mapping[str, Any] | ProviderSettings | None) -> ProviderSettings:
    """The provider's settings model from raw settings, or CheckError naming each `settings.<key>`."""
    if isinstance(raw, ProviderSettings):
        if not isinstance(raw, provider.settings_model):
            raise TypeError(f"{type(raw).__name__} is not {provider.name}'s settings model")
        return raw
    settings, problems = validate_settings(provider.settings_model, raw, provider.name)
    if settings is None:
        raise CheckError(problems)
    return settings


def find_problems(provider: Provider, intent: Intent,
                  raw: Mapping[str, Any] | ProviderSettings | None) -> list[Problem]:
    """Everything that stops a plan: the settings' problems, else the check's."""
    try:
        settings = validated(provider, raw)
    except CheckError as exc:
        return exc.problems
    return provider.check(intent, settings)


def checked_plan(provider: Provider, intent: Intent,
                 raw: Mapping[str, Any] | ProviderSettings | None) -> Plan:
    """Validate settings, check, then compile, each once: the one way the core
    turns an intent into a plan. The plan carries the settings as validated."""
    settings = validated(provider, raw)
    with fewer_collections():
        problems = provider.check(intent, settings)
        if problems:
            raise CheckError(problems)
        plan = provider.compile(intent, settings)
    return dataclasses.replace(plan, settings=settings.to_json())


def install_hint(provider: Provider) -> str:
    """How to get the Pulumi SDK a provider emits through: a built-in one has an extra."""
    if type(provider).__module__.startswith("cloudfence.providers."):
        return f"pip install 'cloudfence[{provider.name}]'"
    return f"install the Pulumi SDK that the package of provider {provider.name} depends on"


class SdkMissing(CloudfenceError):
    """A provider's Pulumi SDK is not installed: emitting needs it, planning does not."""


def sdk_class(provider: Provider, type_token: str) -> Callable[..., Any]:
    """The provider's SDK class, or SdkMissing saying which extra to install."""
    try:
        return provider.sdk_class(type_token)
    except ImportError as exc:
        raise SdkMissing(f"the {provider.name} provider's Pulumi SDK is not installed "
                         f"({exc.name or exc}): {install_hint(provider)}") from None
    except (NotImplementedError, LookupError) as exc:
        raise CheckError(f"provider {provider.name} has no Pulumi SDK class for {type_token} ({exc}): "
                         "its plan cannot be registered through Pulumi; plan without --via-pulumi") from None


def _listener(flow: Flow) -> bool:
    """A flow with no segment at either end (a network into a governable endpoint):
    every target's check judges it, so one that does not govern the endpoint refuses it."""
    return not flow.src.is_segment and not flow.dst.is_segment


def _touches(flow: Flow, governed: AbstractSet[str]) -> bool:
    """`governed` is a set, looked up as it is: copying it per flow costs segments x flows."""
    return ((flow.src.is_segment and flow.src.name in governed)
            or (flow.dst.is_segment and flow.dst.name in governed))
