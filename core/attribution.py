"""Which records say what: the rules each plan record contributes, and which
inputs differ between two versions of a record.

`query` must name the records that allow a connection, and `diff` the inputs
that changed, for every provider, including plugins the core has never seen.
Both are read from plan records through the provider's own `evaluate`, so no
provider has to describe its rules twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from cloudfence.errors import CloudfenceError
from cloudfence.intent import Intent
from cloudfence.plan import Plan, Resource, ordered
from cloudfence.ports import PortSet
from cloudfence.reachability import EGRESS, INGRESS, Peer, Reachability

if TYPE_CHECKING:
    from cloudfence.provider import Provider


class RecordRule(NamedTuple):
    """One rule a record puts on one end: who it names, on which ports."""

    end: str
    direction: str
    layer: str
    peer: Peer
    ports: PortSet


def rules_of(reach: Reachability) -> set[RecordRule]:
    out: set[RecordRule] = set()
    for end in reach.ends:
        for layer in reach.layers_of(end):
            for direction in (EGRESS, INGRESS):
                out.update(RecordRule(end, direction, layer, peer, ports)
                           for peer, ports in reach.rules(end, direction, layer))
    return out


def _closure(record: Resource, by_name: Mapping[str, Resource]) -> list[Resource] | None:
    """What a record references, transitively (None: a reference leaves the plan)."""
    seen: dict[str, Resource] = {}
    todo = sorted(set(record.refs.values()))
    while todo:
        name = todo.pop()
        if name in seen or name == record.name:
            continue
        if name not in by_name:
            return None
        seen[name] = by_name[name]
        todo.extend(sorted(set(by_name[name].refs.values())))
    return list(seen.values())


def isolated_rules(provider: Provider, plan: Plan, intent: Intent) -> dict[str, list[RecordRule]]:
    """Per record, the rules the provider reads from it: evaluated beside what it
    references, less what those references alone allow. The difference matters on
    targets where an unselected end is open (a pod no NetworkPolicy selects), so the
    baseline's openness is never credited to the record.

    A record whose rules only mean something together with records it does not
    reference (a stateless ACL entry and the entry for its replies) contributes
    nothing here; such a provider overrides `record_rules`."""
    by_name = {r.name: r for r in plan.resources}
    baselines: dict[frozenset[str], set[RecordRule]] = {}
    out: dict[str, list[RecordRule]] = {}

    def evaluate(records: Iterable[Resource]) -> set[RecordRule] | None:
        try:
            part = dataclasses.replace(plan, resources=ordered(records))
            return rules_of(provider.evaluate(part, intent))
        except (KeyError, ValueError, TypeError, CloudfenceError):
            # A partial plan the evaluator cannot read, or refuses (routing checked against
            # flows whose records are left out): no attribution for it.
            return None

    for record in plan.resources:
        closure = _closure(record, by_name)
        if closure is None:
            continue
        key = frozenset(r.name for r in closure)
        if key not in baselines:
            baselines[key] = evaluate(closure) or set()
        rules = evaluate([*closure, record])
        if not rules:
            continue
        added = sorted(rules - baselines[key], key=_rule_key)
        if added:
            out[record.name] = added
    return out


def _rule_key(rule: RecordRule) -> tuple[str, str, str, str]:
    return rule.end, rule.direction, rule.layer, repr(rule.peer)


def changed_inputs(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths of the inputs that differ: mappings are opened, a list that
    differs is one change (its order is part of its meaning on most targets)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                out.append(sub)
            else:
                out += changed_inputs(old[key], new[key], sub)
        return out
    return [] if old == new else [path]
