"""Plain-text rendering for the CLI: aligned tables, one-line resource summaries,
and what each command prints.

Kept apart from the commands so the table layout can be tested on its own and
so that providers may offer a `summarize(resource)` of their own while every
other provider still gets a readable line from its wire-name inputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudfence.errors import Problem
from cloudfence.intent import INTERNET, Intent
from cloudfence.plan import REF, Plan, Resource
from cloudfence.portability import portability, portability_lines
from cloudfence.ports import format_ports
from cloudfence.reach import Verdict
from cloudfence.settings import ProviderSettings, describe

SUMMARY_WIDTH = 110
_SKIP = {"tags", "apiVersion", "kind", "labels", "annotations"}


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str] | None = None, indent: str = "") -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    lines = [list(map(_cell, r)) for r in rows]
    if headers:
        lines.insert(0, list(headers))
    if not lines:
        return ""
    width = max(len(r) for r in lines)
    sizes = [max((len(r[i]) for r in lines if i < len(r)), default=0) for i in range(width)]
    out = []
    for r in lines:
        cells = [c.ljust(sizes[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def short_type(type_token: str) -> str:
    """`aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule` -> `SecurityGroupIngressRule`."""
    return type_token.rsplit(":", 1)[-1] or type_token


def summarize(inputs: Mapping[str, Any], name: str | None = None, width: int = SUMMARY_WIDTH) -> str:
    """A one-line reading of a record's inputs: scalars as key=value, references as
    key->name, wrapper mappings (metadata, spec) opened one level, lists by length,
    the description last."""
    parts: list[str] = []
    description = ""
    inputs = _join_port_range(inputs)
    for key, value in inputs.items():
        if key in _SKIP:
            continue
        if key == "description" and isinstance(value, str):
            description = f'"{_clip(value, 48)}"'
        elif isinstance(value, Mapping) and value and not _is_flat(value):
            parts += [p for k, v in value.items()
                      if k not in _SKIP and not (k == "name" and v == name) and (p := _brief(k, v))]
        elif p := _brief(key, value):
            parts.append(p)
    if description:
        parts.append(description)
    text = ", ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def _join_port_range(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """protocol + fromPort + toPort (the common cloud rule shape) read as one `tcp/443`."""
    proto_key = next((k for k in ("ipProtocol", "protocol") if isinstance(inputs.get(k), str)), None)
    lo, hi = inputs.get("fromPort"), inputs.get("toPort")
    if proto_key is None or not isinstance(lo, int) or not isinstance(hi, int):
        return inputs
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if key == proto_key:
            out["ports"] = f"{value}/{lo}" if lo == hi else f"{value}/{lo}-{hi}"
        elif key not in ("fromPort", "toPort"):
            out[key] = value
    return out


def _is_flat(value: Mapping[str, Any]) -> bool:
    return all(isinstance(v, (str, int, float, bool)) for v in value.values())


def value_text(value: Any) -> str:
    """Compact text for a value: mappings as k=v pairs, lists comma-joined."""
    if isinstance(value, Mapping):
        if len(value) == 1 and isinstance(next(iter(value.values())), Mapping):
            return value_text(next(iter(value.values())))  # {"matchLabels": {...}} reads as its labels
        return ",".join(_pair(k, v) for k, v in value.items()) or "{}"
    if isinstance(value, (list, tuple)):
        return ",".join(value_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pair(key: str, value: Any) -> str:
    m = REF.match(value) if isinstance(value, str) else None
    return f"{key}->{m.group('name')}" if m else f"{key}={value_text(value)}"


def _brief(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        m = REF.match(value)
        return f"{key}->{m.group('name')}" if m else f"{key}={_clip(value, 32)}"
    if isinstance(value, Mapping):
        text = value_text(value)
        if len(value) == 1 and _is_flat(value):
            return f"{key}: {_clip(text, 40)}"
        return f"{key}={_clip(text, 40)}" if len(value) <= 3 else f"{key}{{{len(value)}}}"
    if isinstance(value, (list, tuple)):
        if len(value) <= 4 and all(isinstance(v, (str, int, float)) for v in value):
            return f"{key}={','.join(str(v) for v in value)}"
        if len(value) == 1 and isinstance(value[0], Mapping) and _is_flat(value[0]):
            return f"{key}=[{_clip(value_text(value[0]), 40)}]"
        return f"{key}[{len(value)}]"
    return f"{key}={value_text(value)}"


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


# ------------------------------------------------------------ command output


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def intent_text(intent: Intent, spec: str) -> str:
    """What `validate` prints: the spec's segments, networks and merged flows."""
    networks = [n for n in intent.networks if n != INTERNET]
    spec_flows = len({i for f in intent.flows for i in f.origins})
    head = f"{intent.name}: {intent.description}" if intent.description else intent.name
    out = [f"{head}\n{spec} is valid: {count(len(intent.segments), 'segment')}, "
           f"{count(len(networks), 'network')} (+ internet), {count(len(intent.flows), 'flow')} "
           f"(from {count(spec_flows, 'spec entry', 'spec entries')})", "\nsegments:"]
    rows = []
    for seg in intent.segments.values():
        k8s = "-"
        if seg.kubernetes:
            labels = ",".join(f"{k}={v}" for k, v in seg.kubernetes.labels)
            k8s = f"{seg.kubernetes.namespace}{{{labels}}}"
        rows.append((seg.name, " ".join(map(str, seg.cidrs)) or "-", k8s))
    out.append(table(rows, ("NAME", "ADDRESSES", "KUBERNETES"), indent="  "))
    if networks:
        out.append("\nnetworks:")
        out.append(table(((n, " ".join(map(str, intent.networks[n].cidrs()))) for n in networks),
                         ("NAME", "ADDRESSES"), indent="  "))
    out.append("\nflows:")
    out.append(table(((f.src, f.dst, format_ports(f.ports), ", ".join(f"flows[{i}]" for i in f.origins))
                      for f in intent.flows), ("FROM", "TO", "PORTS", "SPEC"), indent="  "))
    return "\n".join(out)


