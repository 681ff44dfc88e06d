"""The conformance kit (DESIGN section 5): checks any provider package runs in its
own tests, over a corpus of small specs shipped with cloudfence.

    from cloudfence.testing import Conformance

    kit = Conformance(MyProvider(), settings_for=lambda case: {"resourceGroup": "rg-test"})
    assert kit.run_all() == []            # or parametrize over kit.checks() in pytest

The checks:

- `sound(case)`: the provider's check refuses the case with problems that each name
  a flow, a segment, a network or a setting, or the checked plan verifies
  equivalent; an exception is a failure either way.
- `deterministic()`: every case compiled in two fresh interpreters with different
  PYTHONHASHSEED, and in this one, gives byte-identical plan JSON.
- `stable_names(case)`: giving one flow other ports changes only records whose
  logical name carries a name of that flow's sources or destinations; every other
  record keeps its name and its inputs.
- `mutations(case)`: each record dropped (if nothing references it) and each CIDR
  or port range widened; a mutant counts when an independent packet-level judge
  (`cloudfence.testing.packets`) finds a concrete packet it surely allows or
  refuses against the spec's flows, and verify must then say not equivalent.
  Mutants that change no connection are discarded. A case whose drops all change
  nothing fails too: the evaluator is not reading the records.

`sound_text(text, settings)` is `sound` for any spec text, for property tests over
random specs; `deep_run()` says whether CLOUDFENCE_CONFORMANCE_DEEP asks for the deep run.

Nothing here imports pytest (the kit is plain functions that raise
`ConformanceFailure`, an AssertionError); `pip install 'cloudfence[testing]'`
brings pytest for the tests that parametrize over `checks()`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from importlib import resources
from typing import Any

import yaml

from cloudfence.errors import CheckError, Problem
from cloudfence.intent import Intent, parse_intent
from cloudfence.plan import Plan
from cloudfence.provider import Provider, checked_plan, find_problems, validated
from cloudfence.space import space_for
from cloudfence.testing.mutate import Mutant, mutants
from cloudfence.testing.packets import Judge, changed_ends
from cloudfence.verify import verify_plan

__all__ = ["Check", "Conformance", "ConformanceFailure", "MutationReport", "Outcome", "case_text", "cases",
           "deep_run"]

#: Where a refusal must point: a flow, a segment, a network or a setting.
PLACE = re.compile(r"^(flows\[\d+\]|segments\.|networks\.|settings\.)")
DEEP_ENV = "CLOUDFENCE_CONFORMANCE_DEEP"
DEFAULT_MUTANTS = 40  # per case, spread over the plan; all of them when deep
SEEDS = ("0", "4242")
SettingsFor = Callable[[str], Mapping[str, Any]]


class ConformanceFailure(AssertionError):
    """A provider broke the contract on one case; the message says how."""


def _corpus() -> Any:
    return resources.files("cloudfence.testing").joinpath("corpus")


@cache
def cases() -> tuple[str, ...]:
    """The corpus case names (each a spec with one feature, named for it)."""
    return tuple(sorted(p.name[:-5] for p in _corpus().iterdir() if p.name.endswith(".yaml")))


def case_text(case: str) -> str:
    if case not in cases():
        raise KeyError(f"no corpus case {case!r}: the cases are {', '.join(cases())}")
    return str(_corpus().joinpath(f"{case}.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Outcome:
    intent: Intent
    settings: Mapping[str, Any]
    problems: tuple[Problem, ...]
    plan: Plan | None


@dataclass
class MutationReport:
    case: str
    counted: list[str] = field(default_factory=list)  # mutants verify caught
    discarded: list[str] = field(default_factory=list)  # mutants that change no connection
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """One check on one case, for `pytest.mark.parametrize(..., ids=str)`."""

    id: str
    run: Callable[[], object]

    def __str__(self) -> str:
        return self.id


def deep_run() -> bool:
    """Whether CLOUDFENCE_CONFORMANCE_DEEP asks for the deep run (every mutant; a
    provider's property tests may draw more examples by it too)."""
    return os.environ.get(DEEP_ENV, "") not in ("", "0")


class Conformance:
    """The kit for one provider. `settings_for(case)` gives the raw settings per
    case (a resource group, a service account, a VPC's CIDRs); they must be JSON."""

    def __init__(self, provider: Provider, settings_for: SettingsFor | None = None, *,
                 deep: bool | None = None, max_mutants: int | None = None):
        self.provider = provider
        self.settings_for: SettingsFor = settings_for or (lambda case: {})
        self.deep = deep_run() if deep is None else deep
        self.max_mutants = max_mutants if max_mutants is not None else (0 if self.deep else DEFAULT_MUTANTS)
        self._outcomes: dict[str, Outcome] = {}

    @property
    def name(self) -> str:
        return self.provider.name

    def cases(self) -> tuple[str, ...]:
        return cases()

    # ------------------------------------------------------------ compiling

    def outcome(self, case: str, text: str | None = None,
                settings: Mapping[str, Any] | None = None) -> Outcome:
        """The case's intent, settings, and the problems or the checked plan; `text`
        and `settings` in place of the corpus case's own."""
        cached = text is None and settings is None
        if cached and case in self._outcomes:
            return self._outcomes[case]
        intent = parse_intent(text if text is not None else case_text(case), f"{case}.yaml")
        settings = dict(self.settings_for(case) if settings is None else settings)
        try:
            problems = tuple(find_problems(self.provider, intent, settings))
            plan = None if problems else checked_plan(self.provider, intent, settings)
        except CheckError as exc:  # compile may still refuse, with problems
            problems, plan = tuple(exc.problems), None
        except Exception as exc:
            why = f"raised {type(exc).__name__}: {exc} (refuse with problems instead)"
            raise self.fail(case, why) from exc
        result = Outcome(intent, settings, problems, plan)
        if cached:
            self._outcomes[case] = result
        return result

    def fail(self, case: str, message: str) -> ConformanceFailure:
        what = "corpus case" if case in cases() else "spec"
        return ConformanceFailure(f"{self.name} on {what} {case!r}: {message}")

    def golden(self, case: str) -> str:
        """The case's plan JSON, or the refusal as JSON: what a golden file holds."""
        out = self.outcome(case)
        if out.plan is not None:
            return out.plan.dumps() + "\n"
        doc = {"provider": self.name, "spec": out.intent.name, "refused": [str(p) for p in out.problems]}
        return json.dumps(doc, indent=2) + "\n"

    # ------------------------------------------------------------ the checks

    def sound(self, case: str) -> Plan | None:
        """Refused with placed problems, or equivalent. Returns the plan, if any."""
        return self._sound(case, self.outcome(case)).plan

    def sound_text(self, text: str, settings: Mapping[str, Any] | None = None, *,
                   label: str = "random-spec") -> Outcome:
        """`sound` for any spec text (a property test's random spec) under these raw
        settings (none by default). Returns the outcome, so that a test can demand more
        of the refusals: where exactly they point, which flows they name."""
        return self._sound(label, self.outcome(label, text, settings if settings is not None else {}))

    def _sound(self, case: str, out: Outcome) -> Outcome:
        for p in out.problems:
            if not PLACE.match(p.where):
                raise self.fail(case, f"a refusal must name a flow, segment, network or setting: {p}")
        if out.plan is None:
            return out
        try:
            verdict = verify_plan(out.intent, self.provider, out.plan)
        except Exception as exc:
            raise self.fail(case, f"verify raised {type(exc).__name__}: {exc}") from exc
        if not verdict.equivalent:
            shown = "; ".join(f"{c.kind} {c.source} -> {c.destination} {c.protocol} {c.ports}".rstrip()
                              + (f" ({c.note})" if c.note else "") for c in verdict.counterexamples[:5])
            raise self.fail(case, f"the plan is NOT equivalent ({verdict.total_differences} "
                                  f"differences): {shown}")
        return out

    def deterministic(self, only: Iterable[str] | None = None) -> None:
        """Byte-identical plans in this process and in fresh ones with other hash seeds."""
        chosen = tuple(only) if only is not None else cases()
        here = {c: self.golden(c) for c in chosen}
        jobs = {seed: self._start_elsewhere(seed, chosen) for seed in SEEDS}  # concurrently
        for seed, job in jobs.items():
            there = self._result(job)
            for case in chosen:
                if there.get(case) != here[case]:
                    raise self.fail(case, "the plan differs in a fresh interpreter with "
                                          f"PYTHONHASHSEED={seed}")

    def _start_elsewhere(self, seed: str, chosen: tuple[str, ...]) -> tuple[subprocess.Popen[str], str]:
        kind = type(self.provider)
        if kind.__module__ == "__main__":
            raise ConformanceFailure(f"{self.name}: define the provider in an importable module "
                                     "(the determinism check builds it in a fresh interpreter)")
        job = {"module": kind.__module__, "cls": kind.__qualname__,
               "settings": {c: dict(self.settings_for(c)) for c in chosen}}
        env = {**os.environ, "PYTHONHASHSEED": seed,
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.Popen([sys.executable, "-m", "cloudfence.testing._compile"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        return proc, json.dumps(job)

    def _result(self, job: tuple[subprocess.Popen[str], str]) -> dict[str, str]:
        proc, text = job
        try:
            out, err = proc.communicate(text, timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise ConformanceFailure(f"{self.name}: compiling the corpus in a fresh interpreter "
                                     "took over 120 s") from None
        if proc.returncode:
            raise ConformanceFailure(f"{self.name}: compiling the corpus in a fresh interpreter failed: "
                                     f"{err.strip().splitlines()[-1:] or proc.returncode}")
        result: dict[str, str] = json.loads(out)
        return result

    def stable_names(self, case: str) -> None:
        """Other ports on one flow change only the records named after its ends."""
        base = self.outcome(case)
        if base.plan is None:
            return
        doc = yaml.safe_load(case_text(case))
        for i, flow in enumerate(doc["flows"]):
            edited = {**doc, "flows": [dict(f) for f in doc["flows"]]}
            edited["flows"][i]["ports"] = _other_ports(flow["ports"])
            after = self.outcome(case, yaml.safe_dump(edited, sort_keys=False))
            if after.plan is not None:
                self._compare_names(case, i, flow, base.plan, after.plan)

    def _compare_names(self, case: str, i: int, flow: Mapping[str, Any], before: Plan, after: Plan) -> None:
        ends = [n for side in ("from", "to") for n in _names(flow[side])]
        pattern = re.compile(r"(^|-)(" + "|".join(re.escape(n.lstrip("@")) for n in ends) + r")(-|$)")
        old = {r.name: r for r in before.resources}
        new = {r.name: r for r in after.resources}
        for name in sorted(set(old) | set(new)):
            if pattern.search(name):
                continue
            if name not in old or name not in new:
                what = "removed" if name in old else "added"
                raise self.fail(case, f"editing the ports of flows[{i}] ({', '.join(ends)}) "
                                      f"{what} {name!r}, which names none of its ends")
            if old[name].inputs != new[name].inputs:
                raise self.fail(case, f"editing the ports of flows[{i}] changed the inputs of {name!r}, "
                                      "which names none of its ends")

    def mutations(self, case: str) -> MutationReport:
        """Every counted mutant is caught by verify; raises with all misses."""
        report = MutationReport(case)
        out = self.outcome(case)
        if out.plan is None:
            return report
        plan = out.plan
        space = space_for(out.intent, validated(self.provider, plan.settings))
        base = self.provider.evaluate(plan, out.intent)
        judge = Judge(out.intent, space, plan.implied, base)
        self._baseline(case, judge, base)
        drops = 0
        for m in self._selected(plan):
            found = self._judge(judge, base, m, out.intent)
            if found is None:
                report.discarded.append(str(m))
                continue
            drops += m.kind == "drop"
            if self._caught(m, out.intent):
                report.counted.append(f"{m}: {found}")
            else:
                report.failures.append(f"{m} changes {found}, yet verify says equivalent")
        if any(m.kind == "drop" for m in mutants(plan)) and not drops and out.intent.flows:
            report.failures.append("no dropped record changes any connection: "
                                   "evaluate does not read the records")
        if report.failures:
            raise self.fail(case, "mutants not caught:\n  " + "\n  ".join(report.failures))
        return report

    def _selected(self, plan: Plan) -> list[Mutant]:
        every = list(mutants(plan, self.deep))
        if not self.max_mutants or len(every) <= self.max_mutants:
            return every
        drops = [m for m in every if m.kind == "drop"]
        rest = [m for m in every if m.kind != "drop"]
        room = max(self.max_mutants - len(drops), self.max_mutants // 2)
        step = len(rest) / room
        return drops[: self.max_mutants] + [rest[int(k * step)] for k in range(min(room, len(rest)))]

    def _baseline(self, case: str, judge: Judge, base: Any) -> None:
        ends = {(s, d) for s in base.judged_ends for d in ("egress", "ingress")}
        found = _first_difference(judge, base, ends, judge.points(_no_addresses()))
        if found:
            raise self.fail(case, f"the packet check finds {found} on the unmutated plan, which verify "
                                  "calls equivalent: one of them misreads the plan")

    def _judge(self, judge: Judge, base: Any, m: Mutant, intent: Intent) -> str | None:
        try:
            reach = self.provider.evaluate(m.plan, intent)
        except Exception:
            return None  # unreadable: verify cannot pass it either (see _caught)
        ends, moved = changed_ends(base, reach)
        # Background ends are judged from segments, unless the target governs them.
        ends = {(s, d) for s, d in ends if s in base.judged_ends}
        if not ends:
            return None
        return _first_difference(judge, reach, ends, judge.points(moved))

    def _caught(self, m: Mutant, intent: Intent) -> bool:
        try:
            return not verify_plan(intent, self.provider, m.plan).equivalent
        except Exception:
            return True  # a plan verify refuses to read is not passed as equivalent

    def checks(self, only: Iterable[str] | None = None) -> list[Check]:
        """Every check on every case (or on `only` these), for pytest parametrization."""
        chosen = tuple(only) if only is not None else cases()
        out = [Check(f"{self.name}-deterministic", partial(self.deterministic, chosen))]
        for case in chosen:
            out += [Check(f"{self.name}-sound-{case}", partial(self.sound, case)),
                    Check(f"{self.name}-stable-names-{case}", partial(self.stable_names, case)),
                    Check(f"{self.name}-mutations-{case}", partial(self.mutations, case))]
        return out

    def run_all(self, only: Iterable[str] | None = None) -> list[str]:
        """Every check; the failures' messages (empty: the provider conforms)."""
        failures = []
        for check in self.checks(only):
            try:
                check.run()
            except ConformanceFailure as exc:
                failures.append(str(exc))
        return failures


def _no_addresses() -> Any:
    from cloudfence.addresses import AddressSet

    return AddressSet()


def _first_difference(judge: Judge, reach: Any, ends: set[tuple[str, str]], points: list[Any]) -> str | None:
    for segment, direction in sorted(ends):
        for here in (p for p in points if p.name == segment):
            for there in points:
                src, dst = (here, there) if direction == "egress" else (there, here)
                found = judge.differs(reach, src, dst)
                if found:
                    return str(found)
    return None


def _names(side: Any) -> list[str]:
    return [str(s) for s in side] if isinstance(side, list) else [str(side)]


def _other_ports(ports: Any) -> list[str]:
    """Ports for the stable-names edit: different from the flow's, and expressible nearly everywhere."""
    current = [str(p) for p in ports] if isinstance(ports, list) else [str(ports)]
    return ["tcp/7777"] if current != ["tcp/7777"] else ["tcp/7778"]
