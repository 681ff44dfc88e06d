"""How cloudfence scales with the number of segments, on every built-in provider.

Builds a spec of N segments with about five flows per segment: segment to segment
(one neighbour, one far away, a port range, a flow to two segments at once), to or
from a named network (with exclusions) and, for one segment in ten each way, with
`internet`. Half the segments are Kubernetes-mapped (namespace, some with labels),
all have a cidr, so every provider has work. Each N runs in a fresh subprocess, so
its peak RSS is its own: one process loads the spec and checks, compiles and
verifies it for every provider (the `verify -p all` path); a second one (up to
N = 1000 or --emit-max, "skipped" above) registers each provider's plan under the Pulumi mock
runtime, as `plan --via-pulumi` does; a third (up to --command-max) is the command itself,
`cloudfence verify SPEC -p all --format json`, timed from start to exit.

Prints, per N and provider: load (read + normalise, once per N), check+compile,
verify and emit seconds, resources, rules, and the peak RSS of each process; the
verdict of each verify; the command's wall and CPU seconds, peak RSS and verdict.
`--json` prints the same as one JSON object. Figures only, no asserts: the machine's
load changes them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROVIDERS = ("aws", "azure", "gcp", "kubernetes")
EMIT_MAX = 1000
COMMAND_MAX = 1000
PODS = "10.20.0.0/17"  # the Kubernetes-mapped segments' /28s; the others sit in 10.20.128.0/17


def _cidr(i: int) -> str:
    """Segment i's /28: pod segments (even i) in the lower half of 10.20.0.0/16, so one
    clusterCidrs entry covers them; the others in the upper half."""
    k = (i // 2) + (0 if i % 2 == 0 else 2048)
    return f"10.20.{k // 16}.{(k % 16) * 16}/28"


def _flows(i: int, n: int, nets: int) -> list[str]:
    seg = f"s{i}"
    near, far = f"s{(i + 1) % n}", f"s{(i * 7 + 3) % n if (i * 7 + 3) % n != i else (i + 2) % n}"
    pair = f"[s{(i + 5) % n}, s{(i + 11) % n}]"
    net = f"net{i % nets}"
    out = [f"{{from: {seg}, to: {near}, ports: [https]}}",
           f"{{from: {far}, to: {seg}, ports: [tcp/8000-8099, grpc]}}",
           f"{{from: {seg}, to: {pair}, ports: [metrics]}}"]
    out.append(f"{{from: {net}, to: {seg}, ports: [postgres]}}" if i % 2 else
               f"{{from: {seg}, to: {net}, ports: [udp/5000-5010]}}")
    if i % 10 == 0:
        out.append(f"{{from: internet, to: {seg}, ports: [https, tcp/8443]}}")
    elif i % 10 == 5:
        out.append(f"{{from: {seg}, to: internet, ports: [https]}}")
    else:
        out.append(f"{{from: {seg}, to: s{(i + 13) % n}, ports: [udp/6000-6100]}}")
    return out


def scale_spec(n: int) -> str:
    """The spec's YAML text: block style at the top, one line per segment, network and flow."""
    nets = max(1, n // 10)
    lines = ["version: 1", f"name: scale{n}", f"description: {n} segments, about five flows each",
             "services:", "  https: tcp/443", "  postgres: tcp/5432", "  grpc: tcp/50051",
             "  metrics: [tcp/9090-9102]", "segments:"]
    for i in range(n):
        if i % 2:
            lines.append(f"  s{i}: {{cidr: {_cidr(i)}}}")
        elif i % 4 == 0:
            lines.append(f"  s{i}: {{cidr: {_cidr(i)}, kubernetes: {{namespace: ns{i % 20}, "
                         f"labels: {{seg: s{i}}}}}}}")
        else:
            lines.append(f"  s{i}: {{cidr: {_cidr(i)}, kubernetes: {{namespace: s{i}}}}}")
    lines.append("networks:")
    for j in range(nets):
        a, b = j // 256, j % 256
        lines.append(f"  net{j}: {{include: [172.{16 + a}.{b}.0/24, {100 + a}.{b}.0.0/16], "
                     f"exclude: [172.{16 + a}.{b}.128/28]}}")
    lines.append("flows:")
    for i in range(n):
        lines += [f"  - {f}" for f in _flows(i, n, nets)]
    return "\n".join(lines) + "\n"


def settings_for(name: str) -> dict[str, Any]:
    """Settings under which every provider plans the spec (as a stack file would give them)."""
    return {
        "aws": {"vpcCidr": "10.20.0.0/16"},
        "azure": {"resourceGroupName": "rg-scale", "location": "westeurope",
                  "addressSpace": ["10.20.0.0/16"]},
        "gcp": {"project": "scale-bench", "region": "us-central1", "rulesPerProject": 100_000},
        "kubernetes": {"clusterCidrs": [PODS, "10.96.0.0/12"]},
    }[name]


def _rules(provider: Any, plan: Any, intent: Any) -> int:
    """The distinct rules (end, direction, layer, peer, ports) the plan's records give, as
    verify reads them: one more evaluation, outside the timed steps."""
    from cloudfence.attribution import rules_of

    return len(rules_of(provider.evaluate(plan, intent)))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_compile(n: int, names: list[str]) -> dict[str, Any]:
    """In this (fresh) process: load once, then check + compile and verify per provider."""
    from cloudfence.intent import parse_intent
    from cloudfence.plugins import providers
    from cloudfence.provider import checked_plan
    from cloudfence.verify import verify_plan

    text = scale_spec(n)
    t0, c0 = time.perf_counter(), time.process_time()
    intent = parse_intent(text, f"<scale {n}>")
    out: dict[str, Any] = {"segments": n, "flows": len(intent.flows),
                           "spec_kb": round(len(text.encode()) / 1000, 1),
                           "load_s": time.perf_counter() - t0, "load_cpu_s": time.process_time() - c0,
                           "providers": {}}
    installed = providers()
    for name in names:
        provider = installed[name]
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            plan = checked_plan(provider, intent, settings_for(name))
            t1, c1 = time.perf_counter(), time.process_time()
            verdict = verify_plan(intent, provider, plan, checked=True)
            t2, c2 = time.perf_counter(), time.process_time()
            out["providers"][name] = {
                "compile_s": t1 - t0, "compile_cpu_s": c1 - c0, "verify_s": t2 - t1, "verify_cpu_s": c2 - c1,
                "resources": len(plan.resources), "rules": _rules(provider, plan, intent),
                "equivalent": verdict.equivalent, "differences": verdict.total_differences}
        except Exception as exc:  # report and go on: a benchmark prints, it does not gate
            out["providers"][name] = {"failed": str(exc).splitlines()[0][:160]}
    out["total_s"] = out["load_s"] + sum(p.get("compile_s", 0) + p.get("verify_s", 0)
                                         for p in out["providers"].values())
    out["peak_mb"] = _peak_mb()
    return out


def run_emit(n: int, names: list[str]) -> dict[str, Any]:
    """In this (fresh) process: register each provider's plan under the Pulumi mocks."""
    from cloudfence.deploy.emitter import registered_plan
    from cloudfence.intent import parse_intent
    from cloudfence.plugins import providers

    intent = parse_intent(scale_spec(n), f"<scale {n}>")
    installed = providers()
    out: dict[str, Any] = {"providers": {}}
    for name in names:
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            registered = registered_plan(intent, installed[name], settings_for(name))
            out["providers"][name] = {"emit_s": time.perf_counter() - t0,
                                      "emit_cpu_s": time.process_time() - c0,
                                      "registered": len(registered["resources"])}
        except Exception as exc:
            out["providers"][name] = {"failed": str(exc).splitlines()[0][:160]}
    out["peak_mb"] = _peak_mb()
    return out


def _last_line(stderr: str) -> str:
    """Why a process failed, as its last words say it."""
    return (stderr.strip().splitlines() or ["no output"])[-1][:160]


def _child(step: str, n: int, names: list[str]) -> dict[str, Any]:
    """Run one step for one N in a fresh interpreter; its JSON is the last line it prints."""
    cmd = [sys.executable, __file__, "--child", step, "--sizes", str(n), "--providers", ",".join(names)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"failed": f"{step} exited {done.returncode}: {_last_line(done.stderr)}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_command(n: int, names: list[str]) -> dict[str, Any]:
    """`cloudfence verify SPEC -p all --format json` as a user runs it, one process from
    start to exit (imports, reading the file, printing, the command's collector policy):
    wall and CPU seconds and peak RSS of that process alone, from its own rusage."""
    with tempfile.TemporaryDirectory() as tmp:
        spec, settings = Path(tmp, "spec.yaml"), Path(tmp, "settings.yaml")
        spec.write_text(scale_spec(n))
        settings.write_text(json.dumps({f"{p}.{k}": v for p in names for k, v in settings_for(p).items()}))
        cmd = [sys.executable, "-c", "from cloudfence.cli import run; run()", "verify", str(spec),
               "-p", "all", "--settings", str(settings), "--format", "json"]
        errors = Path(tmp, "stderr")
        t0 = time.perf_counter()
        with errors.open("wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
            stdout = proc.stdout.read() if proc.stdout else b""
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        tail = _last_line(errors.read_text(errors="replace"))
    try:
        targets = json.loads(stdout)["targets"] if code in (0, 1) else None
    except (ValueError, KeyError, TypeError):
        targets = None
    if targets is None:
        return {"failed": f"verify -p all exited {code}: {tail}"}
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
            "providers": sorted(t["provider"] for t in targets),
            "equivalent": all(t.get("equivalent") is True for t in targets)}


def measure(sizes: list[int], names: list[str], emit_max: int, command_max: int,
            rounds: int = 1) -> list[dict[str, Any]]:
    """Each N's fastest of `rounds` compile processes (and commands), the sizes taken in
    turn round by round: the machine's speed drifts within minutes, so a ratio between
    sizes is read from runs side by side, each at its least disturbed. Emit runs once."""
    best: dict[int, dict[str, Any]] = {}
    commands: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    # `-p all` verifies every installed provider: timed only when those are the ones measured.
    every = set(names) == set(PROVIDERS)
    for _ in range(rounds):
        for n in sizes:
            if "failed" in best.get(n, {}):
                continue
            report = _child("compile", n, names)
            if "failed" in report:
                best[n] = {"segments": n, **report}
                continue
            peak = max(report["peak_mb"], best.get(n, report)["peak_mb"])  # memory: the most any run took
            if n not in best or report["total_s"] < best[n]["total_s"]:
                best[n] = report
            best[n]["peak_mb"] = peak
            if n <= command_max and every:
                commands[n].append(run_command(n, names))
    out = []
    for n in sizes:
        report = best[n]
        if "failed" not in report:
            timed = [c for c in commands[n] if "failed" not in c]
            report["command"] = (min(timed, key=lambda c: c["wall_s"]) if timed else
                                 commands[n][0] if commands[n] else "skipped")
            if timed:  # memory: the most any run of the command took
                report["command"] = {**report["command"], "peak_mb": max(c["peak_mb"] for c in timed)}
            report["rounds"] = rounds
            _emit(report, n, names, emit_max)
        out.append(report)
    return out


def _emit(report: dict[str, Any], n: int, names: list[str], emit_max: int) -> None:
    if n <= emit_max:
        emitted = _child("emit", n, names)
        report["emit_peak_mb"] = emitted.get("peak_mb")
        for name, m in report["providers"].items():
            e = emitted.get("providers", {}).get(name, {"failed": emitted.get("failed", "not run")})
            m.update({"emit_s": e["emit_s"], "emit_cpu_s": e["emit_cpu_s"]} if "emit_s" in e else
                     {"emit": f"failed: {e['failed']}"})
    else:
        report["emit_peak_mb"] = "skipped"
        for m in report["providers"].values():
            m["emit"] = "skipped"


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _print_table(reports: list[dict[str, Any]]) -> None:
    header = (f"{'N':>5} {'flows':>6} {'provider':<11} {'load s':>7} {'compile s':>10} {'verify s':>9} "
              f"{'emit s':>8} {'resources':>10} {'rules':>7}  verdict")
    print(header)
    print("-" * len(header))
    for r in reports:
        if "failed" in r:
            print(f"{r['segments']:>5}  failed: {r['failed']}")
            continue
        for name, m in r["providers"].items():
            if "failed" in m:
                print(f"{r['segments']:>5} {r['flows']:>6} {name:<11}  failed: {m['failed']}")
                continue
            emit = f"{m['emit_s']:.2f}" if "emit_s" in m else str(m["emit"])[:8]
            verdict = "equivalent" if m["equivalent"] else f"NOT equivalent ({m['differences']})"
            print(f"{r['segments']:>5} {r['flows']:>6} {name:<11} {r['load_s']:>7.2f} "
                  f"{m['compile_s']:>10.2f} "
                  f"{m['verify_s']:>9.2f} {emit:>8} {m['resources']:>10} {m['rules']:>7}  {verdict}")
        emit_mb = r["emit_peak_mb"]
        shown = f"{emit_mb:.0f} MB" if isinstance(emit_mb, float) else str(emit_mb)
        fastest = f" (fastest of {r['rounds']} processes)" if r["rounds"] > 1 else ""
        print(f"{'':>5} N={r['segments']}: spec {r['spec_kb']} KB; load + check + compile + verify of every "
              f"provider {r['total_s']:.2f} s{fastest}, peak RSS {r['peak_mb']:.0f} MB; "
              f"emit process peak RSS {shown}")
        c = r["command"]
        if isinstance(c, dict) and "failed" not in c:
            verdict = "every target equivalent" if c["equivalent"] else "NOT every target equivalent"
            print(f"{'':>5} N={r['segments']}: `cloudfence verify -p all` as one command "
                  f"({len(c['providers'])} targets): {c['wall_s']:.2f} s wall, {c['cpu_s']:.2f} s CPU, "
                  f"peak RSS {c['peak_mb']:.0f} MB; "
                  f"{verdict}")
        else:
            print(f"{'':>5} N={r['segments']}: `cloudfence verify -p all` as one command: "
                  f"{c['failed'] if isinstance(c, dict) else c}")
    print("\nload: read + normalise the spec (once per N); compile: check + compile; verify: evaluate + "
          "equivalence; emit: check + compile + register every record under the Pulumi mocks; "
          "rules: distinct rules of the records as verify reads them")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,3000",
                        help="segment counts (default 10,100,1000,3000)")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="providers to measure, if installed")
    parser.add_argument("--emit-max", type=int, default=EMIT_MAX,
                        help=f"largest N to emit under the Pulumi mocks (default {EMIT_MAX}; 0: none)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="processes per N, the sizes in turn; each N reports its fastest (default 1)")
    parser.add_argument("--command-max", type=int, default=COMMAND_MAX,
                        help=f"largest N to time `cloudfence verify -p all` for as a command (default "
                             f"{COMMAND_MAX}; 0: none)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", choices=["compile", "emit"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    wanted = [n for n in args.providers.split(",") if n.strip()]
    if args.child:
        step = run_compile if args.child == "compile" else run_emit
        print(json.dumps(step(sizes[0], wanted)))
        return
    from cloudfence.plugins import providers

    installed = providers()
    names = [n for n in wanted if n in installed]
    if not names:
        sys.exit(f"none of {args.providers} is installed (installed: {', '.join(installed) or 'none'})")
    reports = [_rounded(r) for r in measure(sizes, names, args.emit_max, args.command_max, args.rounds)]
    if args.json:
        print(json.dumps({"sizes": reports}, indent=2))
        return
    _print_table(reports)
    timed = [r for r in reports if "total_s" in r]
    if len(timed) >= 2:
        a, b = timed[-2], timed[-1]
        print(f"growth N={a['segments']} -> N={b['segments']}: total time x{b['total_s'] / a['total_s']:.2f} "
              f"(segments x{b['segments'] / a['segments']:.1f})")


if __name__ == "__main__":
    main()
