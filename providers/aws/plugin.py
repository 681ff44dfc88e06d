"""Registers the AWS provider through the `cloudfence.providers` entry point."""

from collections.abc import Callable

from cloudfence.hookspecs import hookimpl
from cloudfence.providers.aws.provider import AwsProvider


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(AwsProvider())
