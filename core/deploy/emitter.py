"""Register plan records through the providers' real SDK classes.

The emitter makes no decision: each record becomes one SDK call whose
top-level arguments are the wire names in snake_case, nested values passed
as written, and `${name.output}` strings replaced by the named resource's
output. So what Pulumi registers is the plan, which tests check under mocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pulumi

from cloudfence.plan import REF, Plan
from cloudfence.provider import Provider, checked_plan

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def _resolve(value: Any, created: Mapping[str, pulumi.Resource]) -> Any:
    if isinstance(value, str):
        m = REF.match(value)
        if m:
            return getattr(created[m.group("name")], m.group("output"))
        return value
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    return value


def emit(plan: Plan, provider: Provider, parent: pulumi.Resource) -> dict[str, pulumi.Resource]:
    """Create every record of the plan as a child of `parent`; returns them by logical name."""
    created: dict[str, pulumi.Resource] = {}
    for record in plan.resources:  # ordered: references point backwards
        cls = provider.sdk_class(record.type)
        kwargs = {snake(k): _resolve(v, created) for k, v in record.inputs.items()}
        created[record.name] = cls(record.name, **kwargs, opts=pulumi.ResourceOptions(parent=parent))
    return created


def resolve_exports(plan: Plan, created: Mapping[str, pulumi.Resource]) -> dict[str, dict[str, Any]]:
    return {seg: {k: _resolve(v, created) for k, v in values.items()}
            for seg, values in plan.exports.items()}


def registered_plan(intent: Any, provider: Provider, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Run the emitter under the mock runtime and return what was registered,
    in the plan JSON shape, so it can be compared with `plan` byte for byte."""
    from cloudfence.deploy.component import Segmentation
    from cloudfence.deploy.engine import run_program
    from cloudfence.plan import Resource

    plan = checked_plan(provider, intent, settings)

    def program() -> None:
        Segmentation(intent.name, intent=intent, provider=provider.name, settings=dict(settings),
                     kubernetes=False)

    result = run_program(program, project=intent.name, stack=provider.name)
    order = {r.name: i for i, r in enumerate(plan.resources)}
    children = [r for r in result.resources if r.type != Segmentation.TYPE]
    children.sort(key=lambda r: (order.get(r.name, len(order)), r.type, r.name))
    return {
        "spec": intent.name,
        "provider": provider.name,
        "resources": [Resource(r.type, r.name, r.inputs).to_json() for r in children],
        "settings": plan.settings,
    }
