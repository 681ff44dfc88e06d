"""fakecloud: a tiny third-party cloudfence provider, the worked example of docs/providers.md."""
