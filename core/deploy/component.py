"""The `Segmentation` component: the Pulumi layer of cloudfence, kept thin.

It reads the stack config (DESIGN section 4), runs check and compile, emits
the records, and exports per segment what a workload attaches to join it.
Every decision was made before any resource exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from cloudfence.deploy.emitter import emit, resolve_exports
from cloudfence.errors import CloudfenceError
from cloudfence.intent import Intent, load_intent
from cloudfence.plugins import get_provider
from cloudfence.provider import checked_plan

KUBERNETES = "kubernetes"


class Segmentation(pulumi.ComponentResource):
    """One spec deployed on the provider chosen in stack config (plus, with
    `cloudfence:kubernetes: true`, the shared NetworkPolicies)."""

    TYPE = "cloudfence:index:Segmentation"

    segments: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str | None = None,
        *,
        spec: str | None = None,
        intent: Intent | None = None,
        provider: str | None = None,
        settings: Mapping[str, Any] | None = None,
        kubernetes: bool | None = None,
        kubernetes_settings: Mapping[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        cfg = pulumi.Config("cloudfence")
        try:
            if intent is None:
                spec_path = spec or cfg.require("spec")
                intent = load_intent(Path(spec_path))
            provider_name = provider or cfg.require("provider")
            if settings is None:
                settings = cfg.get_object("settings") or {}
            if kubernetes is None:
                kubernetes = bool(cfg.get_bool("kubernetes"))
            if kubernetes_settings is None:
                kubernetes_settings = cfg.get_object("kubernetesSettings") or {}
            targets: list[tuple[str, Mapping[str, Any]]] = [(provider_name, settings)]
            if kubernetes and provider_name != KUBERNETES:
                targets.append((KUBERNETES, kubernetes_settings))
            compiled = []
            for target, target_settings in targets:
                plugin = get_provider(target)
                compiled.append((plugin, checked_plan(plugin, intent, target_settings)))
        except CloudfenceError as exc:
            # RunError shows the message without a Python traceback in `pulumi up`.
            raise pulumi.RunError(f"cloudfence: {exc}") from None

        super().__init__(self.TYPE, name or intent.name, None, opts)
        exports: dict[str, dict[str, Any]] = {seg: {} for seg in intent.segments}
        for plugin, plan in compiled:
            created = emit(plan, plugin, self)
            for seg, values in resolve_exports(plan, created).items():
                exports.setdefault(seg, {}).update(values)
        self.segments = pulumi.Output.from_input(exports)
        self.register_outputs({"segments": self.segments})
