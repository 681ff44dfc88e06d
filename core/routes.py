"""What flows need beyond filters to carry traffic: which segments reach public space
and which reach `@object-storage`. Providers create the routes and gateways for them in
network mode, or list them in the plan as what the user brings (`Plan.requires`)."""

from __future__ import annotations

from dataclasses import dataclass

from cloudfence.addresses import PUBLIC
from cloudfence.endpoints import LOAD_BALANCER, OBJECT_STORAGE
from cloudfence.intent import Intent
from cloudfence.space import Space


@dataclass(frozen=True)
class Needs:
    """What the flows need routed: segments that reach public space, segments that
    reach `@object-storage`, and whether `@load-balancer` meets public space."""

    internet: tuple[str, ...] = ()
    storage: tuple[str, ...] = ()
    balancer: bool = False

    @property
    def any(self) -> bool:
        return bool(self.internet or self.storage)


def needs(intent: Intent, space: Space) -> Needs:
    internet: set[str] = set()
    storage: set[str] = set()
    balancer = False
    for flow in intent.flows:
        for end, other in ((flow.src, flow.dst), (flow.dst, flow.src)):
            public = other.kind == "network" and bool(space.network(other.name) & PUBLIC)
            if public and end.is_segment:
                internet.add(end.name)
            balancer = balancer or (public and end.name == LOAD_BALANCER)
            if end.is_segment and other.name == OBJECT_STORAGE:
                storage.add(end.name)
    return Needs(tuple(sorted(internet)), tuple(sorted(storage)), balancer)


def reaching_object_storage(intent: Intent) -> set[str]:
    """Segments with a flow to or from `@object-storage` (what `needs` says, without a space)."""
    return {end.name for flow in intent.flows for end, other in ((flow.src, flow.dst), (flow.dst, flow.src))
            if end.is_segment and other.name == OBJECT_STORAGE}


def names(segments: list[str] | tuple[str, ...]) -> str:
    """'a', 'b': segment names as messages quote them."""
    return ", ".join(f"'{s}'" for s in segments)
