"""An independent evaluator agrees with verify: IBM's network-config-analyzer
(`nca`, a test dependency; the test is skipped where it is not installed) computes the
connectivity of concrete pods under the plan's policies; it matches the flows
exactly when verify says equivalent.

The pods: two per pod segment, the cluster DNS pod, a pod of no segment in
every namespace, and a pod with each segment's (and DNS) labels in another
namespace. Expected connectivity is read from the flows here, with no
cloudfence code: segment pods reach each other on their flows' TCP, UDP
and SCTP ports (every connection for `any`), every segment pod reaches the
DNS pod on TCP and UDP 53, and no pod of no segment is reached or reaches.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cloudfence.intent import Intent, load_intent, parse_intent
from cloudfence.plan import Plan, Resource
from cloudfence.provider import checked_plan
from cloudfence.providers.kubernetes.manifests import manifests
from cloudfence.providers.kubernetes.provider import KubernetesProvider
from cloudfence.verify import verify_plan

pytestmark = pytest.mark.skipif(importlib.util.find_spec("nca") is None,
                                reason="network-config-analyzer is not installed")
ROOT = Path(__file__).resolve().parents[1]
K8S = KubernetesProvider()
ANY = "All connections"
CONN = re.compile(r"\{protocols:(?P<protos>[A-Z, ]+?)(?:,dst_ports:(?P<ports>[0-9, -]+))?\}")


def pod(name: str, namespace: str, labels: dict[str, str], ip: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"podIP": ip, "hostIP": "192.0.2.1"}}


def world(intent: Intent) -> tuple[list[dict], dict[str, str | None]]:
    """Concrete pods, and the segment of each (None: no segment; '@dns')."""
    pods, owner = [], {}
    namespaces = {"kube-system"}
    n = 0
    for name, seg in sorted(intent.segments.items()):
        if seg.kubernetes is None:
            continue
        namespaces.add(seg.kubernetes.namespace)
        for r in range(2):
            n += 1
            pods.append(pod(f"{name}-{r}", seg.kubernetes.namespace, seg.kubernetes.match_labels,
                            f"10.244.0.{n}"))
            owner[f"{seg.kubernetes.namespace}/{name}-{r}"] = name
    pods.append(pod("coredns", "kube-system", {"k8s-app": "kube-dns"}, "10.244.1.1"))
    owner["kube-system/coredns"] = "@dns"
    for i, ns in enumerate(sorted(namespaces)):
        pods.append(pod("stray", ns, {"team": "other"}, f"10.244.2.{i + 1}"))
        owner[f"{ns}/stray"] = None
    for i, (name, seg) in enumerate(sorted(intent.segments.items())):
        if seg.kubernetes is not None:  # a segment's labels in a namespace of no segment
            pods.append(pod(f"twin-{name}", "elsewhere", seg.kubernetes.match_labels, f"10.244.3.{i + 1}"))
            owner[f"elsewhere/twin-{name}"] = None
    pods.append(pod("twin-dns", "elsewhere", {"k8s-app": "kube-dns"}, "10.244.4.1"))
    owner["elsewhere/twin-dns"] = None
    return pods, owner


def nca_connectivity(plan: Plan, intent: Intent, tmp: Path) -> dict[tuple[str, str], list[str]]:
    """(source pod, destination pod) -> connections, as nca reports them (a line per protocol)."""
    pods, _ = world(intent)
    (tmp / "policies").mkdir()
    for name, text in manifests(plan).items():
        (tmp / "policies" / name).write_text(text)
    namespaces = sorted({p["metadata"]["namespace"] for p in pods})
    (tmp / "pods.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": pods}))
    (tmp / "ns.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "NamespaceList", "items": [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}} for ns in namespaces]}))
    out = subprocess.run([sys.executable, "-m", "nca", "--connectivity", str(tmp / "policies"),
                          "--pod_list", str(tmp / "pods.yaml"), "--ns_list", str(tmp / "ns.yaml"),
                          "-o", "txt_no_fw_rules"], capture_output=True, text=True, timeout=120, check=True)
    found = {}
    for line in out.stdout.splitlines():
        m = re.fullmatch(r"(\S+)\[Pod\] => (\S+)\[Pod\] : (.*)", line.strip())
        if m:
            found.setdefault((m[1], m[2]), []).append(m[3])
    return found


def normal(conns: list[str]) -> frozenset | str:
    """Connections as {(protocol, low port, high port)}, or ANY."""
    if ANY in conns:
        return ANY
    out = set()
    for m in (m for conn in conns for m in CONN.finditer(conn)):
        for proto in m["protos"].replace(" ", "").split(","):
            for part in (m["ports"] or "1-65535").replace(" ", "").split(","):
                lo, _, hi = part.partition("-")
                out.add((proto.lower(), int(lo), int(hi or lo)))
    return frozenset(out)


def expected(intent: Intent, owner: dict[str, str | None],
             dns: bool) -> dict[tuple[str, str], frozenset | str]:
    ports: dict[tuple[str, str], list] = {}
    for f in intent.flows:
        # pod to pod only: of the platform endpoints, the cluster DNS pods are pods
        if f.src.kind == "segment" and (f.dst.kind == "segment" or f.dst.name == "@cluster-dns"):
            key = (f.src.name, "@dns" if f.dst.kind == "platform" else f.dst.name)
            ports.setdefault(key, []).append(f.ports)
    if dns:
        for s in owner.values():
            if s not in (None, "@dns"):
                ports.setdefault((s, "@dns"), []).append(None)
    out: dict[tuple[str, str], frozenset | str] = {}
    for a, sa in owner.items():
        for b, sb in owner.items():
            if a == b or (sa, sb) not in ports:
                continue
            sets = ports[(sa, sb)]
            if any(p is not None and p.is_any() for p in sets):
                out[(a, b)] = ANY
                continue
            conns = set()
            for p in sets:
                if p is None:
                    conns |= {("tcp", 53, 53), ("udp", 53, 53)}
                    continue
                conns |= {(proto, lo, hi) for proto, ivs in p.items() if proto in ("tcp", "udp", "sctp")
                          for lo, hi in ivs}
            out[(a, b)] = frozenset(conns)
    return out


def agree(intent: Intent, plan: Plan, tmp: Path) -> tuple[bool, bool]:
    """(nca sees exactly the flows, verify says equivalent)."""
    _, owner = world(intent)
    seen = {k: normal(v) for k, v in nca_connectivity(plan, intent, tmp).items()
            if owner.get(k[0]) not in (None, "@dns") or owner.get(k[1]) not in (None, "@dns")}
    want = expected(intent, owner, plan.settings.get("dns", True))
    return seen == want, verify_plan(intent, K8S, plan).equivalent


def example() -> tuple[Intent, Plan]:
    intent = load_intent(ROOT / "stacks" / "ai-inference" / "segments.yaml")
    stack = yaml.safe_load((ROOT / "stacks" / "ai-inference" / "Pulumi.kubernetes.yaml").read_text())
    settings = {**stack["config"]["cloudfence:providers"]["kubernetes"], "defaultDenyNamespaces": False}
    return intent, checked_plan(K8S, intent, settings)


SMALL = parse_intent("""\
version: 1
name: t
segments:
  web: {kubernetes: {namespace: serving, labels: {app: web}}}
  api: {kubernetes: {namespace: serving, labels: {app: api}}}
  db: {kubernetes: {namespace: data, labels: {app: db}}}
