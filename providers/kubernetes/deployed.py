"""NetworkPolicies as a cluster holds them, as plan records (`verify --deployed`).

From `kubectl get networkpolicies -A -o json|yaml` (a List, or one object), and from
a Pulumi state export, where the refreshed outputs are the object as the API server
returns it now: an edit made with kubectl after `pulumi up` is judged, not the
inputs Pulumi last sent. Every policy of the file counts, whoever wrote it: policies
are additive, so one written by hand or by another tool can open what the spec
closes. A field the evaluator does not read is refused, never skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cloudfence.errors import CloudfenceError, Problem
from cloudfence.intent import Intent
from cloudfence.plan import DeployedRecords, Resource
from cloudfence.providers.kubernetes.wire import MANAGED_BY, POLICY_TYPE, SPEC_LABEL
from cloudfence.pulumistate import StateResource

API_VERSION = "networking.k8s.io/v1"
_SPEC = frozenset({"podSelector", "policyTypes", "ingress", "egress"})
_RULE = {"ingress": frozenset({"from", "ports"}), "egress": frozenset({"to", "ports"})}
_PEER = frozenset({"podSelector", "namespaceSelector", "ipBlock"})
_SELECTOR = frozenset({"matchLabels", "matchExpressions"})
_PORT = frozenset({"protocol", "port", "endPort"})
_IP_BLOCK = frozenset({"cidr", "except"})
_EXPRESSION = frozenset({"key", "operator", "values"})
_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
OTHER_KINDS = ("policies of other kinds (AdminNetworkPolicy, a CNI's own such as CiliumNetworkPolicy) are "
               "not in `kubectl get networkpolicies` and not judged")
OUTSIDE_STACK = ("a state export holds the stack's own policies only: one applied outside it is not judged "
                 "(judge `kubectl get networkpolicies -A -o json` for every policy of the cluster)")


def is_kubectl(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("kind"), str) and "apiVersion" in doc and (
        doc["kind"] in ("List", "NetworkPolicyList", "NetworkPolicy"))


def kubectl_records(doc: Mapping[str, Any], intent: Intent, file: str) -> DeployedRecords:
    """One record per NetworkPolicy, named namespace/name as `kubectl` shows it."""
    if doc.get("kind") == "NetworkPolicy":
        items: list[tuple[str, Any]] = [("", doc)]
    else:
        raw = doc.get("items")
        if not isinstance(raw, list):
            raise CloudfenceError(Problem("items", "expected the list of objects `kubectl get "
                                          "networkpolicies -A -o json` writes", file))
        items = [(f"items[{i}]", item) for i, item in enumerate(raw)]
    problems: list[Problem] = []
    records: dict[str, Resource] = {}
    for where, item in items:
        record = _policy(item, where, file, problems)
        if record is None:
            continue
        if record.name in records:
            problems.append(Problem(where, f"a second policy {record.name}", file))
        records[record.name] = record
    if problems:
        raise CloudfenceError(problems)
    return DeployedRecords(tuple(records.values()), notes=(*_notes(records.values(), intent), OTHER_KINDS))


def state_records(state: Sequence[StateResource], intent: Intent, file: str = "") -> DeployedRecords:
    """The stack's NetworkPolicies as the API server returned them at the last refresh."""
    problems: list[Problem] = []
    records = []
    for r in state:
        if r.type != POLICY_TYPE:
            if "networkpolicy" in r.type.lower():  # a patch, or a CNI's own policy kind
                problems.append(Problem(f"record {r.name}", f"{r.type} is a network policy verify does not "
                                        f"read (it reads {POLICY_TYPE}): it may allow what the spec does not",
                                        file))
            continue
        live = r.outputs if isinstance(r.outputs.get("spec"), dict) else r.inputs
        obj = {"apiVersion": API_VERSION, "kind": "NetworkPolicy", "metadata": live.get("metadata") or
               r.inputs.get("metadata") or {}, "spec": live.get("spec")}
        found = _policy(obj, f"record {r.name}", file, problems, name=r.name)
        if found is not None:
            records.append(found)
    if problems:
        raise CloudfenceError(problems)
    charts = [f"not judged: {r.type} {r.name}: the objects its chart installs (policies too) are not "
              "resources of the state (judge `kubectl get networkpolicies -A -o json`)"
              for r in state if r.type == HELM_RELEASE]
    return DeployedRecords(tuple(records), notes=(*_notes(records, intent), OUTSIDE_STACK, *charts))


