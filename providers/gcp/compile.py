"""Intent -> GCP plan records: firewall rules on the network from settings or
the one cloudfence creates (with a subnetwork per segment IPv4 cidr), and per
segment the identity its workloads attach.

Pure data; the emitter turns records into pulumi_gcp resources. Names leave
room for Pulumi's 8-character auto-name suffix, so firewall rules and
subnetworks are replaced create-before-delete, never with a window in which
a deny is missing.
"""

from __future__ import annotations

from typing import Any

from cloudfence.intent import Flow, Intent
from cloudfence.names import cidr_label, unique
from cloudfence.plan import Plan, Resource, ordered, ref
from cloudfence.ports import FULL, PortSet, format_interval
from cloudfence.providers.gcp.access import google_access, requirements
from cloudfence.providers.gcp.identity import identities
from cloudfence.providers.gcp.network import subnetworks
from cloudfence.providers.gcp.rules import Rule, firewall_rules
from cloudfence.providers.gcp.settings import GcpSettings
from cloudfence.providers.gcp.wire import ALL, FIREWALL, INGRESS, NETWORK, PORTED, PROTOCOL, SUBNETWORK
from cloudfence.routes import needs
from cloudfence.space import space_for

NAME_LIMIT = 55  # GCP names are 63 characters; Pulumi appends 8


def compile_plan(intent: Intent, settings: GcpSettings, provider: str = "gcp") -> Plan:
    spec = intent.name
    ids = identities(intent, settings)
    resources: list[Resource] = []
    reserved: set[str] = set()
    common = {"project": settings.project} if settings.project else {}
    wanted = needs(intent, space_for(intent, settings))

    if settings.network_mode:
        reserved.add(spec)
        resources.append(Resource(NETWORK, spec, {
            "autoCreateSubnetworks": False,
            "description": f"cloudfence {spec}: one subnetwork per segment",
            **common,
        }))
    network = settings.network or ref(spec)

    subnets = subnetworks(intent) if settings.network_mode else {}
    subnet_name = unique([(f"subnet|{seg}|{c}", f"{spec}-{seg}" + (f"-{cidr_label(c)}" if len(cidrs) > 1
                                                                    else ""))
                          for seg, cidrs in subnets.items() for c in cidrs], reserved, NAME_LIMIT)
    reserved |= set(subnet_name.values())

    exports: dict[str, dict[str, Any]] = {}
    for seg in intent.segments:
        exports[seg] = {ids[seg].kind: ids[seg].value, "network": network}
        refs = []
        for c in subnets.get(seg, []):
            name = subnet_name[f"subnet|{seg}|{c}"]
            refs.append(ref(name))
            resources.append(Resource(SUBNETWORK, name, {
                "network": network,
                "ipCidrRange": str(c),
                "region": settings.region,
                "description": f"cloudfence {spec}: segment {seg}",
                **google_access(wanted, seg),
                **common,
            }))
        if refs:
            exports[seg]["subnetwork"] = refs[0]
            exports[seg]["subnetworks"] = refs

    rules = firewall_rules(intent, settings, ids)
    names = unique([(r.key, rule_base(spec, r)) for r in rules], reserved, NAME_LIMIT)
    flows = intent.flows_by_key
    for r in rules:
        resources.append(Resource(FIREWALL, names[r.key], {
            "network": network,
            **rule_inputs(r, ids[r.segment].target_key, ids[r.segment].value, settings.priority),
            "description": _description(spec, r, flows),
            **common,
        }))
    return Plan(spec=spec, provider=provider, resources=ordered(resources), exports=exports,
                requires=tuple(requirements(intent, wanted, settings)))


def rule_base(spec: str, r: Rule) -> str:
    """<spec>-<segment>-in-<peer>, -out-<peer>, -deny-in, -deny-out; -v6 for IPv6 ranges."""
    way = "in" if r.direction == INGRESS else "out"
    fam = "-v6" if r.family == 6 else ""
    if not r.allow:
        return f"{spec}-{r.segment}-deny-{way}{fam}"
    part = f"-{r.part + 1}" if r.part else ""
    return f"{spec}-{r.segment}-{way}-{r.peer.lstrip('@')}{fam}{part}"


def wire_ports(ports: PortSet, family: int | None) -> list[dict[str, Any]]:
    """`allows`/`denies` entries: one per protocol, its ports as "443" or "8000-8002"."""
    if ports.is_any():
        return [{"protocol": ALL}]
    out: list[dict[str, Any]] = []
    for proto, ivs in ports.items():
        if (proto == "icmp" and family == 6) or (proto == "icmpv6" and family == 4):
            continue  # cannot match a packet of this rule's family
        entry: dict[str, Any] = {"protocol": PROTOCOL[proto]}
        if proto in PORTED and ivs != FULL:
            entry["ports"] = [format_interval(lo, hi) for lo, hi in ivs]
        out.append(entry)
    return out


def rule_inputs(r: Rule, target_key: str, target: str, priority: int) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "direction": r.direction,
        "priority": priority if r.allow else priority + 1,
        "allows" if r.allow else "denies": wire_ports(r.ports, r.family),
        target_key: [target],
    }
    if r.source is not None:
        inputs[r.source.source_key] = [r.source.value]
    else:
        inputs["sourceRanges" if r.direction == INGRESS else "destinationRanges"] = [str(c) for c in r.ranges]
    return inputs


def _description(spec: str, r: Rule, flows: dict[str, Flow]) -> str:
    if not r.allow:
        return f"cloudfence {spec}: default deny for segment {r.segment}"
    texts = []
    for key in r.flows:
        flow = flows[key]
        text = f"{flow.src} to {flow.dst}"
        texts.append(f"{text} ({', '.join(flow.descriptions)})" if flow.descriptions else text)
    return (f"cloudfence {spec}: " + "; ".join(texts))[:2048]  # the API limit
