"""How verify scales with many named networks and many ports per flow.

Builds a spec of N distinct networks (each a few public /24s and one private
range outside every segment cidr), a handful of segments with cidrs and pod
labels, and one flow per network -- from the network to a segment, or from a
segment to it -- each with P tcp ports (services, literals, some ranges). With
the defaults (1,024 networks x 20 ports) the YAML is about 535 KB.

Prints, per provider, load (parse + normalise), check + compile and verify
separately. The point to read off: verify's cost follows the rules, not
networks x ports x segments. Figures only, no asserts.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cloudfence.intent import parse_intent
from cloudfence.plugins import providers
from cloudfence.provider import checked_plan
from cloudfence.verify import verify_plan

SEGMENTS = 8
GROUPS = 2 * SEGMENTS  # (segment, direction): networks of one group sit side by side
SERVICES = {"https": "tcp/443", "http": "tcp/80", "postgres": "tcp/5432", "redis": "tcp/6379",
            "grpc": "tcp/50051", "metrics": ["tcp/9090-9102"], "kafka": ["tcp/9092-9094"],
            "ssh": "tcp/22"}
OWN = 4  # ports of each flow alone; the rest are shared by the flows of its group


def _ports(j: int, count: int) -> list[str]:
    """`count` distinct tcp ports for flow j: services, one range and literals
    shared by its group, plus up to OWN literals of its own."""
    g = j % GROUPS
    names = list(SERVICES)
    out = [names[(g + k) % len(names)] for k in range(min(3, count))]
    if count > len(out):
        lo = 20000 + g * 100
        out.append(f"tcp/{lo}-{lo + 9}")
    own = min(OWN, count - len(out))
    k = 0
    while len(out) < count - own:
        out.append(f"tcp/{30000 + g * 200 + k * 3}")
        k += 1
    out += [f"tcp/{40000 + j * 8 + 2 * k}" for k in range(own)]  # apart: no range merges them
    return out


def _network(j: int) -> list[str]:
    """Two public /24s and one private /24 in 172.16.0.0/12 (no segment uses it),
    next to those of the other networks of its group."""
    g, m = j % GROUPS, j // GROUPS
    return [f"{20 + g}.{m // 256}.{m % 256}.0/24", f"{20 + g}.{64 + m // 256}.{m % 256}.0/24",
            f"172.{16 + g}.{m % 256}.0/24"]


def networks_spec(networks: int, ports: int) -> dict[str, Any]:
    segments = {
        f"seg{i}": {
            "description": f"workload tier {i}",
            "cidr": f"10.0.{i}.0/24",
            "kubernetes": {"namespace": f"team-{i % 3}", "labels": {"cloudfence.io/segment": f"seg{i}"}},
        }
        for i in range(SEGMENTS)
    }
    nets = {f"partner-{j:04d}": _network(j) for j in range(networks)}
    flows: list[dict[str, Any]] = []
    for j in range(networks):
        g = j % GROUPS
        seg, net = f"seg{g % SEGMENTS}", f"partner-{j:04d}"
        src, dst = (net, seg) if g < SEGMENTS else (seg, net)
        about = (f"{src} calls {dst}: partner integration {j}; contract, owner and review in the "
                 f"partner register (runbook INT-{j:04d})")
        flows.append({"from": src, "to": dst, "ports": _ports(j, ports), "description": about})
    flows.append({"from": "internet", "to": "seg0", "ports": ["https"], "description": "public API"})
    flows.append({"from": "seg1", "to": "internet", "ports": ["https"], "description": "webhooks"})
    return {"version": 1, "name": f"networks{networks}x{ports}", "segments": segments,
            "networks": nets, "services": SERVICES, "flows": flows}


def settings_for(name: str, provider: Any) -> dict[str, Any]:
    """Settings under which the provider's check passes for the segment cidrs."""
    if name == "aws":
        # one group holds about 60 shared rules plus OWN per network address block
        return {"vpcCidr": "10.0.0.0/16", "rulesPerSecurityGroup": 1000}
    if name == "kubernetes":
        return {"clusterCidrs": ["10.0.0.0/16"]}
    return {}


def measure(intent: Any, provider: Any, settings: dict[str, Any]) -> dict[str, Any]:
    gc.collect()
    # Wall and CPU time both: on a shared machine the wall clock includes waiting.
    t0, c0 = time.perf_counter(), time.process_time()
    plan = checked_plan(provider, intent, settings)
    t1, c1 = time.perf_counter(), time.process_time()
    verdict = verify_plan(intent, provider, plan)
    t2, c2 = time.perf_counter(), time.process_time()
    return {"compile_s": t1 - t0, "verify_s": t2 - t1, "compile_cpu_s": c1 - c0, "verify_cpu_s": c2 - c1,
            "records": len(plan.resources),
            "classes": verdict.connections, "equivalent": verdict.equivalent,
            "differences": verdict.total_differences}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=1024, help="named networks (default 1024)")
    parser.add_argument("--ports", type=int, default=20, help="ports per flow (default 20)")
    parser.add_argument("--providers", default="kubernetes,aws",
                        help="providers to measure, if installed (default kubernetes,aws)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    installed = providers()
    names = [n for n in args.providers.split(",") if n in installed]
    if not names:
        sys.exit(f"none of {args.providers} is installed (installed: {', '.join(installed) or 'none'})")

    text = yaml.safe_dump(networks_spec(args.networks, args.ports), sort_keys=False)
    t = time.perf_counter()
    intent = parse_intent(text, f"<bench {args.networks}x{args.ports}>")
    load = time.perf_counter() - t
    report: dict[str, Any] = {"networks": args.networks, "ports": args.ports, "segments": SEGMENTS,
                              "flows": len(intent.flows), "spec_kb": round(len(text.encode()) / 1000, 1),
                              "load_s": round(load, 3), "providers": {}}
    for name in names:
        try:
            m = measure(intent, installed[name], settings_for(name, installed[name]))
        except Exception as exc:  # report and go on: a benchmark prints, it does not gate
            reason = str(exc).splitlines()[0]
            m = {"failed": reason if len(reason) <= 160 else reason[:157] + "..."}
        report["providers"][name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in m.items()}

    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.networks} networks x {args.ports} ports, {SEGMENTS} segments, {report['flows']} flows, "
          f"spec {report['spec_kb']} KB; load {load:.3f} s")
    header = (f"{'provider':<11} {'records':>8} {'classes':>8} {'compile s':>10} {'(cpu)':>8} "
              f"{'verify s':>9} {'(cpu)':>8}  verdict")
    print(header)
    print("-" * len(header))
    for name, m in report["providers"].items():
        if "failed" in m:
            print(f"{name:<11}  failed: {m['failed']}")
            continue
        verdict = "equivalent" if m["equivalent"] else f"NOT equivalent ({m['differences']} differences)"
        print(f"{name:<11} {m['records']:>8} {m['classes']:>8} {m['compile_s']:>10.3f} "
              f"{m['compile_cpu_s']:>8.3f} {m['verify_s']:>9.3f} {m['verify_cpu_s']:>8.3f}  {verdict}")
    print("\nload: parse + normalise the spec; compile: check + compile; verify: evaluate + "
          "equivalence; (cpu): process CPU time of the step; classes: connection classes compared")


if __name__ == "__main__":
    main()