def intent_json(intent: Intent) -> dict[str, Any]:
    return {
        "spec": intent.name,
        "description": intent.description,
        "segments": [{"name": s.name, "description": s.description,
                      "cidrs": [str(c) for c in s.cidrs],
                      "kubernetes": {"namespace": s.kubernetes.namespace,
                                     "labels": s.kubernetes.match_labels} if s.kubernetes else None}
                     for s in intent.segments.values()],
        "networks": [{"name": n.name, "cidrs": [str(c) for c in n.cidrs()]}
                     for n in intent.networks.values()],
        "flows": [{"from": f.src.name, "to": f.dst.name, "ports": format_ports(f.ports),
                   "specFlows": list(f.origins)} for f in intent.flows],
    }


def plan_text(compiled: Plan, document: Mapping[str, Any], via_pulumi: bool,
              custom: Callable[[Resource], str | None] | None = None, label: str | None = None) -> str:
    """What `plan` prints: one line per record, implied flows, exports. `label` names the
    target where several stacks give the same provider (`gcp (Pulumi.gcp-sa.yaml)`)."""
    resources = document["resources"]
    by_name = {r.name: r for r in compiled.resources}
    rows = []
    for r in resources:
        text = None
        if custom is not None and r["name"] in by_name:
            text = custom(by_name[r["name"]])
        if text is None:
            text = summarize(r["inputs"], r["name"])
        rows.append((short_type(r["type"]), r["name"], text))
    how = "registered under the Pulumi mock runtime" if via_pulumi else "planned"
    out = [f"{compiled.spec} on {label or compiled.provider}: {count(len(resources), 'resource')} {how}"]
    if rows:
        out.append(table(rows, ("TYPE", "NAME", "SUMMARY"), indent="  "))
    if via_pulumi:
        same = [json.dumps(r, sort_keys=True) for r in resources] == [
            json.dumps(r.to_json(), sort_keys=True) for r in compiled.resources]
        out.append("\nregistered resources equal the offline plan" if same else
                   "\nnote: registered resources differ from the offline plan "
                   "(compare the --format json outputs with and without --via-pulumi)")
    if compiled.implied:
        out.append(f"\nimplied flows (added by {compiled.provider} on purpose):")
        out += [f"  {f}" for f in compiled.implied]
    if compiled.requires:
        out.append("\nrequires (what you bring for the flows to carry traffic):")
        out += [f"  {r}" for r in compiled.requires]
    if compiled.exports:
        out.append("\nexports (what a workload attaches to join a segment):")
        out.append(table(((seg, ", ".join(f"{k}={value_text(v)}" for k, v in values.items()))
                          for seg, values in compiled.exports.items()), indent="  "))
    return "\n".join(out)