flows:
  - {from: web, to: api, ports: [tcp/8080, udp/9000-9001]}
  - {from: api, to: db, ports: [tcp/5432]}
  - {from: db, to: db, ports: [tcp/7000]}
""")


def widened(plan: Plan, name: str, edit) -> Plan:
    out = []
    for r in plan:
        if r.name == name:
            inputs = copy.deepcopy(r.inputs)
            edit(inputs["spec"])
            r = Resource(r.type, r.name, inputs)
        out.append(r)
    return dataclasses.replace(plan, resources=tuple(out))


def _any_namespace(spec: dict) -> None:
    for rule in spec["egress"]:
        rule["to"] = [{**p, "namespaceSelector": {}} if p.get("podSelector") == {"matchLabels": {"app": "db"}}
                      else p for p in rule["to"]]


def _whole_namespace(spec: dict) -> None:
    spec["ingress"][0]["from"] = [{"podSelector": {}}]


def _dns_to_kube_system(spec: dict) -> None:
    for rule in spec["egress"]:
        rule["to"] = [{"namespaceSelector": p["namespaceSelector"]} if p.get("podSelector", {}).get(
            "matchLabels", {}).get("k8s-app") else p for p in rule["to"]]


def _db_namespace_needs_a_label(spec: dict) -> None:
    """A label the namespace need not carry (nca's namespaces carry their name only)."""
    for rule in spec["egress"]:
        for p in rule["to"]:
            if p.get("podSelector") == {"matchLabels": {"app": "db"}}:
                p["namespaceSelector"]["matchLabels"]["env"] = "prod"


def _web_pods_need_a_label(spec: dict) -> None:
    spec["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["extra"] = "x"


CASES = {
    "example": example,
    "small": lambda: (SMALL, checked_plan(K8S, SMALL, {})),
    "small, dns off": lambda: (SMALL, checked_plan(K8S, SMALL, {"dns": False})),
    "api egress to any namespace": lambda: (SMALL, widened(checked_plan(K8S, SMALL, {}), "t-api",
                                                           _any_namespace)),
    "api ingress from the whole namespace": lambda: (SMALL, widened(checked_plan(K8S, SMALL, {}), "t-api",
                                                                    _whole_namespace)),
    "dns peer widened": lambda: (SMALL, widened(checked_plan(K8S, SMALL, {}), "t-web", _dns_to_kube_system)),
    "api egress needs a namespace label": lambda: (SMALL, widened(checked_plan(K8S, SMALL, {}), "t-api",
                                                                  _db_namespace_needs_a_label)),
    "api ingress needs a pod label": lambda: (SMALL, widened(checked_plan(K8S, SMALL, {}), "t-api",
                                                             _web_pods_need_a_label)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_nca_and_verify_agree(case, tmp_path):
    intent, plan = CASES[case]()
    nca_exact, equivalent = agree(intent, plan, tmp_path)
    assert nca_exact == equivalent
    assert equivalent == (case in ("example", "small", "small, dns off"))
