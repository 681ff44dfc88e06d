"""Plan -> YAML manifests that `kubectl apply -f DIR` takes, one file per
NetworkPolicy, for clusters deployed without Pulumi (GitOps, review)."""

from __future__ import annotations

from typing import Any

import yaml

from cloudfence.plan import Plan
from cloudfence.providers.kubernetes.wire import API_VERSION, KIND, POLICY_TYPE


def manifest(inputs: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server takes it (the plan's inputs are exactly that)."""
    return {"apiVersion": inputs.get("apiVersion", API_VERSION), "kind": inputs.get("kind", KIND),
            "metadata": inputs["metadata"], "spec": inputs["spec"]}


def manifests(plan: Plan) -> dict[str, str]:
    """{file name: YAML document}; names are `<namespace>-<policy name>.yaml`,
    stable across runs, sorted."""
    out: dict[str, str] = {}
    for record in plan.by_type(POLICY_TYPE):
        doc = manifest(record.inputs)
        meta = doc["metadata"]
        filename = f"{meta.get('namespace', 'default')}-{meta['name']}.yaml"
        if filename in out:
            raise ValueError(f"two policies would be written to {filename}: rename a segment or namespace")
        out[filename] = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    return dict(sorted(out.items()))
