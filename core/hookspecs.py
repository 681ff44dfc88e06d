"""The one hook a provider plugin implements (entry-point group `cloudfence.providers`)."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("cloudfence")
hookimpl = pluggy.HookimplMarker("cloudfence")


@hookspec
def register_providers(register: Callable[[object], None]) -> None:
    """Call `register(provider)` for each provider this plugin offers."""
