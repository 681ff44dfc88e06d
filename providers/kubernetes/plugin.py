"""Entry point `cloudfence.providers: kubernetes` (pyproject.toml)."""

from collections.abc import Callable

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.kubernetes.provider import KubernetesProvider


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(KubernetesProvider())
