"""Register plan records through the providers' real SDK classes.

The emitter makes no decision: each record becomes one SDK call whose
top-level arguments are the wire names in snake_case, nested values passed
as written, and `${name.output}` strings replaced by the named resource's
output. So what Pulumi registers is the plan, which tests check under mocks.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import pulumi

from cloudfence.plan import REF, Plan
from cloudfence.provider import Provider, checked_plan, sdk_class

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def _resolve(value: Any, created: Mapping[str, pulumi.Resource]) -> Any:
    if isinstance(value, str):
        m = REF.match(value)
        if m:
            return getattr(created[m.group("name")], snake(m.group("output")))
        return value
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    return value


def child_names(plan: Plan, component: str) -> dict[str, str]:
    """Logical names under a component: the plan's names (which start with the spec's name)
    with that prefix replaced by the component's name, so two components never clash and a
    component named like its spec registers exactly the plan's names."""
    out = {}
    for r in plan.resources:
        if component == plan.spec:
            out[r.name] = r.name
        elif r.name == plan.spec or r.name.startswith(f"{plan.spec}-"):
            out[r.name] = component + r.name[len(plan.spec):]
        else:
            out[r.name] = f"{component}-{r.name}"
    return out


def emit(plan: Plan, provider: Provider, parent: pulumi.Resource,
         names: Mapping[str, str] | None = None) -> dict[str, pulumi.Resource]:
    """Create every record of the plan as a child of `parent` (so the parent's resource
    options, explicit providers and protect, reach it); returns them by plan name."""
    classes = {t: sdk_class(provider, t) for t in dict.fromkeys(r.type for r in plan.resources)}
    created: dict[str, pulumi.Resource] = {}
    for record in plan.resources:  # ordered: references point backwards
        kwargs = {snake(k): _resolve(v, created) for k, v in record.inputs.items()}
        name = names.get(record.name, record.name) if names else record.name
        opts = pulumi.ResourceOptions(parent=parent)
        created[record.name] = classes[record.type](name, **kwargs, opts=opts)
    return created


def resolve_exports(plan: Plan, created: Mapping[str, pulumi.Resource]) -> dict[str, dict[str, Any]]:
    return {seg: {k: _resolve(v, created) for k, v in values.items()}
            for seg, values in plan.exports.items()}


def require_sdk(provider: Provider, plan: Plan) -> None:
    """Every record type must have an SDK class before anything runs: a missing SDK
    names the extra to install, rather than failing inside the mock engine."""
    for token in sorted({r.type for r in plan.resources}):
        sdk_class(provider, token)


def registered_plan(intent: Any, provider: Provider, settings: Mapping[str, Any],
                    plan: Plan | None = None) -> dict[str, Any]:
    """Run the emitter under the mock runtime and return what was registered,
    in the plan JSON shape, so it can be compared with `plan` byte for byte.
    `plan`: what `checked_plan` made of these arguments, when the caller has it already."""
    from cloudfence.deploy.component import Segmentation
    from cloudfence.deploy.engine import run_program
    from cloudfence.plan import Resource

    if plan is None:
        plan = checked_plan(provider, intent, settings)
    require_sdk(provider, plan)
    compiled = [(provider, plan)]

    def program() -> None:
        Segmentation.from_plans(intent.name, intent, compiled)

    result = run_program(program, project=intent.name, stack=provider.name)
    order = {r.name: i for i, r in enumerate(plan.resources)}
    children = [r for r in result.resources if r.type != Segmentation.TYPE]
    children.sort(key=lambda r: (order.get(r.name, len(order)), r.type, r.name))
    # The records are what registered; the rest of the document is the plan's own.
    registered = tuple(Resource(r.type, r.name, r.inputs) for r in children)
    return dataclasses.replace(plan, resources=registered).to_json()
