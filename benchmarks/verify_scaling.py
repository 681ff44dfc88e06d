"""How plan and verify scale with the size of a spec.

Builds synthetic specs with N segments (about three flows per segment, some to
named networks and from the internet) and prints, per N and per provider:
check+compile time, verify time (evaluate + equivalence), the number of plan
records, and the peak memory the Python heap reached (tracemalloc).

The point to read off: cost follows the number of rules the spec asks for,
not segments squared. Figures only, no asserts: run `make bench`.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cloudfence.intent import Intent, parse_intent
from cloudfence.plugins import providers
from cloudfence.provider import checked_plan
from cloudfence.verify import verify_plan

NETWORKS = 5
# Where the pods live (every segment cidr is in 10.0.0.0/16): without it the kubernetes
# check refuses private networks an ipBlock might match pods in.
SETTINGS: dict[str, dict[str, Any]] = {"kubernetes": {"clusterCidrs": ["10.0.0.0/16"]}}


def synthetic_spec(n: int) -> dict[str, Any]:
    segments = {}
    for i in range(n):
        segments[f"s{i}"] = {
            # /26 subnets inside 10.0.0.0/16: up to 1,024 segments fit one VPC
            "cidr": f"10.0.{i // 4}.{(i % 4) * 64}/26",
            "kubernetes": {"namespace": f"team-{i % 10}", "labels": {"segment": f"s{i}"}},
        }
    networks = {f"net{j}": [f"172.{16 + j}.0.0/16"] for j in range(NETWORKS)}
    flows: list[dict[str, Any]] = []
    for i in range(n):
        flows.append({"from": f"s{i}", "to": f"s{(i + 1) % n}", "ports": [f"tcp/{8000 + i % 100}"]})
        flows.append({"from": f"s{i}", "to": f"s{(i * 7 + 3) % n}", "ports": ["https"]})
        if i % 3 == 0:
            flows.append({"from": f"s{i}", "to": f"net{i % NETWORKS}", "ports": ["postgres"]})
        elif i % 3 == 1:
            flows.append({"from": f"net{i % NETWORKS}", "to": f"s{i}", "ports": ["tcp/22", "https"]})
        else:
            flows.append({"from": "internet", "to": f"s{i}", "ports": ["https"]})
    return {
        "version": 1,
        "name": f"bench{n}",
        "segments": segments,
        "networks": networks,
        "services": {"https": "tcp/443", "postgres": "tcp/5432"},
        "flows": flows,
    }


def measure(intent: Intent, provider: Any, settings: dict[str, Any]) -> dict[str, Any]:
    gc.collect()
    t0 = time.perf_counter()
    plan = checked_plan(provider, intent, settings)
    t1 = time.perf_counter()
    verdict = verify_plan(intent, provider, plan)
    t2 = time.perf_counter()
    gc.collect()
    tracemalloc.start()
    verify_plan(intent, provider, checked_plan(provider, intent, settings))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"compile": t1 - t0, "verify": t2 - t1, "rules": len(plan.resources),
            "equivalent": verdict.equivalent, "classes": verdict.connections, "peak": peak}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200,500", help="segment counts (default 10,50,200,500)")
    parser.add_argument("--providers", default="kubernetes,aws",
                        help="providers to measure, if installed (default kubernetes,aws)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    installed = providers()
    names = [n for n in args.providers.split(",") if n in installed]
    if not names:
        sys.exit(f"none of {args.providers} is installed (installed: {', '.join(installed) or 'none'})")

    header = (f"{'provider':<11} {'N':>5} {'flows':>6} {'records':>8} {'classes':>8} {'compile s':>10} "
              f"{'verify s':>9} {'ms/flow':>8} {'peak MB':>8}  verdict")
    print(header)
    print("-" * len(header))
    results: dict[str, list[tuple[int, int, int, float]]] = {name: [] for name in names}
    for n in sizes:
        t = time.perf_counter()
        intent = parse_intent(yaml.safe_dump(synthetic_spec(n), sort_keys=False), f"<bench {n}>")
        load = time.perf_counter() - t
        flows = len(intent.flows)
        for name in names:
            try:
                m = measure(intent, installed[name], SETTINGS.get(name, {}))
            except Exception as exc:  # report and go on: a benchmark prints, it does not gate
                reason = str(exc).splitlines()[0]
                reason = reason if len(reason) <= 160 else reason[:157] + "..."
                print(f"{name:<11} {n:>5} {flows:>6}  failed: {reason}")
                continue
            total = m["compile"] + m["verify"]
            results[name].append((n, flows, m["rules"], total))
            print(f"{name:<11} {n:>5} {flows:>6} {m['rules']:>8} {m['classes']:>8} "
                  f"{m['compile']:>10.3f} {m['verify']:>9.3f} {1000 * total / flows:>8.2f} "
                  f"{m['peak'] / 1e6:>8.1f}  {'equivalent' if m['equivalent'] else 'NOT equivalent'}")
        print(f"{'(load)':<11} {n:>5} {flows:>6} {'':>8} {'':>8} {load:>10.3f}")
    print("\ngrowth from the smallest to the largest N (time = check+compile+verify):")
    for name, rows in results.items():
        if len(rows) < 2:
            continue
        (n0, f0, r0, t0), (n1, f1, r1, t1) = rows[0], rows[-1]
        print(f"  {name:<11} N x{n1 / n0:.0f}: flows x{f1 / f0:.0f}, records x{r1 / max(r0, 1):.0f}, "
              f"time x{t1 / max(t0, 1e-9):.0f}   (segments squared would be x{(n1 / n0) ** 2:.0f})")
    print("\nrecords: plan resources; classes: connection classes compared by verify; peak MB: Python heap"
          "\nduring one compile+verify (tracemalloc); (load): parsing and normalising the spec.")


if __name__ == "__main__":
    main()
