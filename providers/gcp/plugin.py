"""Registers the GCP provider through the `cloudfence.providers` entry point."""

from collections.abc import Callable

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.gcp.provider import GcpProvider


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(GcpProvider())
