"""Find providers: every plugin registers through the `cloudfence.providers`
entry points, the built-in ones exactly as a third-party package would.

Entry points load one by one, so a broken third-party plugin is reported by
name while every other provider keeps working.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

import pluggy

from cloudfence import hookspecs
from cloudfence.errors import ProviderNotFound
from cloudfence.provider import Provider

ENTRY_POINT_GROUP = "cloudfence.providers"


def plugin_manager(*extra: object) -> pluggy.PluginManager:
    pm, _ = _load(extra)
    return pm


def _load(extra: tuple[object, ...] = ()) -> tuple[pluggy.PluginManager, dict[str, str]]:
    pm = pluggy.PluginManager("cloudfence")
    pm.add_hookspecs(hookspecs)
    failed: dict[str, str] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if pm.get_plugin(ep.name) is not None or ep.name in failed:
            continue  # the same distribution seen twice on sys.path
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a plugin's own bug must not take the others down
            failed[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
    for plugin in extra:
        pm.register(plugin)
    return pm, failed


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
def _discovered() -> tuple[dict[str, Provider], dict[str, str]]:
    pm, failed = _load()
    return collect(pm), failed


def providers() -> dict[str, Provider]:
    return _discovered()[0]


def broken() -> dict[str, str]:
    """Entry points that failed to load: name -> why."""
    return _discovered()[1]


def get_provider(name: str) -> Provider:
    available = providers()
    if name not in available:
        if name in broken():
            raise ProviderNotFound(f"provider plugin '{name}' is installed but failed to load "
                                   f"({broken()[name]}): reinstall or uninstall it")
        from cloudfence.stackconfig import provider_hint

        raise ProviderNotFound(f"unknown provider '{name}'{provider_hint(name, list(available))}")
    return available[name]
