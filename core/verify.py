"""Prove, per target, that a plan allows exactly what the intent says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudfence.intent import Intent
from cloudfence.plan import Plan
from cloudfence.provider import Provider, checked_plan
from cloudfence.reach import Verdict, World, compare, intended


def verify_plan(intent: Intent, provider: Provider, plan: Plan) -> Verdict:
    governed = provider.governs(intent)
    actual = provider.evaluate(plan, intent)
    expected = intended(intent, governed, plan.implied)
    world = World(intent, extra_platform=[ep.name for f in plan.implied for ep in (f.src, f.dst)
                                          if ep.kind == "platform"])
    not_governed = [str(f) for f in intent.flows
                    if not any(ep.is_segment and ep.name in governed for ep in (f.src, f.dst))]
    return compare(intent, expected, actual, world, implied=[str(f) for f in plan.implied],
                   not_governed=not_governed)


def verify(intent: Intent, provider: Provider, settings: Mapping[str, Any] | None = None) -> Verdict:
    settings = settings or {}
    return verify_plan(intent, provider, checked_plan(provider, intent, settings))
