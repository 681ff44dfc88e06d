"""A provider for an imaginary cloud whose firewall is one allow list per segment.

Each segment gets an `AllowList`; each end of each flow becomes an `Allow`
record on the list of the segment at that end. `evaluate` reads the records
back, knowing nothing of the spec's flows, so a compile bug shows up as a
counterexample in `cloudfence verify`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field

from cloudfence import (
    EGRESS,
    INGRESS,
    BaseProvider,
    Capabilities,
    Endpoint,
    Flag,
    Flow,
    Intent,
    IntervalSet,
    Peer,
    Plan,
    PortSet,
    Problem,
    ProviderSettings,
    Reachability,
    Resource,
    narrow,
    ordered,
    parse_port,
    ref,
)

LIST = "fakecloud:index:AllowList"
ALLOW = "fakecloud:index:Allow"
DNS = "@fake-dns"
MAX_RULES_PER_LIST = 200


class FakeSettings(ProviderSettings):
    dns: Flag = Field(True, description="allow every segment to reach @fake-dns on udp/53")
    list_prefix: str = Field("", description="text put before every allow list's display name")


class FakeCloudProvider(BaseProvider):
    name = "fakecloud"
    description = "imaginary cloud with one allow list per segment (cloudfence test plugin)"
    capabilities = Capabilities(
        protocols=frozenset({"tcp", "udp", "icmp", "icmpv6", "other"}),  # no SCTP
        platform_endpoints={DNS: "the imaginary resolver", "@metadata": "the imaginary metadata service",
                            "@load-balancer": "the imaginary load balancer",
                            "@object-storage": "the imaginary object store"},
        quotas={"rulesPerList": MAX_RULES_PER_LIST},
    )
    settings_model = FakeSettings

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        problems = super().check(intent, settings)
        counts: dict[str, int] = {}
        for flow in intent.flows:
            for ep in (flow.src, flow.dst):
                if ep.is_segment:
                    counts[ep.name] = counts.get(ep.name, 0) + 1
        for seg, n in sorted(counts.items()):
            if n > MAX_RULES_PER_LIST:
                problems.append(Problem(f"segments.{seg}", f"{n} rules, over fakecloud's "
                                        f"{MAX_RULES_PER_LIST} per allow list: merge flows"))
        return problems

    def implied_flows(self, intent: Intent, settings: ProviderSettings) -> tuple[Flow, ...]:
        if not narrow(FakeSettings, settings).dns:
            return ()
        return tuple(Flow(Endpoint("segment", s), Endpoint("platform", DNS), parse_port("udp/53"))
                     for s in intent.segments)

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        prefix = narrow(FakeSettings, settings).list_prefix
        records = [Resource(LIST, f"{intent.name}-{seg.name}",
                            {"displayName": f"{prefix}{seg.name}", "segment": seg.name,
                             "description": seg.description})
                   for seg in intent.segments.values()]
        implied = self.implied_flows(intent, settings)
        # One set of records per (source, destination): a spec flow to @fake-dns and the
        # implied DNS flow of the same segment share a logical name, so merge their ports.
        merged: dict[tuple[str, str], Flow] = {}
        for flow in (*intent.flows, *implied):
            old = merged.get((flow.src.name, flow.dst.name))
            merged[(flow.src.name, flow.dst.name)] = (
                flow if old is None else Flow(flow.src, flow.dst, old.ports | flow.ports))
        for flow in merged.values():
            for direction, seg, peer in ((EGRESS, flow.src, flow.dst), (INGRESS, flow.dst, flow.src)):
                if not seg.is_segment:
                    continue
                records.append(Resource(ALLOW, f"{intent.name}-{_pair(flow)}-{direction}", {
                    "listId": ref(f"{intent.name}-{seg.name}"),
                    "direction": direction,
                    "peer": _peer(peer, intent),
                    "ports": _ports(flow.ports),
                }))
        exports = {s: {"allowListId": ref(f"{intent.name}-{s}")} for s in intent.segments}
        return Plan(intent.name, self.name, ordered(records), implied, exports)

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        reach = Reachability(self.name, self.governs(intent))
        # Which segment a list belongs to is read from the list record, not from the spec.
        segment_of = {r.name: r.inputs["segment"] for r in plan.by_type(LIST)}
        for rule in plan.by_type(ALLOW):
            segment = segment_of[rule.refs["listId"]]
            reach.allow(segment, rule.inputs["direction"], _read_peer(rule, segment_of),
                        _read_ports(rule.inputs["ports"]))
        return reach

    def sdk_class(self, type_token: str) -> Callable[..., Any]:
        raise NotImplementedError("fakecloud has no Pulumi SDK: plan and verify only")


def _pair(flow: Flow) -> str:
    """The flow's stable identity as a name part: `gateway-to-inference`, never a list
    position, so editing one flow renames nothing else ('@' is not valid in names)."""
    return f"{flow.src.name}-to-{flow.dst.name}".replace("@", "")


def _peer(ep: Endpoint, intent: Intent) -> dict[str, Any]:
    if ep.kind == "segment":
        return {"list": ref(f"{intent.name}-{ep.name}")}
    if ep.kind == "platform":
        return {"service": ep.name}
    return {"cidrs": [str(c) for c in intent.networks[ep.name].cidrs()]}


def _read_peer(rule: Resource, segment_of: Mapping[str, str]) -> Peer:
    peer = rule.inputs["peer"]
    if "list" in peer:
        return Peer.segment(segment_of[rule.refs["peer.list"]])
    if "service" in peer:
        return Peer(platform=frozenset([peer["service"]]))
    return Peer.cidrs(peer["cidrs"])


def _ports(ports: PortSet) -> list[dict[str, Any]]:
    return [{"protocol": proto, "from": lo, "to": hi} for proto, ivs in ports.items() for lo, hi in ivs]


def _read_ports(items: list[Mapping[str, Any]]) -> PortSet:
    return PortSet((i["protocol"], IntervalSet.of(i["from"], i["to"])) for i in items)
