"""What `plan --via-pulumi` costs over registering the same records with the bare SDK classes.

For each stack file of the example stack (stacks/ai-inference/Pulumi.*.yaml), in one process,
repeated in interleaved rounds (medians, CPU time of the process, all threads):

- `via-pulumi`: the command `cloudfence plan --stack FILE --via-pulumi --format json`, run
  in-process: load the spec, check and compile each target, register the records through
  the Segmentation component and the emitter under cloudfence's offline engine, read the
  registrations back and print them;
- `bare`: the same records (compiled once, outside the timing) registered by a plain
  program that calls the provider SDK classes with their arguments, resolving references
  to the outputs of resources it created, under `pulumi.runtime.set_mocks` with mocks
  that echo inputs, awaited as `pulumi.runtime.test` does;
- the overhead, (via-pulumi - bare) / bare, and beside it what `load + compile` alone
  takes (the part of the command that `plan` without --via-pulumi pays too).

The SDK modules are imported once, before the rounds: both sides need them, and their
import is the SDK's cost, not the layer's. What exists then is frozen out of the garbage
collector (`gc.freeze`), so a full collection over the SDKs' objects does not land at random
in one side's round. Afterwards, for each stack, a fresh process runs
the command and reports which provider SDKs it imported (only the stack's own should be).
Before timing, the bare registrations are compared with what the command printed: the
same types, names and inputs. Figures only, no asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import gc
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STACK_DIR = Path(__file__).resolve().parent.parent / "stacks" / "ai-inference"
SDKS = {"aws": "pulumi_aws", "azure": "pulumi_azure_native", "gcp": "pulumi_gcp",
        "kubernetes": "pulumi_kubernetes"}


def via_pulumi(stack: Path) -> dict[str, Any]:
    """The command in-process; its JSON output."""
    from cloudfence.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main.main(["plan", "--stack", str(stack), "--via-pulumi", "--format", "json"], standalone_mode=False)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


Record = tuple[Callable[..., Any], str, dict[str, Any]]


def compiled_records(stack: Path) -> tuple[list[list[Record]], float]:
    """Per target of the stack, (SDK class, logical name, keyword arguments); and how long
    loading the spec and compiling every target took."""
    from cloudfence.deploy.emitter import snake
    from cloudfence.lint import load_checked
    from cloudfence.plugins import get_provider
    from cloudfence.provider import checked_plan, sdk_class
    from cloudfence.stackconfig import read_stack_file, stack_spec

    start = time.process_time()
    config = read_stack_file(str(stack))
    spec = stack_spec(config)
    assert spec is not None, f"{stack} names no spec"
    intent, _ = load_checked(spec)
    plans = [(get_provider(name), checked_plan(get_provider(name), intent, settings))
             for name, settings in config.providers.items()]
    took = time.process_time() - start
    records = [[(sdk_class(p, r.type), r.name, {snake(k): v for k, v in r.inputs.items()})
                for r in plan.resources] for p, plan in plans]
    return records, took


def _echo_mocks(seen: list[tuple[str, str, Any]]) -> Any:
    """Mocks that answer as cloudfence's engine does (ids and names that spell a reference)
    and keep what each registration asked for."""
    import pulumi

    from cloudfence.deploy.engine import REFERENCED_OUTPUTS, plain

    class Echo(pulumi.runtime.Mocks):  # type: ignore[misc]
        def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
            seen.append((args.typ, args.name, plain(args.inputs)))
            computed = {out: f"${{{args.name}.{out}}}" for out in ("name", *REFERENCED_OUTPUTS)}
            return f"${{{args.name}.id}}", {**computed, **args.inputs}

        def call(self, args: Any) -> tuple[dict[str, Any], None]:
            return {}, None

    return Echo()


def _resolve(value: Any, created: dict[str, Any]) -> Any:
    from cloudfence.deploy.emitter import snake
    from cloudfence.plan import REF

    if isinstance(value, str):
        m = REF.match(value)
        return getattr(created[m.group("name")], snake(m.group("output"))) if m else value
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    return value


def bare(targets: list[list[Record]], project: str) -> list[list[tuple[str, str, Any]]]:
    """Register each target's records with the SDK classes under set_mocks; what registered."""
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    registered: list[list[tuple[str, str, Any]]] = []
    for records in targets:
        seen: list[tuple[str, str, Any]] = []

        def run(records: list[Record] = records, seen: list[tuple[str, str, Any]] = seen) -> None:
            pulumi.runtime.set_mocks(_echo_mocks(seen), project=project, stack="bare", preview=False)

            def program() -> None:
                created: dict[str, Any] = {}
                for cls, name, kwargs in records:
                    created[name] = cls(name, **{k: _resolve(v, created) for k, v in kwargs.items()})

            _sync_await(run_pulumi_func(program))

        contextvars.copy_context().run(run)
        registered.append(seen)
    return registered


