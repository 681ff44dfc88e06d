"""Read a plan JSON back (as `plan --format json` writes it), so that a reviewed
or hand-edited plan can be proved by `verify --plan`. Every defect is a one-line
problem naming the place in the file; nothing is guessed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudfence.errors import CloudfenceError, Problem
from cloudfence.intent import Endpoint, Flow, Intent
from cloudfence.plan import FORMAT, Plan, Resource
from cloudfence.ports import PortError, PortSet, parse_port

MAX_BYTES = 64_000_000


def read_plan(path: str, intent: Intent, provider: str) -> Plan:
    file = Path(path)
    try:
        if file.is_dir():
            raise CloudfenceError(Problem("", "is a folder: give the plan JSON file", path))
        if file.stat().st_size > MAX_BYTES:
            raise CloudfenceError(Problem("", f"larger than {MAX_BYTES} bytes", path))
        doc = json.loads(file.read_bytes())
    except FileNotFoundError:
        raise CloudfenceError(Problem("", "not found: write it with `cloudfence plan SPEC -p P "
                                      "--format json > FILE`", path)) from None
    except OSError as exc:
        raise CloudfenceError(Problem("", f"cannot be read: {exc.strerror or exc}", path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CloudfenceError(Problem("", f"not a plan JSON document ({exc})", path)) from None
    return plan_from_json(doc, intent, provider, path)


Bad = Callable[[str, str], None]  # records one problem: (place in the file, message)


def plan_from_json(doc: Any, intent: Intent, provider: str, file: str = "<plan>") -> Plan:
    problems: list[Problem] = []

    def bad(where: str, message: str) -> None:
        problems.append(Problem(where, message, file))

    if not isinstance(doc, dict):
        raise CloudfenceError(Problem("", "expected a JSON object with spec, provider and resources", file))
    if "plans" in doc:
        raise CloudfenceError(Problem("plans", "holds several plans: write one with `cloudfence plan SPEC "
                                      f"-p {provider} --format json`", file))
    _check_header(doc, intent, provider, bad)
    resources = _resources(doc.get("resources"), bad)
    exports = _exports(doc.get("exports", {}), intent, bad)
    settings = doc.get("settings", {})
    if not isinstance(settings, dict):
        bad("settings", "expected an object")
        settings = {}
    implied = _implied(doc.get("implied", []), intent, bad)
    requires = doc.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        bad("requires", "expected a list of texts (what the user brings for the flows to carry traffic)")
        requires = []
    if problems:
        raise CloudfenceError(problems)
    return Plan(intent.name, provider, tuple(resources), tuple(implied), exports, settings, tuple(requires))


def _check_header(doc: dict[str, Any], intent: Intent, provider: str, bad: Bad) -> None:
    """The plan must be of this format, for this spec and this provider: proving a
    plan against another spec would prove nothing."""
    if doc.get("format", FORMAT) != FORMAT:
        bad("format", f"plan format {doc.get('format')!r}: this cloudfence reads format {FORMAT}")
    if doc.get("spec") != intent.name:
        bad("spec", f"the plan is for spec {doc.get('spec')!r}, the spec is {intent.name!r}")
    if doc.get("provider") != provider:
        bad("provider", f"the plan is for provider {doc.get('provider')!r}, not {provider!r}: "
            f"pass -p {doc.get('provider')}")


def _resources(raw: Any, bad: Bad) -> list[Resource]:
    """The resource records, each well-formed and uniquely named (names are their identity)."""
    if not isinstance(raw, list):
        bad("resources", "expected a list of resource records")
        return []
    resources = []
    names = set()
    for i, r in enumerate(raw):
        where = f"resources[{i}]"
        if not (isinstance(r, dict) and isinstance(r.get("type"), str) and isinstance(r.get("name"), str)
                and isinstance(r.get("inputs"), dict)):
            bad(where, "expected {\"type\": text, \"name\": text, \"inputs\": object}")
            continue
        if r["name"] in names:
            bad(f"{where}.name", f"two resources are named {r['name']!r}")
        names.add(r["name"])
        resources.append(Resource(r["type"], r["name"], r["inputs"]))
    return resources


def _exports(raw: Any, intent: Intent, bad: Bad) -> dict[str, dict[str, Any]]:
    """What the plan says each segment exports, keyed by segments of the spec only."""
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        bad("exports", "expected an object of segment -> object")
        return {}
    for seg in raw:
        if seg not in intent.segments and not seg.startswith("@"):
            bad(f"exports.{seg}", f"'{seg}' is no segment of spec {intent.name!r}")
    return raw


def _implied(raw: Any, intent: Intent, bad: Bad) -> list[Flow]:
    if not isinstance(raw, list):
        bad("implied", "expected a list of {from, to, ports}")
        return []
    out = []
    for i, item in enumerate(raw):
        where = f"implied[{i}]"
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("from", "to")) \
                or not isinstance(item.get("ports"), list):
            bad(where, "expected {\"from\": name, \"to\": name, \"ports\": [literals]}")
            continue
        ends = []
        for key in ("from", "to"):
            name = item[key]
            if name in intent.segments:
                ends.append(Endpoint("segment", name))
            elif name.startswith("@"):
                ends.append(Endpoint("platform", name))
            else:
                bad(f"{where}.{key}", f"'{name}' is neither a segment nor a platform endpoint")
        ports = PortSet()
        for j, lit in enumerate(item["ports"]):
            try:
                ports = ports | parse_port(str(lit))
            except PortError as exc:
                bad(f"{where}.ports[{j}]", str(exc))
        if len(ends) == 2 and ports:
            out.append(Flow(ends[0], ends[1], ports))
    return out
