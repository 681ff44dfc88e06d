"""Find providers: every plugin registers through the `cloudfence.providers`
entry points, the built-in ones exactly as a third-party package would."""

from __future__ import annotations

from functools import cache

import pluggy

from core import hookspecs
from core.errors import ProviderNotFound
from core.provider import Provider

ENTRY_POINT_GROUP = "cloudfence.providers"


def plugin_manager(*extra: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("cloudfence")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        pm.register(plugin)
    return pm


def collect(pm: pluggy.PluginManager) -> dict[str, Provider]:
    found: dict[str, Provider] = {}

    def register(provider: object) -> None:
        if not isinstance(provider, Provider):
            raise TypeError(f"{provider!r} does not implement the cloudfence provider interface")
        if provider.name in found:
            raise ValueError(f"two plugins register a provider named {provider.name!r}")
        found[provider.name] = provider

    pm.hook.register_providers(register=register)
    return dict(sorted(found.items()))


@cache
def providers() -> dict[str, Provider]:
    return collect(plugin_manager())


def get_provider(name: str) -> Provider:
    available = providers()
    if name not in available:
        installed = ", ".join(available) or "none"
        raise ProviderNotFound(f"unknown provider '{name}': installed providers are {installed}")
    return available[name]
