"""Deliberately broken twins of fakecloud, one contract each: the conformance kit
must fail every one (tests/test_conformance.py). They live in an importable module
because the determinism check builds its provider again in a fresh interpreter."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from cloudfence import Intent, Peer, Plan, PortSet, Problem, ProviderSettings, Reachability, Resource, ordered
from tests.fakeplugin import fake_providers

fake_providers()  # puts the plugin on sys.path
from fakecloud_provider.provider import ALLOW, FakeCloudProvider  # noqa: E402


class WideningProvider(FakeCloudProvider):
    """Compiles every port range one port wider on each side."""

    name = "fakecloud-widening"

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        plan = super().compile(intent, settings)
        out = []
        for r in plan.resources:
            if r.type == ALLOW:
                ports = [{**p, "from": max(0, p["from"] - 1), "to": min(65535, p["to"] + 1)}
                         for p in r.inputs["ports"]]
                r = Resource(r.type, r.name, {**r.inputs, "ports": ports})
            out.append(r)
        return replace(plan, resources=ordered(out))


class EchoProvider(FakeCloudProvider):
    """Its evaluate reads the spec's flows instead of the records: it always verifies."""

    name = "fakecloud-echo"

    def evaluate(self, plan: Plan, intent: Intent) -> Reachability:
        reach = Reachability(self.name, self.governs(intent))
        for flow in (*intent.flows, *plan.implied):
            for seg, direction, other in ((flow.src, "egress", flow.dst), (flow.dst, "ingress", flow.src)):
                if seg.is_segment:
                    reach.allow(seg.name, direction, Peer.of(other, intent), flow.ports)
        return reach


class VagueProvider(FakeCloudProvider):
    """Refuses every spec without saying where."""

    name = "fakecloud-vague"

    def check(self, intent: Intent, settings: ProviderSettings) -> list[Problem]:
        return [Problem("", "cannot do this")]


class CrashingProvider(FakeCloudProvider):
    """Raises instead of refusing a spec with more than one segment."""

    name = "fakecloud-crashing"

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        if len(intent.segments) > 1:
            raise RuntimeError("unexpected")
        return super().compile(intent, settings)


class HashOrderProvider(FakeCloudProvider):
    """Names a record after the interpreter's string hash: differs across PYTHONHASHSEED."""

    name = "fakecloud-hash-order"

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        plan = super().compile(intent, settings)
        tag = Resource("fakecloud:index:Tag", f"{intent.name}-tag-{hash(intent.name) % 10_000}", {})
        return replace(plan, resources=ordered([*plan.resources, tag]))


class BundleProvider(FakeCloudProvider):
    """Adds one record named after a digest of every flow's ports: any edit renames it."""

    name = "fakecloud-bundle"

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        plan = super().compile(intent, settings)
        digest = hashlib.sha256(repr([str(f) for f in intent.flows]).encode()).hexdigest()[:8]
        bundle = Resource("fakecloud:index:Bundle", f"{intent.name}-bundle-{digest}", {})
        return replace(plan, resources=ordered([*plan.resources, bundle]))


__all__ = ["BundleProvider", "CrashingProvider", "EchoProvider", "HashOrderProvider", "PortSet",
           "VagueProvider", "WideningProvider"]
