"""`cloudfence export` owns its output folder.

Every manifest carries the labels below (checked before anything is written),
so a folder is recognised as one export of one spec: re-exporting removes the
files of the previous export that the new plan no longer has (a stale policy
left behind would keep a connection open that the spec and verify say is
closed), refuses to mix with files it did not write unless forced, and writes a
kustomization.yaml listing the manifests, so `kubectl apply -k DIR` and GitOps
tools take the folder as one unit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cloudfence.errors import CheckError, CloudfenceError, Problem

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "cloudfence"
SPEC_LABEL = "cloudfence.io/spec"
KUSTOMIZATION = "kustomization.yaml"
MAX_MANIFEST_BYTES = 5_000_000


@dataclass(frozen=True)
class Written:
    written: list[Path]
    removed: list[Path]


def _docs(text: str) -> Iterator[Any]:
    return (d for d in yaml.safe_load_all(text) if d is not None)


def _labels(doc: Any) -> Mapping[str, Any]:
    meta = doc.get("metadata") if isinstance(doc, Mapping) else None
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def owner(text: str) -> str | None:
    """The spec a file was exported for, or None when cloudfence did not write it."""
    try:
        docs = list(_docs(text))
    except yaml.YAMLError:
        return None
    specs = {_labels(d).get(SPEC_LABEL) if _labels(d).get(MANAGED_BY_LABEL) == MANAGED_BY else None
             for d in docs}
    if len(specs) != 1:
        return None
    spec = specs.pop()
    return spec if isinstance(spec, str) else None


def kustomization(spec: str, names: list[str]) -> str:
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
           "metadata": {"name": spec, "labels": {MANAGED_BY_LABEL: MANAGED_BY, SPEC_LABEL: spec}},
           "resources": sorted(names)}
    head = f"# Written by cloudfence export for spec '{spec}'; apply with: kubectl apply -k <this folder>\n"
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def check_manifests(provider: str, spec: str, files: Mapping[str, str]) -> None:
    """Names that stay inside the folder, and the labels that make the folder ours."""
    problems = []
    for name, text in files.items():
        if (not name or "/" in name or "\\" in name or name.startswith(".") or name == KUSTOMIZATION
                or not name.endswith((".yaml", ".yml", ".json")) or not name.isprintable()):
            problems.append(Problem("", f"provider {provider} produced an unusable file name {name!r} "
                                    "(a bug in the provider)"))
            continue
        if owner(text) != spec:
            problems.append(Problem("", f"provider {provider} produced {name} without the labels "
                                    f"{MANAGED_BY_LABEL}={MANAGED_BY} and {SPEC_LABEL}={spec} on every "
                                    "object (a bug in the provider)"))
    if problems:
        raise CheckError(problems)


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


def _read_small(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def write_export(out_dir: str, spec: str, files: Mapping[str, str], force: bool = False) -> Written:
    """Write `files` and the kustomization into `out_dir`, removing what an earlier
    export of the same spec wrote that is no longer planned. Nothing is written when
    the folder cannot be used."""
    out = Path(out_dir)
    place = out_dir
    if out.exists() and not out.is_dir():
        raise CloudfenceError(Problem("", "the output exists and is not a folder: give a folder path",
                                      place))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (NotADirectoryError, FileExistsError):
        raise CloudfenceError(Problem("", "cannot create the output folder: a part of the path is a file",
                                      place)) from None
    except OSError as exc:
        raise CloudfenceError(Problem("", f"cannot create the output folder: {_why(exc)}", place)) from None
    try:
        entries = sorted(out.iterdir())
    except OSError as exc:
        raise CloudfenceError(Problem("", f"cannot read the output folder: {_why(exc)}", place)) from None
    ours, foreign = [], []
    for entry in entries:
        text = _read_small(entry) if entry.is_file() and not entry.is_symlink() else None
        written_for = owner(text) if text is not None else None
        if written_for == spec:
            ours.append(entry)
        else:
            foreign.append(f"{entry.name} (exported for spec '{written_for}')" if written_for
                           else entry.name + ("/" if entry.is_dir() else ""))
    if foreign and not force:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise CloudfenceError(Problem("", f"the output folder holds files this export did not write: "
                                      f"{shown}; export into an empty folder or one it wrote before, or "
                                      "pass --force to write beside them", place))
    everything = {**files, KUSTOMIZATION: kustomization(spec, list(files))}
    written = []
    for name, text in sorted(everything.items()):
        target = out / name
        tmp = out / f".{name}.cloudfence-tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CloudfenceError(Problem("", f"cannot write {name}: {_why(exc)}", place)) from None
        written.append(target)
    removed = []
    for entry in ours:
        if entry.name not in everything:
            try:
                entry.unlink()
            except OSError as exc:
                raise CloudfenceError(Problem("", f"cannot remove the stale {entry.name}: {_why(exc)}",
                                              place)) from None
            removed.append(entry)
    return Written(written, removed)
