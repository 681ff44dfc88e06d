"""Intent -> Azure plan records: per segment an application security group and a
network security group with every rule inline, and in network mode the
virtual network and one subnet per segment cidr, associated with its NSG.

Pure data; the emitter turns records into pulumi_azure_native resources.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from cloudfence.addresses import IPNetwork
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.intervals import IntervalSet
from cloudfence.memo import remembered
from cloudfence.plan import Plan, Resource, ordered, ref
from cloudfence.ports import FULL, format_interval
from cloudfence.providers.azure.priorities import priorities
from cloudfence.providers.azure.rules import (
    LOAD_BALANCER_PEER,
    PREFIXES,
    SEGMENT,
    TAG_PEER,
    Rule,
    flows_with,
    rules_by_segment,
    segment_rules,
)
from cloudfence.providers.azure.settings import AzureSettings
from cloudfence.providers.azure.wire import (
    ALLOW,
    ANY,
    ASG,
    DENY,
    DENY_ALL_PRIORITY,
    INBOUND,
    LOAD_BALANCER,
    LOAD_BALANCER_TAG,
    NSG,
    OUTBOUND,
    PROTOCOL,
    SUBNET,
    TAG_SEGMENT,
    TAG_SPEC,
    VIRTUAL_NETWORK,
)
from cloudfence.space import space_for

MAX_DESCRIPTION = 140
# Inputs azure-native fills in when a program leaves them out: written out, so that the
# plan is exactly what Pulumi registers (and reviewers see what Azure receives).
VNET_DEFAULTS = {"enableDdosProtection": False, "enableVmProtection": False}
SUBNET_DEFAULTS = {"privateEndpointNetworkPolicies": "Disabled",
                   "privateLinkServiceNetworkPolicies": "Enabled"}


def names(spec: str, segment: str) -> dict[str, str]:
    """Logical names of a segment's records. The suffixes end differently, so no
    two segments' names can meet, and none equals the virtual network's `<spec>`."""
    return {kind: f"{spec}-{segment}-{kind}" for kind in ("asg", "nsg", "subnet")}


def implied_flows(intent: Intent, settings: AzureSettings) -> tuple[Flow, ...]:
    """Load balancer health probes the settings keep open: flows the plan adds."""
    return tuple(Flow(Endpoint("platform", LOAD_BALANCER), Endpoint("segment", seg), ports)
                 for seg, ports in settings.probe_ports().items() if seg in intent.segments)


@remembered
def planned_rules(intent: Intent, settings: AzureSettings) -> list[Rule]:
    """The NSG rules of the spec and the implied flows: check counts them against the
    quotas, compile writes them (one derivation for both)."""
    flows = flows_with(intent, implied_flows(intent, settings))
    return segment_rules(intent, space_for(intent, settings), flows)


def address_space(intent: Intent, settings: AzureSettings) -> list[IPNetwork]:
    """The virtual network's prefixes: the setting, or the segments' cidrs."""
    given = settings.address_prefixes()
    if given is not None:
        return given
    cidrs = [c for seg in intent.segments.values() for c in seg.cidrs]
    return [*ipaddress.collapse_addresses([c for c in cidrs if c.version == 4]),
            *ipaddress.collapse_addresses([c for c in cidrs if c.version == 6])]


def tags(spec: str, segment: str | None = None) -> dict[str, str]:
    out = {TAG_SPEC: spec}
    if segment is not None:
        out[TAG_SEGMENT] = segment
    return out


def compile_plan(intent: Intent, settings: AzureSettings, provider: str = "azure") -> Plan:
    spec = intent.name
    implied = implied_flows(intent, settings)
    rules = planned_rules(intent, settings)
    common = {"resourceGroupName": settings.resource_group_name, "location": settings.location}
    resources: list[Resource] = []
    exports: dict[str, dict[str, Any]] = {}

    if settings.network_mode:
        resources.append(Resource(VIRTUAL_NETWORK, spec, {
            **common,
            "addressSpace": {"addressPrefixes": [str(c) for c in address_space(intent, settings)]},
            **VNET_DEFAULTS,
            "tags": tags(spec),
        }))

    by_segment = rules_by_segment(rules)
    for seg, segment in intent.segments.items():
        n = names(spec, seg)
        resources.append(Resource(ASG, n["asg"], {**common, "tags": tags(spec, seg)}))
        resources.append(Resource(NSG, n["nsg"], {
            **common,
            "securityRules": security_rules(spec, by_segment.get(seg, []), intent),
            "tags": tags(spec, seg),
        }))
        exports[seg] = {"applicationSecurityGroupId": ref(n["asg"]), "networkSecurityGroupId": ref(n["nsg"])}
        if settings.network_mode and segment.cidrs:
            resources.append(Resource(SUBNET, n["subnet"], {
                "resourceGroupName": settings.resource_group_name,
                "virtualNetworkName": ref(spec, "name"),
                "addressPrefixes": [str(c) for c in segment.cidrs],
                "networkSecurityGroup": {"id": ref(n["nsg"])},
                **SUBNET_DEFAULTS,
            }))
            exports[seg]["subnetId"] = ref(n["subnet"])
    return Plan(spec=spec, provider=provider, resources=ordered(resources), implied=implied,
                exports=exports)


def security_rules(spec: str, rules: list[Rule], intent: Intent) -> list[dict[str, Any]]:
    """The NSG's `securityRules`: allows by priority per direction, each direction
    ending with its deny-all."""
    out: list[dict[str, Any]] = []
    flows = intent.flows_by_key
    for direction in (INBOUND, OUTBOUND):
        mine = sorted((r for r in rules if r.direction == direction), key=lambda r: r.name)
        prio = priorities(r.name for r in mine)
        records = [_rule(spec, r, prio[r.name], flows) for r in mine]
        records.sort(key=lambda rec: rec["priority"])
        out.extend(records)
        way = "in" if direction == INBOUND else "out"
        out.append({
            "name": f"deny-all-{way}",
            "priority": DENY_ALL_PRIORITY,
            "direction": direction,
            "access": DENY,
            "protocol": ANY,
            "sourceAddressPrefix": ANY,
            "sourcePortRange": ANY,
            "destinationAddressPrefix": ANY,
            "destinationPortRange": ANY,
            "description": f"{spec}: only the spec's flows pass",
        })
    return out


def _port_ranges(ports: IntervalSet) -> dict[str, Any]:
    if ports == FULL:
        return {"destinationPortRange": ANY}
    return {"destinationPortRanges": [format_interval(lo, hi) for lo, hi in ports]}


def _peer(r: Rule, spec: str) -> dict[str, Any]:
    if r.peer_kind == SEGMENT:
        return {"ApplicationSecurityGroups": [{"id": ref(names(spec, r.peer)["asg"])}]}
    if r.peer_kind == LOAD_BALANCER_PEER:
        return {"AddressPrefix": LOAD_BALANCER_TAG}
    if r.peer_kind == TAG_PEER:
        return {"AddressPrefix": r.tag}
    assert r.peer_kind == PREFIXES
    return {"AddressPrefixes": [str(c) for c in r.prefixes]}


def _rule(spec: str, r: Rule, priority: int, flows: dict[str, Flow]) -> dict[str, Any]:
    mine = {"ApplicationSecurityGroups": [{"id": ref(names(spec, r.segment)["asg"])}]}
    source, destination = (_peer(r, spec), mine) if r.direction == INBOUND else (mine, _peer(r, spec))
    ports = FULL if r.protocol in ("any", "icmp") else r.ports
    return {
        "name": r.name,
        "priority": priority,
        "direction": r.direction,
        "access": ALLOW,
        "protocol": PROTOCOL[r.protocol],
        **{f"source{k}": v for k, v in source.items()},
        "sourcePortRange": ANY,
        **{f"destination{k}": v for k, v in destination.items()},
        **_port_ranges(ports),
        "description": _description(spec, r.flows, flows),
    }


def _description(spec: str, keys: Iterable[str], flows: dict[str, Flow]) -> str:
    parts = []
    for k in keys:
        f = flows.get(k)
        parts.append(k if f is None or not f.descriptions else f"{k} ({', '.join(f.descriptions)})")
    text = f"{spec}: " + "; ".join(parts)
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 3].rstrip() + "..."
