"""Registers the Azure provider through the `cloudfence.providers` entry point."""

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.azure.provider import AzureProvider


@hookimpl
def register_providers(register):
    register(AzureProvider())