def _policy(item: Any, where: str, file: str, problems: list[Problem], name: str = "") -> Resource | None:
    at = f"{where}." if where else ""
    if not isinstance(item, dict):
        problems.append(Problem(where, "expected a NetworkPolicy object", file))
        return None
    if item.get("kind") != "NetworkPolicy" or item.get("apiVersion") != API_VERSION:
        problems.append(Problem(f"{at}kind", f"{item.get('apiVersion')}/{item.get('kind')} is no "
                                f"{API_VERSION} NetworkPolicy: list only network policies "
                                "(kubectl get networkpolicies -A -o json)", file))
        return None
    metadata = item.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        problems.append(Problem(f"{at}metadata.name", "expected the policy's name", file))
        return None
    namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else "default"
    spec = item.get("spec")
    if not isinstance(spec, dict):
        problems.append(Problem(f"{at}spec", "expected the policy's spec (an object)", file))
        return None
    before = len(problems)
    _check_spec(spec, f"{at}spec", file, problems)
    if len(problems) > before:
        return None
    labels: dict[str, Any] = metadata["labels"] if isinstance(metadata.get("labels"), dict) else {}
    inputs = {"apiVersion": API_VERSION, "kind": "NetworkPolicy",
              "metadata": {"name": metadata["name"], "namespace": namespace, "labels": labels},
              "spec": spec}
    return Resource(POLICY_TYPE, name or f"{namespace}/{metadata['name']}", inputs)


def _checkers(file: str, problems: list[Problem]) -> tuple[Any, Any]:
    """unknown(value, known, at): whether value is no object, reporting fields not in known;
    report(at, message)."""

    def unknown(value: Any, known: frozenset[str], at: str) -> bool:
        if not isinstance(value, dict):
            problems.append(Problem(at, "expected an object", file))
            return True
        for key in sorted(set(value) - known):
            problems.append(Problem(f"{at}.{key}", f"a field verify does not read (it reads "
                                    f"{', '.join(sorted(known))}): it may change what the policy allows",
                                    file))
        return False

    def report(at: str, message: str) -> None:
        problems.append(Problem(at, message, file))

    return unknown, report


def _check_spec(spec: Mapping[str, Any], where: str, file: str, problems: list[Problem]) -> None:
    """Every field the evaluator reads, and no other: an unknown one may allow more."""
    unknown, report = _checkers(file, problems)
    unknown(spec, _SPEC, where)
    if "podSelector" in spec and spec["podSelector"] is not None:
        _check_selector(spec["podSelector"], f"{where}.podSelector", unknown, report)
    for direction, keys in _RULE.items():
        rules = spec.get(direction) or []
        if not isinstance(rules, list):
            problems.append(Problem(f"{where}.{direction}", "expected a list of rules", file))
            continue
        for i, rule in enumerate(rules):
            at = f"{where}.{direction}[{i}]"
            if unknown(rule, keys, at):
                continue
            for key in sorted(keys - {"ports"}):
                for j, peer in enumerate(rule.get(key) or []):
                    _check_peer(peer, f"{at}.{key}[{j}]", unknown, report)
            for j, port in enumerate(rule.get("ports") or []):
                unknown(port, _PORT, f"{at}.ports[{j}]")


def _check_peer(peer: Any, at: str, unknown: Any, report: Any) -> None:
    if unknown(peer, _PEER, at):
        return
    if all(peer.get(key) is None for key in _PEER):
        report(at, "a peer names none of podSelector, namespaceSelector, ipBlock: the API server never "
               "returns such a peer")
        return
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            _check_selector(peer[key], f"{at}.{key}", unknown, report)
    if peer.get("ipBlock") is not None:
        unknown(peer["ipBlock"], _IP_BLOCK, f"{at}.ipBlock")


def _check_selector(selector: Any, at: str, unknown: Any, report: Any) -> None:
    """Labels as strings, expressions with an operator the evaluator knows: anything else is
    a selector the API server would not return, and its reading is a guess."""
    if unknown(selector, _SELECTOR, at):
        return
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        report(f"{at}.matchLabels", "expected labels with string values")
    exprs = selector.get("matchExpressions") or []
    for i, expr in enumerate(exprs if isinstance(exprs, list) else [None]):
        where = f"{at}.matchExpressions[{i}]"
        if unknown(expr, _EXPRESSION, where):
            continue
        values = expr.get("values") or []
        if (not isinstance(expr.get("key"), str) or expr.get("operator") not in _OPERATORS
                or not isinstance(values, list) or not all(isinstance(v, str) for v in values)):
            report(where, "expected a key, an operator (In, NotIn, Exists, DoesNotExist) and string values")


def _notes(records: Sequence[Resource] | Any, intent: Intent) -> list[str]:
    """Which policies are the spec's and which another writer's: all are judged."""
    mine = others = 0
    for r in records:
        labels = r.inputs["metadata"].get("labels") or {}
        ours = (all(labels.get(k) == v for k, v in MANAGED_BY.items())
                and labels.get(SPEC_LABEL) == intent.name)
        mine, others = mine + ours, others + (not ours)
    out = [f"deployed: {mine} NetworkPolicies of spec {intent.name} and {others} of other writers, "
           "all judged; a segment's pods are those with the spec's namespace and labels "
           "(no policy can say which pods are a segment)"]
    return out
