"""Any settings value gives check problems naming `settings.<key>`, or a plan:
never an exception (settings come from stack config and --set, so from users)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.intent import load_intent
from cloudfence.plugins import providers
from cloudfence.provider import checked_plan, find_problems
from cloudfence.settings import describe

EXAMPLE = load_intent(Path(__file__).resolve().parents[1] / "stacks" / "ai-inference" / "segments.yaml")
BUILT_IN = [p for p in ("aws", "kubernetes") if p in providers()]

values = st.one_of(st.none(), st.booleans(), st.integers(-2, 100), st.text(max_size=12),
                   st.sampled_from(["vpc-0abc1234", "10.20.0.0/16", "us-east-1", "true", "10.0.0.0/8"]),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                         max_size=2))


@pytest.mark.parametrize("name", BUILT_IN)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_settings_give_problems_or_a_plan(name: str, data: st.DataObject) -> None:
    provider = providers()[name]
    keys = [f["key"] for f in describe(provider.settings_model)] + ["bogus"]
    chosen = data.draw(st.dictionaries(st.sampled_from(keys), values, max_size=4))
    problems = find_problems(provider, EXAMPLE, chosen)
    if problems:
        assert all(p.where.startswith(("settings", "segments", "flows")) for p in problems), problems
    else:
        assert checked_plan(provider, EXAMPLE, chosen).resources
