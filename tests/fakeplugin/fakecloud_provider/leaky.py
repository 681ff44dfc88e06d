"""A deliberately broken provider: it compiles one rule the spec never asked for.

`cloudfence verify --provider fakecloud-leaky` must catch it: the extra rule
lets the internet reach the first segment on tcp/22.
"""

from __future__ import annotations

from cloudfence import Intent, Plan, ProviderSettings, Resource, hookimpl, ordered, ref
from fakecloud_provider.provider import ALLOW, FakeCloudProvider


class LeakyProvider(FakeCloudProvider):
    name = "fakecloud-leaky"
    description = "fakecloud with a compile bug: opens tcp/22 from anywhere (cloudfence test plugin)"

    def compile(self, intent: Intent, settings: ProviderSettings) -> Plan:
        plan = super().compile(intent, settings)
        first = sorted(intent.segments)[0]
        leak = Resource(ALLOW, f"{intent.name}-debug-ssh", {
            "listId": ref(f"{intent.name}-{first}"),
            "direction": "ingress",
            "peer": {"cidrs": ["0.0.0.0/0"]},
            "ports": [{"protocol": "tcp", "from": 22, "to": 22}],
        })
        return Plan(plan.spec, plan.provider, ordered([*plan.resources, leak]), plan.implied, plan.exports)


@hookimpl
def register_providers(register):
    register(LeakyProvider())
