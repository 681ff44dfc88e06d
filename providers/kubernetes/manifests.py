"""Plan -> YAML manifests, one file per NetworkPolicy, for clusters deployed
without Pulumi (GitOps, review). `cloudfence export` writes them with a
kustomization.yaml, so `kubectl apply -k DIR` takes the folder as one unit.

File names are `<namespace>.<policy name>.yaml`. A namespace is a DNS-1123 label
and cloudfence's policy names are spec and segment names: neither holds a '.',
so two policies can never share a file name (the check below guards the rule).
"""

from __future__ import annotations

from typing import Any

import yaml

from cloudfence.errors import CheckError
from cloudfence.plan import Plan
from cloudfence.providers.kubernetes.wire import API_VERSION, KIND, POLICY_TYPE


def manifest(inputs: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server takes it (the plan's inputs are exactly that)."""
    return {"apiVersion": inputs.get("apiVersion", API_VERSION), "kind": inputs.get("kind", KIND),
            "metadata": inputs["metadata"], "spec": inputs["spec"]}


def file_name(namespace: str, name: str) -> str:
    return f"{namespace}.{name}.yaml"


def manifests(plan: Plan) -> dict[str, str]:
    """{file name: YAML document}, stable across runs, sorted."""
    out: dict[str, str] = {}
    for record in plan.by_type(POLICY_TYPE):
        doc = manifest(record.inputs)
        meta = doc["metadata"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        if "." in namespace or "." in name:
            raise CheckError(f"policy {namespace}/{name}: a '.' in a namespace or policy name would make "
                             "export file names ambiguous; rename the segment or namespace")
        filename = file_name(namespace, name)
        if filename in out:
            raise CheckError(f"two policies named {namespace}/{name}: rename a segment or namespace")
        out[filename] = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    return dict(sorted(out.items()))