def _same(document: dict[str, Any], registered: list[list[tuple[str, str, Any]]]) -> bool:
    """The command's records and the bare registrations: the same types, names and inputs."""
    plans = document.get("plans", [document])
    for plan, seen in zip(plans, registered, strict=True):
        want = sorted((r["type"], r["name"], json.dumps(r["inputs"], sort_keys=True))
                      for r in plan["resources"])
        got = sorted((t, n, json.dumps(inputs, sort_keys=True)) for t, n, inputs in seen)
        if want != got:
            return False
    return True


def sdks_imported(stack: Path) -> list[str]:
    """Provider SDKs a fresh `plan --via-pulumi` process imports."""
    probe = ("import contextlib, io, sys\n"
             "from cloudfence.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    main.main(['plan', '--stack', {str(stack)!r}, '--via-pulumi'], standalone_mode=False)\n"
             f"print(sorted(m for m in sys.modules if m in {sorted(SDKS.values())!r}))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))
    return found


def measure(stack: Path, rounds: int) -> dict[str, Any]:
    from cloudfence.stackconfig import read_stack_file

    config = read_stack_file(str(stack))
    targets, _ = compiled_records(stack)
    project = "ai-inference"
    document = via_pulumi(stack)  # warm: imports the SDKs
    same = _same(document, bare(targets, project))
    # Keep the imported SDKs out of the collector: a full collection scans them all (about
    # 150 ms with pulumi_azure_native loaded) and lands in whichever side happens to cross
    # its threshold, which would decide a median of a few rounds. Both sides alike.
    gc.collect()
    gc.freeze()
    via_t, bare_t, load_t = [], [], []
    for r in range(rounds):
        steps: list[tuple[list[float], Callable[[], Any]]] = [
            (via_t, lambda: via_pulumi(stack)), (bare_t, lambda: bare(targets, project))]
        for times, step in steps if r % 2 == 0 else reversed(steps):
            start = time.process_time()
            step()
            times.append(time.process_time() - start)
        load_t.append(compiled_records(stack)[1])
    v, b, lc = (statistics.median(t) for t in (via_t, bare_t, load_t))
    expected = sorted({SDKS[p] for p in config.providers if p in SDKS})
    imported = sdks_imported(stack)
    return {"stack": stack.name, "targets": list(config.providers), "records": sum(map(len, targets)),
            "same records": same, "bare ms": 1000 * b, "via-pulumi ms": 1000 * v,
            "load+compile ms": 1000 * lc, "overhead %": 100 * (v - b) / b,
            "overhead without load+compile %": 100 * (v - lc - b) / b,
            "sdks imported": imported, "sdks expected": expected}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", nargs="*", type=Path,
                        help="stack files (default: every Pulumi.*.yaml of stacks/ai-inference)")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (median), default 10")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    stacks = args.stacks or sorted(p for p in STACK_DIR.glob("Pulumi.*.yaml"))
    results = [measure(s, args.rounds) for s in stacks]
    bare_total = sum(r["bare ms"] for r in results)
    via_total = sum(r["via-pulumi ms"] for r in results)
    total = {"bare ms": bare_total, "via-pulumi ms": via_total,
             "overhead %": 100 * (via_total - bare_total) / bare_total}
    if args.json:
        print(json.dumps({"rounds": args.rounds, "stacks": results, "total": total}, indent=2))
        return 0
    print(f"plan --via-pulumi against the bare SDK classes, CPU ms, median of {args.rounds} "
          "interleaved rounds")
    print(f"  {'stack':<24}{'targets':<18}{'records':>8}{'bare':>9}{'via':>9}{'overhead':>10}"
          f"{'load+compile':>14}   same  SDKs imported")
    for r in results:
        sdks = ", ".join(r["sdks imported"]) + ("" if r["sdks imported"] == r["sdks expected"]
                                                 else f" (expected {', '.join(r['sdks expected'])})")
        print(f"  {r['stack']:<24}{','.join(r['targets']):<18}{r['records']:>8}{r['bare ms']:>9.0f}"
              f"{r['via-pulumi ms']:>9.0f}{r['overhead %']:>9.0f}%{r['load+compile ms']:>14.0f}"
              f"   {'yes' if r['same records'] else 'NO':<5} {sdks}")
    print(f"  {'all stacks':<42}{'':>8}{bare_total:>9.0f}{via_total:>9.0f}{total['overhead %']:>9.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