@dataclass
class Result:
    """One target's outcome in `verify`."""

    provider: str  # the target as output names it: the provider, and its stack file when several
    verdict: Verdict | None  # None: the provider's check rejected the spec
    problems: list[Problem]
    flows: int
    resources: int | None = None  # records of the plan judged
    rules: int | None = None  # the provider's count_rules; None: it does not say
    name: str = ""  # the provider's name, where the label says more
    stack: str | None = None  # the stack file the settings came from

    @property
    def judged(self) -> int:
        return self.flows - len(self.verdict.not_governed) if self.verdict else 0

    @property
    def outcome(self) -> str:
        if self.verdict is None:
            return "cannot express"
        return "equivalent" if self.verdict.equivalent else "NOT equivalent"

    def row(self) -> tuple[Any, ...]:
        """TARGET, RESOURCES, RULES, VERDICT, COUNTEREXAMPLES, ASSUMPTIONS."""
        v = self.verdict
        return (self.provider, self.resources, self.rules, self.outcome,
                v.total_differences if v else None, len(v.assumptions) if v else None)

    def to_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "target": self.provider,
            "provider": self.name or self.provider,
            "stack": self.stack,
            "verdict": self.outcome,
            "equivalent": v.equivalent if v else None,
            "resources": self.resources,
            "rules": self.rules,
            "problems": [str(p) for p in self.problems],
            "counterexamples": [c.to_json() for c in v.counterexamples] if v else [],
            "totalDifferences": v.total_differences if v else 0,
            "connections": v.connections if v else 0,
            "flowsJudged": self.judged,
            "implied": list(v.implied) if v else [],
            "notGoverned": list(v.not_governed) if v else [],
            "assumptions": list(v.assumptions) if v else [],
        }


VERDICT_HEADERS = ("TARGET", "RESOURCES", "RULES", "VERDICT", "COUNTEREXAMPLES", "ASSUMPTIONS")


def verdicts_text(results: Sequence[Result]) -> str:
    """What `verify` prints: with several targets a table of them, then each target's
    verdict with its counterexamples, then where the targets differ. One target is its
    verdict alone: there is nothing to compare."""
    out: list[str] = []
    if len(results) > 1:
        out += [table((r.row() for r in results), VERDICT_HEADERS), ""]
    for i, r in enumerate(results):
        if i:
            out.append("")
        out += _verdict_lines(r)
    if len(results) > 1:
        out += ["", *portability_lines(portability(results))]
    return "\n".join(out)


def _verdict_lines(r: Result) -> list[str]:
    v = r.verdict
    if v is None:
        return [f"{r.provider}: cannot express: {r.problems[0] if r.problems else 'check failed'}",
                *(f"  {p}" for p in r.problems[1:])]
    counts = f"{count(v.connections, 'connection class', 'connection classes')}, " \
             f"{count(r.judged, 'flow')} judged"
    if v.equivalent:
        out = [f"{r.provider}: equivalent ({counts})"]
    else:
        out = [f"{r.provider}: NOT equivalent ({count(v.total_differences, 'difference')}; {counts})"]
        out.append(table(counterexample_rows(v), COUNTEREXAMPLE_HEADERS, indent="  "))
        if v.total_differences > len(v.counterexamples):
            out.append(f"  ... {v.total_differences - len(v.counterexamples)} more "
                       "(--format json lists the same first ones)")
    out += [f"  implied by {r.provider}: {flow}" for flow in v.implied]
    out += [f"  not governed by {r.provider}: {flow}" for flow in v.not_governed]
    out += [f"  assumes: {a}" for a in v.assumptions]
    return out


COUNTEREXAMPLE_HEADERS = ("KIND", "EXPLANATION", "SOURCE", "DESTINATION", "PROTOCOL", "PORT", "PORTS")


def counterexample_rows(v: Verdict) -> list[tuple[Any, ...]]:
    return [(c.kind, c.explanation, c.source, c.destination, c.protocol,
             "-" if c.port is None else c.port, c.ports or "-") for c in v.counterexamples]


def settings_text(model: type[ProviderSettings]) -> str:
    """A provider's settings model as `cloudfence providers` lists it."""
    rows = []
    for f in describe(model):
        if f["required"]:
            default = "required"
        elif f["default"] is None:
            default = "optional"
        else:
            default = "default " + ('""' if f["default"] == "" else value_text(f["default"]))
        rows.append((f["key"], f["type"], default, f["description"]))
    if not rows:
        return "  settings: none"
    return "  settings:\n" + table(rows, indent="    ")
