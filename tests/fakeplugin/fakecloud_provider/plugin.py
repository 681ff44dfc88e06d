"""Entry point `fakecloud = fakecloud_provider.plugin` in the group `cloudfence.providers`."""

from fakecloud_provider.provider import FakeCloudProvider

from cloudfence.hookspecs import hookimpl


@hookimpl
def register_providers(register):
    register(FakeCloudProvider())
