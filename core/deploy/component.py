"""The `Segmentation` component: the Pulumi layer of cloudfence, kept thin.

It reads the stack config (DESIGN section 4: `cloudfence:spec`, `cloudfence:providers`)
strictly, runs check and compile once per target, emits the records as its children,
and exports per segment what a workload attaches to join it. Every decision was made
before any resource exists.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from cloudfence.deploy.emitter import child_names, emit, resolve_exports
from cloudfence.errors import CloudfenceError, Problem
from cloudfence.intent import Intent, load_intent
from cloudfence.plan import Plan
from cloudfence.plugins import get_provider
from cloudfence.provider import Provider, checked_plan
from cloudfence.stackconfig import NAMESPACE, read_config


def stack_config() -> dict[str, Any]:
    """The stack's config as plain data: Pulumi hands every value over as text, objects as JSON."""
    raw = {**get_config_env(), **CONFIG.get()}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(f"{NAMESPACE}:") and key != f"{NAMESPACE}:spec" and isinstance(value, str):
            with contextlib.suppress(ValueError):  # else plain text
                value = json.loads(value)
        out[key] = value
    return out


class Segmentation(pulumi.ComponentResource):
    """One spec deployed on every target the stack config names (`cloudfence:providers`),
    or the `providers` mapping given here instead (one component per region or account)."""

    TYPE = "cloudfence:index:Segmentation"

    segments: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str | None = None,
        *,
        spec: str | None = None,
        intent: Intent | None = None,
        providers: Mapping[str, Mapping[str, Any] | None] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        try:
            intent, compiled = _plans(spec, intent, providers)
        except CloudfenceError as exc:
            # RunError shows the message without a Python traceback in `pulumi up`.
            raise pulumi.RunError(f"cloudfence: {exc}") from None
        self._register(name or intent.name, intent, compiled, opts)

    @classmethod
    def from_plans(cls, name: str, intent: Intent, compiled: list[tuple[Provider, Plan]],
                   opts: pulumi.ResourceOptions | None = None) -> Segmentation:
        """The component for plans already checked and compiled (`checked_plan`), so a caller
        that has them (`plan --via-pulumi`) registers them without compiling them again."""
        self = cls.__new__(cls)
        self._register(name, intent, compiled, opts)
        return self

    def _register(self, name: str, intent: Intent, compiled: list[tuple[Provider, Plan]],
                  opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        exports: dict[str, dict[str, Any]] = {seg: {} for seg in intent.segments}
        try:
            for plugin, plan in compiled:
                created = emit(plan, plugin, self, child_names(plan, name))
                for seg, values in resolve_exports(plan, created).items():
                    exports.setdefault(seg, {}).update(values)
        except CloudfenceError as exc:
            raise pulumi.RunError(f"cloudfence: {exc}") from None
        self.segments = pulumi.Output.from_input(exports)
        self.register_outputs({"segments": self.segments})


def _plans(spec: str | None, intent: Intent | None, providers: Mapping[str, Mapping[str, Any] | None] | None,
           ) -> tuple[Intent, list[tuple[Provider, Plan]]]:
    stack = read_config(stack_config())
    if intent is None:
        spec_path = spec or stack.spec
        if not spec_path:
            raise CloudfenceError(Problem(f"config.{NAMESPACE}:spec", "missing: name the spec file "
                                          "(pulumi config set cloudfence:spec segments.yaml) or pass "
                                          "spec= to Segmentation", stack.where))
        intent = load_intent(Path(spec_path))
    chosen = {k: dict(v or {}) for k, v in providers.items()} if providers is not None else stack.providers
    if not chosen:
        raise CloudfenceError(Problem(f"config.{NAMESPACE}:providers", "missing: name the targets, e.g. "
                                      "cloudfence:providers: {<provider>: {<setting>: <value>}}, or pass "
                                      "providers= to Segmentation", stack.where))
    compiled = []
    for target, settings in chosen.items():
        plugin = get_provider(target)
        compiled.append((plugin, checked_plan(plugin, intent, settings)))
    return intent, compiled
