"""Pod segments on a cloud whose firewall sees only nodes (GCP, Azure).

A pod there carries its node's cloud identity (GCP: the node VM's network tags or
service account, its pod addresses being alias ranges of the node's interface;
Azure: the node NIC's application security groups and subnet NSG). So a pod
segment's cloud rules apply to every pod on the nodes of its node pool, and traffic
between pods on one node never reaches the cloud's firewall. Only a node pool of its
own per pod segment lets the cloud separate them: `nodePools` maps each pod segment
to its pool, and check refuses a pool that two pod segments share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator

from cloudfence.errors import Problem, did_you_mean
from cloudfence.intent import Intent
from cloudfence.pods import pod_segments

SETTING = "nodePools"
POOL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # GKE and AKS pool names fit


def _pools(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of pod segment to the node pool its pods run on, e.g. "
                         "{gateway: gateway-pool, inference: gpu-pool}")
    for seg, pool in value.items():
        if not isinstance(pool, str):
            raise ValueError(f"{seg}: expected the name of a node pool, got "
                             f"{'nothing' if pool is None else 'a ' + type(pool).__name__}: write it "
                             "as text, such as gpu-pool")
        if not POOL.match(pool):
            raise ValueError(f"{seg}: {pool!r} is not a node pool name: write lowercase letters, digits "
                             "and hyphens, such as gpu-pool")
    return dict(value)


NodePools = Annotated[dict[str, str] | None, BeforeValidator(_pools)]

DESCRIPTION = ("pod segment -> the node pool its pods run on: pods carry their node's cloud identity, so "
               "each pod segment needs a node pool of its own (check refuses a shared one)")


def node_pool_problems(intent: Intent, pools: Mapping[str, str] | None, carries: str) -> list[Problem]:
    """Each listed segment is a pod segment, every pod segment is listed, and no two share a
    pool: the cloud firewall cannot tell apart pods on the same nodes."""
    if pools is None:
        return []  # not given: verify assumes a node pool of its own per pod segment
    pods = sorted(pod_segments(intent))
    out = []
    for seg in sorted(pools):
        where = f"settings.{SETTING}.{seg}"
        if seg not in intent.segments:
            out.append(Problem(where, f"no segment is named {seg!r}{did_you_mean(seg, pods)}: list the "
                               "pod segments (those with a kubernetes block)"))
        elif seg not in pods:
            out.append(Problem(where, f"'{seg}' has no kubernetes block, so no pods: remove it, or give "
                               "the segment `kubernetes: {namespace, labels}`"))
    for seg in pods:
        if seg not in pools:
            out.append(Problem(f"settings.{SETTING}", f"pod segment '{seg}' is not listed: give the node "
                               f"pool its pods run on (its nodes carry the segment's {carries})"))
    owner: dict[str, str] = {}
    for seg in sorted(s for s in pools if s in pods):
        first = owner.setdefault(pools[seg], seg)
        if first != seg:
            out.append(Problem(f"settings.{SETTING}.{seg}", (
                f"pod segments '{first}' and '{seg}' share node pool {pools[seg]}: pods carry their "
                f"node's {carries}, so the cloud firewall cannot separate them; give each pod segment "
                "a node pool of its own, or rely on the kubernetes provider's NetworkPolicies "
                "between them")))
    return out


def node_pool_assumptions(intent: Intent, pools: Mapping[str, Any] | None, carries: str) -> list[str]:
    """What a verdict on pod segments rests on where the cloud sees only nodes."""
    pods = sorted(pod_segments(intent))
    if not pods:
        return []
    where = ("each pod segment runs on a node pool of its own "
             f"(settings.{SETTING} says which; none given: {', '.join(pods)})" if not pools else
             "pod segments run on the node pools of settings.nodePools ("
             + ", ".join(f"{s} on {pools.get(s)}" for s in pods) + ")")
    return [f"{where}, whose nodes carry the segment's {carries} and run no other pods: a pod segment's "
            "cloud rules apply to every pod on those nodes, and traffic between pods on one node "
            "never reaches the cloud firewall"]
