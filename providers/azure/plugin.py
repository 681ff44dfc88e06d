"""Registers the Azure provider through the `cloudfence.providers` entry point."""

from collections.abc import Callable

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.azure.provider import AzureProvider


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(AzureProvider())
