"""cloudfence against Aerleon's `aclgen` on one intent, whole processes timed side by side.

One synthetic intent at size N (N segments, each a /24 and a pod label set; five flows per
segment to other segments, on tcp services that rotate, some of them port ranges) is written
twice: as a cloudfence spec, and as an Aerleon policy (networks.net, services.svc, and a .pol
with a gce header and a k8s header). Before any timing both are checked to express the same
allow set: Aerleon's rendered rules are read back and compared with the flows, and cloudfence's
own `verify` must find its plans equivalent to them.

Then, in interleaved rounds (the order alternates each round, so a busy spell of the machine
hits both tools alike), each command runs as a fresh process and its wall and CPU time
(user + system, children included) are taken; the table shows medians:

- per target: `aclgen` on a policy with that target's header only, against cloudfence's
  `plan SPEC -p T --format json` (the plan JSON) plus `verify SPEC -p T --format json`
  (the verdict JSON): spec file in, plan and verdict out;
- both targets: one `aclgen` run rendering gce and k8s (one policy file, both headers),
  against one cloudfence process per command for a stack that deploys both targets
  (`plan --stack` and `verify --stack`, the stack file naming gcp and kubernetes); the
  target is that `verify` process, which is load + check + compile + verify of both.
  The four single-target processes above are summed as well, for reference.

aclgen runs with `--max_renderers 1`: one policy file gains nothing from its process pool,
which only adds start-up cost. Figures only, no asserts. Needs the `bench` extra
(`pip install -e '.[bench]'`); exits 2 without it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OFFSETS = (1, 2, 3, 5, 8)  # each segment's flows go to the segments this far ahead
SINGLE = 8  # services tcp/8000 ... tcp/8007
RANGES = 4  # services tcp/9000-9009 ... tcp/9030-9039
NETWORK = "bench-net"
SUPERNET = "10.0.0.0/14"  # holds 1,024 /24 segments
NAMESPACE = "bench"
# rulesPerProject: the project's raised firewall-rule quota (N=1000 needs 14,000 rules)
GCP = {"project": "bench-project", "network": NETWORK, "subnetworkCidrs": [SUPERNET],
       "rulesPerProject": 20000}
KUBERNETES: dict[str, Any] = {}
TARGETS = (("gcp", "gce"), ("kubernetes", "k8s"))  # cloudfence provider, Aerleon platform


@dataclass(frozen=True)
class Flow:
    name: str
    src: int
    dst: int
    services: tuple[str, ...]


@dataclass(frozen=True)
class Bench:
    n: int
    services: dict[str, tuple[int, int]]  # name -> (first, last) tcp port
    flows: tuple[Flow, ...]

    @staticmethod
    def cidr(i: int) -> str:
        return f"10.{i // 256}.{i % 256}.0/24"

    def allowed(self) -> set[tuple[int, int, int, int]]:
        """(source segment, destination segment, first port, last port): the intended allow set."""
        return {(f.src, f.dst, *self.services[s]) for f in self.flows for s in f.services}


def build(n: int) -> Bench:
    if not len(OFFSETS) < n <= 1024:
        raise SystemExit(f"N must be between {len(OFFSETS) + 1} and 1024 (one /24 each in {SUPERNET})")
    services = {f"svc{j}": (8000 + j, 8000 + j) for j in range(SINGLE)}
    services |= {f"range{j}": (9000 + 10 * j, 9009 + 10 * j) for j in range(RANGES)}
    names = list(services)
    flows = []
    for i in range(n):
        for k, offset in enumerate(OFFSETS):
            f = i * len(OFFSETS) + k
            chosen = (names[f % len(names)],)
            if f % 3 == 0:  # a third of the flows name two services
                chosen += (names[(f + 5) % len(names)],)
            flows.append(Flow(f"f{f}-s{i}-s{(i + offset) % n}", i, (i + offset) % n, chosen))
    return Bench(n, services, tuple(flows))


# ---------------------------------------------------------------- the two documents


def cloudfence_spec(b: Bench) -> dict[str, Any]:
    return {
        "version": 1,
        "name": f"bench{b.n}",
        # one namespace: Aerleon's NetworkPolicyList applies in the one namespace it is applied to
        "segments": {f"s{i}": {"cidr": b.cidr(i), "kubernetes": {
            "namespace": NAMESPACE, "labels": {"segment": f"s{i}"}}} for i in range(b.n)},
        "services": {name: f"tcp/{lo}" if lo == hi else f"tcp/{lo}-{hi}"
                     for name, (lo, hi) in b.services.items()},
        "flows": [{"from": f"s{f.src}", "to": f"s{f.dst}", "ports": list(f.services)} for f in b.flows],
    }


def aerleon_networks(b: Bench) -> str:
    return "".join(f"SEG_S{i} = {b.cidr(i)}\n" for i in range(b.n))


def aerleon_services(b: Bench) -> str:
    return "".join(f"{name.upper()} = {lo}/tcp\n" if lo == hi else f"{name.upper()} = {lo}-{hi}/tcp\n"
                   for name, (lo, hi) in b.services.items())


def aerleon_policy(b: Bench, platforms: Sequence[str]) -> str:
    """One filter per platform, one term per flow. gce names the destination by its network
    tag (as cloudfence's gcp target does by default); Aerleon's k8s generator selects pods
    only by address, so its ingress terms name the source /24 and apply to every pod."""
    out = []
    for platform in platforms:
        target = f"gce {NETWORK} INGRESS" if platform == "gce" else "k8s INGRESS"
        out.append(f'header {{\n  comment:: "bench{b.n}"\n  target:: {target}\n}}\n')
        for f in b.flows:
            dst = f"  destination-tag:: s{f.dst}\n" if platform == "gce" else ""
            ports = " ".join(s.upper() for s in f.services)
            out.append(f"term {f.name} {{\n  source-address:: SEG_S{f.src}\n{dst}  protocol:: tcp\n"
                       f"  destination-port:: {ports}\n  action:: accept\n}}\n")
    return "\n".join(out)


@dataclass(frozen=True)
class Workdir:
    root: Path
    spec: Path
    settings: Path
    stack: Path
    definitions: Path

    def base(self, platforms: str) -> Path:
        return self.root / f"aerleon-{platforms}"


def write(b: Bench, root: Path) -> Workdir:
    w = Workdir(root, root / "spec.yaml", root / "settings.yaml", root / "Pulumi.bench.yaml", root / "def")
    w.spec.write_text(yaml.safe_dump(cloudfence_spec(b), sort_keys=False), encoding="utf-8")
    settings = {f"gcp.{k}": v for k, v in GCP.items()} | {f"kubernetes.{k}": v for k, v in KUBERNETES.items()}
    w.settings.write_text(yaml.safe_dump(settings), encoding="utf-8")
    stack = {"config": {"cloudfence:spec": w.spec.name,
                        "cloudfence:providers": {"gcp": GCP, "kubernetes": KUBERNETES}}}
    w.stack.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    w.definitions.mkdir()
    (w.definitions / "networks.net").write_text(aerleon_networks(b), encoding="utf-8")
    (w.definitions / "services.svc").write_text(aerleon_services(b), encoding="utf-8")
    for platforms in ("gce", "k8s", "gce+k8s"):
        (w.base(platforms) / "pol").mkdir(parents=True)
        (w.base(platforms) / "pol" / "bench.pol").write_text(
            aerleon_policy(b, platforms.split("+")), encoding="utf-8")
    return w


# ---------------------------------------------------------------- processes


@dataclass(frozen=True)
class Job:
    label: str
    argv: tuple[str, ...]
    stdout: str | None = None  # a file name in the run's output folder


def tool(name: str) -> str:
    """The tool of the interpreter that runs this script, so both sides use one environment."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def jobs(w: Workdir) -> list[Job]:
    cf, spec, settings = tool("cloudfence"), str(w.spec), str(w.settings)
    out: list[Job] = []
    for platforms in ("gce", "k8s", "gce+k8s"):
        out.append(Job(f"aclgen {platforms}", (tool("aclgen"), "--base_directory", str(w.base(platforms)),
                                                "--definitions_directory", str(w.definitions),
                                                "--max_renderers", "1", "--output_directory", "{out}")))
    for provider, _ in TARGETS:
        for command in ("plan", "verify"):
            out.append(Job(f"cloudfence {command} {provider}",
                           (cf, command, spec, "-p", provider, "--settings", settings, "--format", "json"),
                           f"{command}.json"))
    for command in ("plan", "verify"):
        out.append(Job(f"cloudfence {command} both",
                       (cf, command, spec, "--stack", str(w.stack), "--format", "json"), f"{command}.json"))
    return out


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def run(job: Job, out_dir: Path) -> Timing:
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [a.replace("{out}", str(out_dir)) for a in job.argv]
    stdout_path = out_dir / (job.stdout or "stdout.txt")
    with stdout_path.open("wb") as stdout, (out_dir / "stderr.txt").open("wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = (out_dir / "stderr.txt").read_text(errors="replace")[-2000:]
        raise SystemExit(f"{job.label} exited {proc.returncode}: {' '.join(argv)}\n{err}")
    return Timing(wall, usage.ru_utime + usage.ru_stime)


# ---------------------------------------------------------------- the same allow set


def _ports(text: str) -> tuple[int, int]:
    lo, _, hi = str(text).partition("-")
    return int(lo), int(hi or lo)


def read_gce(path: Path, by_cidr: dict[str, int]) -> tuple[int, set[tuple[int, int, int, int]]]:
    rules = json.loads(path.read_text(encoding="utf-8"))
    found = set()
    for rule in rules:
        for cidr in rule["sourceRanges"]:
            for tag in rule["targetTags"]:
                for allowed in rule["allowed"]:
                    found |= {(by_cidr[cidr], int(tag[1:]), *_ports(p)) for p in allowed["ports"]}
    return len(rules), found


def read_k8s(path: Path, by_cidr: dict[str, int]) -> tuple[int, set[tuple[int, int, int]], bool]:
    """Rules, the (source, ports) they allow, and whether every policy selects every pod."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    found = set()
    for policy in items:
        for rule in policy["spec"]["ingress"]:
            for peer in rule["from"]:
                for port in rule["ports"]:
                    last = port.get("endPort", port["port"])
                    found.add((by_cidr[peer["ipBlock"]["cidr"]], port["port"], last))
    return len(items), found, all(p["spec"]["podSelector"] == {} for p in items)


def check_same(b: Bench, w: Workdir) -> dict[str, Any]:
    """Render once with each tool and read the results back; refuse to time tools that disagree."""
    out = w.root / "check"
    aerleon = out / "aerleon"
    job = next(j for j in jobs(w) if j.label == "aclgen gce+k8s")
    run(job, aerleon)
    by_cidr = {b.cidr(i): i for i in range(b.n)}
    want = b.allowed()
    gce_rules, gce = read_gce(aerleon / "bench.gce", by_cidr)
    k8s_rules, k8s, all_pods = read_k8s(aerleon / "bench.yml", by_cidr)
    problems = []
    if gce != want:
        problems.append(f"aclgen gce allows {len(gce ^ want)} (source, destination, ports) "
                        "different from the flows")
    if k8s != {(s, lo, hi) for s, _, lo, hi in want}:
        problems.append("aclgen k8s allows (source, ports) different from the flows")
    counts: dict[str, Any] = {"flows": len(b.flows), "aclgen gce rules": gce_rules,
                              "aclgen k8s policies": k8s_rules, "aclgen k8s selects every pod": all_pods}
    for name, _ in TARGETS:
        folder = out / f"cloudfence-{name}"
        for job in jobs(w):
            if job.label in (f"cloudfence plan {name}", f"cloudfence verify {name}"):
                run(job, folder)
        verdict = json.loads((folder / "verify.json").read_text(encoding="utf-8"))["targets"][0]
        plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
        counts[f"cloudfence {name} records"] = len(plan["resources"])
        if not verdict["equivalent"] or verdict["flowsJudged"] != len(b.flows):
            problems.append(f"cloudfence verify {name}: equivalent={verdict['equivalent']}, "
                            f"{verdict['flowsJudged']} of {len(b.flows)} flows judged")
    folder = out / "cloudfence-both"
    for job in jobs(w):
        if job.label in ("cloudfence plan both", "cloudfence verify both"):
            run(job, folder)
    verdicts = json.loads((folder / "verify.json").read_text(encoding="utf-8"))["targets"]
    plans = json.loads((folder / "plan.json").read_text(encoding="utf-8"))["plans"]
    if sorted(v["target"] for v in verdicts if v["equivalent"]) != sorted(p for p, _ in TARGETS) or \
            sorted(p["provider"] for p in plans) != sorted(p for p, _ in TARGETS):
        problems.append("cloudfence verify --stack: not both targets equivalent, or plan --stack "
                        "did not write both plans")
    if problems:
        raise SystemExit(f"N={b.n}: the two documents do not say the same thing:\n  " + "\n  ".join(problems))
    return counts


# ---------------------------------------------------------------- measuring


def measure(n: int, rounds: int, keep: Path | None) -> dict[str, Any]:
    b = build(n)
    with tempfile.TemporaryDirectory(prefix=f"aerleon-compare-{n}-") as tmp:
        root = keep / f"n{n}" if keep else Path(tmp)
        if keep:
            root.mkdir(parents=True, exist_ok=False)  # never write over an earlier run's files
        w = write(b, root)
        counts = check_same(b, w)
        todo = jobs(w)
        times: dict[str, list[Timing]] = {j.label: [] for j in todo}
        aclgen = [j for j in todo if j.label.startswith("aclgen")]
        cloudfence = [j for j in todo if j.label.startswith("cloudfence")]
        for r in range(rounds):
            # alternate which tool goes first; within a round pair each aclgen run with a cloudfence one
            first, second = (aclgen, cloudfence) if r % 2 == 0 else (cloudfence, aclgen)
            order = [j for pair in zip(first, second[:len(first)], strict=False) for j in pair]
            order += first[len(second):] + second[len(first):]
            for job in order:
                took = run(job, root / "runs" / f"{r}-{job.label.replace(' ', '-')}")
                times[job.label].append(took)
                print(f"N={n} round {r + 1}: {job.label} {took.wall:.2f} s ({took.cpu:.2f} cpu)",
                      file=sys.stderr, flush=True)
    med = {label: {"wall": statistics.median(t.wall for t in ts), "cpu": statistics.median(t.cpu for t in ts)}
           for label, ts in times.items()}
    return {"n": n, "segments": n, "flows": len(b.flows), "rounds": rounds, "counts": counts,
            "median": med, "ratios": ratios(med)}


def ratios(med: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """aclgen time / cloudfence time, by wall and by CPU (above 1: cloudfence is faster)."""
    def cf(commands: Sequence[str], providers: Sequence[str], key: str) -> float:
        return sum(med[f"cloudfence {c} {p}"][key] for c in commands for p in providers)

    keys = ("wall", "cpu")
    providers = [p for p, _ in TARGETS]
    out = {p: {k: med[f"aclgen {a}"][k] / cf(("plan", "verify"), [p], k) for k in keys} for p, a in TARGETS}
    both = med["aclgen gce+k8s"]
    out["both"] = {k: both[k] / cf(("plan", "verify"), ["both"], k) for k in keys}
    out["verify both"] = {k: both[k] / cf(("verify",), ["both"], k) for k in keys}
    out["separately"] = {k: both[k] / cf(("plan", "verify"), providers, k) for k in keys}
    out["verify separately"] = {k: both[k] / cf(("verify",), providers, k) for k in keys}
    return out


def report(result: dict[str, Any]) -> str:
    med, rat = result["median"], result["ratios"]
    counts = result["counts"]
    lines = [f"N={result['n']}: {result['segments']} segments, {result['flows']} flows, "
             f"median of {result['rounds']} interleaved rounds, seconds wall (cpu)",
             "  checked: " + ", ".join(f"{k} {v}" for k, v in counts.items())]

    def cell(label: str) -> str:
        return f"{med[label]['wall']:7.2f} ({med[label]['cpu']:6.2f})"

    def ratio(key: str) -> str:
        return f"{rat[key]['wall']:5.2f}x ({rat[key]['cpu']:.2f}x)"

    header = f"  {'target':<18}{'aclgen':>17}{'cf plan':>17}{'cf verify':>17}   aclgen / (plan + verify)"
    lines.append(header)
    for provider, platform in TARGETS:
        lines.append(f"  {provider + ' | ' + platform:<18}{cell('aclgen ' + platform):>17}"
                     f"{cell('cloudfence plan ' + provider):>17}{cell('cloudfence verify ' + provider):>17}"
                     f"   {ratio(provider)}")
    lines.append(f"  {'both (one stack)':<18}{cell('aclgen gce+k8s'):>17}{cell('cloudfence plan both'):>17}"
                 f"{cell('cloudfence verify both'):>17}   {ratio('both')}")
    lines.append(f"  {'both (separately)':<18}{cell('aclgen gce+k8s'):>17}{'(sum of the single targets)':>34}"
                 f"   {ratio('separately')}")
    v = rat["verify both"]
    met = "met" if v["wall"] >= 3 and v["cpu"] >= 3 else "not met"
    lines.append(f"  aclgen gce+k8s (one run) / cloudfence load+check+compile+verify of both targets "
                 f"(one verify of the stack): {ratio('verify both')}; target 3x: {met}")
    lines.append(f"  the same with one verify process per target: {ratio('verify separately')}")
    return "\n".join(lines)


def compiled() -> None:
    """Write cloudfence's bytecode first, as a wheel install does (pip compiled aclgen's):
    an editable install has none, and under PYTHONDONTWRITEBYTECODE each timed process
    would compile cloudfence's modules again."""
    import compileall

    import cloudfence
    import cloudfence.providers

    for folder in {Path(cloudfence.__file__).parent, *map(Path, cloudfence.providers.__path__)}:
        compileall.compile_dir(folder, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated N (segments), default 100,1000")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per N (median), default 3")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--keep", metavar="DIR", type=Path,
                        help="write the documents and outputs under DIR instead of a temporary folder")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("aerleon") is None:
        print("aerleon is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    compiled()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for n in sizes:
        result = measure(n, args.rounds, args.keep)
        results.append(result)
        if not args.json:
            print(report(result), flush=True)
            print()
    if args.json:
        machine = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
        print(json.dumps({**machine, "sizes": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
