"""`verify --deployed`: judge what is deployed, not what compiles, with the same
evaluators and counterexamples as `verify --plan`.

Each file is read into plan records: a Pulumi state export by the core
(cloudfence.pulumistate), any other document by the provider that knows its format
(`deployed_records`: a kubectl List, the AWS CLI's JSON). The records become a Plan
whose settings are the ones given (--stack, --set: deployed state does not carry the
internal space), whose implied flows are those the target adds, and whose exports
are what the deployed records grant (the tags, the labels), never trusted from a
compiled plan. A record the evaluator cannot read is refused, naming it and its file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from cloudfence.errors import CheckError, CloudfenceError, Problem
from cloudfence.intent import Intent
from cloudfence.plan import DeployedRecords, Plan, Resource, find_refs
from cloudfence.plugins import providers
from cloudfence.provider import Provider, validated
from cloudfence.pulumistate import StateResource, is_state, read_state, sealed
from cloudfence.reach import Counterexample, Verdict
from cloudfence.settings import ProviderSettings
from cloudfence.verify import verify_plan

MAX_BYTES = 64_000_000
FORMATS_HINT = ("give `pulumi stack export` output (after `pulumi refresh`), `kubectl get "
                "networkpolicies -A -o json` (or -o yaml), or `aws ec2 describe-security-groups` / "
                "`describe-security-group-rules` JSON")


def load_document(path: str) -> Any:
    """A JSON or YAML document; a file that is neither is named with the place it breaks."""
    file = Path(path)
    try:
        if file.is_dir():
            raise CloudfenceError(Problem("", f"is a folder: {FORMATS_HINT}", path))
        if file.stat().st_size > MAX_BYTES:
            raise CloudfenceError(Problem("", f"larger than {MAX_BYTES} bytes", path))
        text = file.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise CloudfenceError(Problem("", f"not found: {FORMATS_HINT}", path)) from None
    except OSError as exc:
        raise CloudfenceError(Problem("", f"cannot be read: {exc.strerror or exc}", path)) from None
    except UnicodeDecodeError:
        raise CloudfenceError(Problem("", f"not text: {FORMATS_HINT}", path)) from None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            line = exc.lineno if isinstance(exc, json.JSONDecodeError) else None
            raise CloudfenceError(Problem("", f"not a JSON document ({exc})", path, line)) from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        why = getattr(exc, "problem", None) or "cannot be parsed"
        raise CloudfenceError(Problem("", f"not a JSON or YAML document ({why})", path, line)) from None
    except RecursionError:
        raise CloudfenceError(Problem("", "nested too deeply to read", path)) from None
    return _one(docs, path)


def _one(docs: list[Any], path: str) -> Any:
    """The YAML stream as one document: several objects are a List of them."""
    if not docs:
        raise CloudfenceError(Problem("", f"is empty: {FORMATS_HINT}", path))
    if len(docs) == 1:
        return docs[0]
    lists = [i + 1 for i, d in enumerate(docs) if isinstance(d, dict) and isinstance(d.get("items"), list)]
    if lists:  # its places would be items[i] of a list the file does not hold
        raise CloudfenceError(Problem("", f"document {lists[0]} of {len(docs)} is a list: give each list as "
                                      "its own file (--deployed a.yaml --deployed b.yaml)", path))
    return {"apiVersion": "v1", "kind": "List", "items": docs}


def deployed_plan(paths: Sequence[str], intent: Intent, provider: Provider,
                  raw: Mapping[str, Any] | ProviderSettings | None) -> tuple[Plan, DeployedRecords]:
    """The deployed files as one Plan of this target, and what the reading noted."""
    settings = validated(provider, raw)
    origin: dict[str, str] = {}
    resources: dict[str, Resource] = {}
    notes: list[str] = []
    drift: list[tuple[str, str, str]] = []
    problems: list[Problem] = []
    docs = [(path, load_document(path)) for path in paths]
    foreign = {path for path, doc in docs if _foreign(doc, intent, provider, path)}
    if len(foreign) == len(docs):
        foreign = set()  # none is this target's: each is refused, naming the formats it reads
    for path, doc in docs:
        if path in foreign:
            notes.append(f"{path} is another target's deployed state: not read by {provider.name}")
            continue
        part = _records(doc, path, intent, provider)
        if is_state(doc) and not part.resources:
            problems.append(Problem("deployment.resources", f"holds no resource provider {provider.name} "
                                    "reads: export the stack that deploys it, or name another provider",
                                    path))
        for r in part.resources:
            if r.name in resources and resources[r.name] != r:
                problems.append(Problem(f"record {r.name}", f"differs from the record of that name in "
                                        f"{origin[r.name]}: give each deployed state once", path))
            resources[r.name] = r
            origin.setdefault(r.name, path)
        notes += [n for n in part.notes if n not in notes]
        drift += part.drift
    if problems:
        raise CloudfenceError(problems)
    plan = Plan(intent.name, provider.name, tuple(resources.values()),
                implied=tuple(provider.implied_flows(intent, settings)), settings=settings.to_json())
    try:
        actual = provider.evaluate(plan, intent)
    except CloudfenceError as exc:
        raise CloudfenceError([_placed(p, origin) for p in exc.problems]) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CloudfenceError(f"{', '.join(paths)}: a deployed record cannot be read ({type(exc).__name__}: "
                              f"{exc}): verify cannot judge it") from None
    exports = {seg: dict(granted) for seg, granted in actual.identities.items()}
    return dataclasses.replace(plan, exports=exports), DeployedRecords((), tuple(notes), tuple(drift))


def verify_deployed(paths: Sequence[str], intent: Intent, provider: Provider,
                    raw: Mapping[str, Any] | ProviderSettings | None,
                    limit: int = 20) -> tuple[Verdict, Plan]:
    """The verdict on deployed state (verify_plan's, plus what the records cannot show),
    and the plan the deployed records make."""
    plan, read = deployed_plan(paths, intent, provider, raw)
    try:
        verdict = verify_plan(intent, provider, plan, limit=limit)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CloudfenceError(f"{', '.join(paths)}: a deployed record cannot be read ({type(exc).__name__}: "
                              f"{exc}): verify cannot judge it") from None
    extra = [Counterexample("export", seg, where, "", "", None, why) for seg, where, why in read.drift]
    shown = extra + list(verdict.counterexamples)  # drift first: the limit never hides it
    return dataclasses.replace(
        verdict, equivalent=verdict.equivalent and not extra,
        counterexamples=tuple(shown[:max(limit, len(extra))]),
        total_differences=verdict.total_differences + len(extra),
        assumptions=(*verdict.assumptions, *read.notes)), plan


def _foreign(doc: Any, intent: Intent, provider: Provider, path: str) -> bool:
    """A kubectl or AWS CLI file that this target does not read but another installed one does
    (one stack deploys both): each target reads its own files."""
    if is_state(doc) or provider.deployed_records(doc, intent, path) is not None:
        return False
    for name, other in providers().items():
        if name == provider.name:
            continue
        try:
            if other.deployed_records(doc, intent, path) is not None:
                return True
        except CloudfenceError:
            return True  # its format, with a defect that target reports
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a plugin that cannot tell: the file is not known to be its
    return False


def _records(doc: Any, path: str, intent: Intent, provider: Provider) -> DeployedRecords:
    try:
        return _read(doc, path, intent, provider)
    except CheckError:
        raise
    except CloudfenceError as exc:
        raise CloudfenceError([p if p.file else dataclasses.replace(p, file=path)
                               for p in exc.problems]) from None


def _read(doc: Any, path: str, intent: Intent, provider: Provider) -> DeployedRecords:
    if is_state(doc):
        state = read_state(doc, path, frozenset(getattr(provider, "deployed_types", ())))
        part = provider.state_records(state, intent)
        _refuse_secrets(part.resources, path)
        return dataclasses.replace(part, notes=(*part.notes, *_unread_neighbours(state, part, provider)))
    native = provider.deployed_records(doc, intent, path)
    if native is None:
        raise CloudfenceError(Problem("", f"not deployed state provider {provider.name} reads: "
                                      f"{FORMATS_HINT}", path))
    return native


def _refuse_secrets(records: Sequence[Resource], path: str) -> None:
    """A sealed secret in a record could hide anything: refuse rather than judge it absent."""
    problems = [p for r in records for p in sealed(r.inputs, f"record {r.name}.inputs", path)]
    if problems:
        raise CloudfenceError(problems)


def _unread_neighbours(state: Sequence[StateResource], part: DeployedRecords,
                       provider: Provider) -> list[str]:
    """Resources of the target's packages that verify does not read but that reference a record
    it does (an instance that attaches a group ...): named, so the verdict says what it left out."""
    kept = {r.name for r in part.resources}
    packages = {t.split(":", 1)[0] for t in getattr(provider, "deployed_types", ())}
    out = []
    for r in state:
        if r.name in kept or r.type.split(":", 1)[0] not in packages:
            continue
        touched = sorted({name for _, name, _ in find_refs(r.inputs) if name in kept})
        if touched:
            out.append(f"not judged: {r.type} {r.name} (it references {', '.join(touched)}); verify "
                       "reads the network rules, not which workloads attach them")
    return out


def _placed(problem: Problem, origin: Mapping[str, str]) -> Problem:
    """An evaluator's problem at `resources.<name>...` is placed at the deployed file holding it."""
    where = problem.where
    if where.startswith("resources."):
        rest = where[len("resources."):]
        name = next((n for n in sorted(origin, key=len, reverse=True)
                     if rest == n or rest.startswith(n + ".")), None)
        if name is not None:
            return Problem("record " + rest, problem.message, origin[name])
    return problem
