"""Test support: "install" plugin packages into a throwaway site directory.

pip records an installed package's entry points in `<name>.dist-info/entry_points.txt`;
`importlib.metadata` (and so pluggy) finds any such folder on sys.path. Writing that
folder into a temporary directory on PYTHONPATH installs a plugin for one subprocess
without pip and without touching core/.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
GROUP = "cloudfence.providers"
FAKE_ENTRY_POINTS = {
    "fakecloud": "fakecloud_provider.plugin",
    "fakecloud-leaky": "fakecloud_provider.leaky",
}
BUILTIN = ("aws", "azure", "gcp", "kubernetes")


def write_dist_info(site: Path, dist: str, version: str, entry_points: dict[str, str]) -> Path:
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = [f"[{GROUP}]", *(f"{name} = {module}" for name, module in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info


def installed_names() -> set[str]:
    return {ep.name for ep in importlib.metadata.entry_points(group=GROUP)}


def builtin_available() -> list[str]:
    """Built-in providers whose plugin module exists in this source tree."""
    return [n for n in BUILTIN if (ROOT / "providers" / n / "plugin.py").exists()]


def site_env(site: Path, fake: bool = False, builtin: bool = True) -> dict[str, str]:
    """Environment for a `python -m cloudfence.cli` subprocess.

    fake: also install the fakecloud plugins. builtin: make the built-in providers
    findable even when the project is run from a source tree that pip has not
    installed (when it is installed, its own entry points are used and these are
    skipped by name).
    """
    site.mkdir(parents=True, exist_ok=True)
    paths = [str(site)]
    if fake:
        write_dist_info(site, "fakecloud", "0.1", FAKE_ENTRY_POINTS)
        paths.append(str(HERE))
    if builtin:
        missing = {n: f"providers.{n}.plugin" for n in builtin_available() if n not in installed_names()}
        if missing:
            write_dist_info(site, "cloudfence_builtin_providers", "0", missing)
    paths.append(str(ROOT))
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    env.pop("COLUMNS", None)
    return env


CLI = [sys.executable, "-m", "cloudfence.cli"]
EXAMPLE = ROOT / "stacks" / "ai-inference" / "segments.yaml"
K8S_STACK = EXAMPLE.parent / "Pulumi.kubernetes.yaml"
# Where the example's pods live: without it the kubernetes check refuses the example's
# private networks (an ipBlock there might match pods). Scoped, so it also serves `-p all`,
# as does the region of the network gcp creates (without one its check refuses the plan).
CLUSTER_CIDRS = ["10.20.1.0/24", "10.20.2.0/24", "10.20.4.0/24", "10.20.6.0/24", "10.96.0.0/12"]
# What the example's platform endpoints are on Kubernetes (it has no native name for them):
# the nodes a load balancer's traffic comes from, and where pods reach the object store.
NODE_CIDRS = ["10.20.0.0/24"]
OBJECT_STORAGE_CIDRS = ["199.36.153.8/30"]
#: The example's kubernetes settings as a mapping, for in-process tests.
K8S_EXAMPLE = {"clusterCidrs": CLUSTER_CIDRS, "nodeCidrs": NODE_CIDRS,
               "objectStorageCidrs": OBJECT_STORAGE_CIDRS}
#: `@object-storage` on AWS: in network mode the S3 gateway endpoint of the region; with
#: an existing VPC (`vpcId`) the region's S3 prefix list.
AWS_EXAMPLE = {"region": "us-east-1"}
S3_PREFIX_LIST = "pl-63a5400a"
EXISTING_VPC_S3 = {"objectStoragePrefixList": S3_PREFIX_LIST}
GCP_REGION = ("--set", "gcp.region=us-central1")
AWS_S3 = ("--set", "aws.region=us-east-1")
CLUSTER = ("--set", f"kubernetes.clusterCidrs=[{', '.join(CLUSTER_CIDRS)}]",
           "--set", f"kubernetes.nodeCidrs=[{', '.join(NODE_CIDRS)}]",
           "--set", f"kubernetes.objectStorageCidrs=[{', '.join(OBJECT_STORAGE_CIDRS)}]",
           *GCP_REGION, *AWS_S3)
# Where the example's Azure resources go: azure refuses to plan without them. Scoped, so
# `-p all` hands them to azure only.
AZURE_PLACE = ("--set", "azure.resourceGroupName=rg-ai-inference", "--set", "azure.location=westeurope")
#: What `-p all` needs for the example: every built-in target's required settings.
ALL_TARGETS = (*CLUSTER, *AZURE_PLACE)


def run_cli(args: Sequence[str], env: dict[str, str], timeout: float = 60,
            cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run `cloudfence ARGS` as a user would: a fresh interpreter, text output."""
    return subprocess.run([*CLI, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def fake_providers() -> dict[str, object]:
    """The fakecloud providers, imported in-process (no entry points involved)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from fakecloud_provider.leaky import LeakyProvider
    from fakecloud_provider.provider import FakeCloudProvider

    return {"fakecloud": FakeCloudProvider(), "fakecloud-leaky": LeakyProvider()}


def invoke(*args: object) -> tuple[int, str, str]:
    """Run the CLI in process (fast); unexpected exceptions propagate to the test."""
    from click.testing import CliRunner

    from cloudfence.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
