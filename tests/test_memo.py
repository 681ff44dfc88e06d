"""A check and its compile derive a provider's rules once, and nothing else is
ever answered from memory: other objects, even equal ones, are computed afresh."""

from __future__ import annotations

from typing import Any

import pytest

from cloudfence.intent import parse_intent
from cloudfence.memo import KEEP, remembered
from cloudfence.plugins import providers
from cloudfence.provider import checked_plan, validated

SPEC = """
version: 1
name: memo
segments:
  gateway: {cidr: 10.0.1.0/24}
  inference: {cidr: 10.0.2.0/24}
flows:
  - {from: gateway, to: inference, ports: [tcp/443]}
  - {from: inference, to: internet, ports: [tcp/443]}
"""


def test_the_same_objects_are_answered_from_memory_and_equal_ones_are_not() -> None:
    calls: list[tuple[Any, ...]] = []

    @remembered
    def f(a: list[int], b: str) -> list[int]:
        calls.append((a, b))
        return [*a, len(b)]

    x = [1]
    first = f(x, "s")
    assert f(x, "s") is first and len(calls) == 1
    assert f([1], "s") == first and len(calls) == 2  # equal, but another object
    assert f(x, b="s") == first and len(calls) == 3  # by keyword: not remembered
    others = [[i] for i in range(KEEP)]
    for o in others:
        f(o, "s")
    f(x, "s")
    assert len(calls) == 3 + KEEP + 1  # x fell out of the last KEEP calls


RULES = {"aws": ("cloudfence.providers.aws.layout", "segment_rules"),
         "azure": ("cloudfence.providers.azure.compile", "segment_rules"),
         "gcp": ("cloudfence.providers.gcp.rules", "_egress")}
SETTINGS: dict[str, dict[str, Any]] = {
    "aws": {"vpcId": "vpc-0abc1234def567890", "vpcCidrs": ["10.0.0.0/16"]},
    "azure": {"resourceGroupName": "rg", "location": "westeurope"},
    "gcp": {"network": "net", "project": "my-project-123"}}


@pytest.mark.parametrize("name", sorted(RULES))
def test_check_and_compile_derive_the_rules_once(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module_name, function = RULES[name]
    module = importlib.import_module(module_name)
    real = getattr(module, function)
    calls = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, function, counting)
    intent = parse_intent(SPEC)
    provider = providers()[name]
    plan = checked_plan(provider, intent, SETTINGS[name])
    once = len(calls)
    assert once >= 1 and plan.resources
    provider.compile(parse_intent(SPEC), validated(provider, SETTINGS[name]))  # other objects: again
    assert len(calls) == 2 * once


def test_settings_changed_in_place_are_derived_again() -> None:
    """A settings model is frozen only at its top level: a probe list changed in place
    must reach the next compile, never the remembered rules of the old one."""
    provider = providers()["azure"]
    intent = parse_intent(SPEC)
    settings = validated(provider, {**SETTINGS["azure"], "loadBalancerProbes": {"inference": ["tcp/8080"]}})
    first = checked_plan(provider, intent, settings)
    settings.load_balancer_probes["inference"][:] = ["tcp/9090"]  # type: ignore[index]
    second = checked_plan(provider, intent, settings)
    assert "8080" in first.dumps() and "8080" not in second.dumps() and "9090" in second.dumps()


def test_a_value_is_read_once_and_values_that_only_compare_equal_are_read_apart() -> None:
    from cloudfence.memo import PerValue

    reads: list[object] = []

    def read(value: object) -> str:
        reads.append(value)
        return f"read {value!r}"

    once = PerValue(read)
    assert once([1, "a"]) == "read [1, 'a']" and once([1, "a"]) == "read [1, 'a']"
    assert [once(v) for v in (1, True, "1", 1.0, (1,), [1])] == [
        "read 1", "read True", "read '1'", "read 1.0", "read (1,)", "read [1]"]
    assert reads == [[1, "a"], 1, True, "1", 1.0, (1,), [1]]


def test_a_call_by_keyword_is_not_taken_for_a_positional_call_that_spells_the_same() -> None:
    from cloudfence.memo import PerValue

    def read(*args: object, **kwargs: object) -> tuple[object, object]:
        return args, kwargs

    once = PerValue(read)
    assert once((1,), {"a": 1}) == (((1,), {"a": 1}), {})
    assert once(1, a=1) == ((1,), {"a": 1})
    assert once((1,), {"a": 1}) == (((1,), {"a": 1}), {})
