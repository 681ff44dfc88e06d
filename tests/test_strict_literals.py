"""Strict literals (DESIGN section 3) and messages that say what to write
instead, run as a user would: `cloudfence validate` in a fresh interpreter.

Each case must exit 2 with one `error:` line per problem that names the place
and the fix; a lenient reading (a silent /32, a dropped zone id, a foreign
tag read as `{}`) would exit 0 and fail the case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakeplugin import run_cli

HEAD = "version: 1\nname: shop\n"
SEGMENTS = "segments:\n  web: {cidr: 10.0.1.0/24}\n  db: {cidr: 10.0.2.0/24}\n"
FLOW = "flows:\n  - {from: web, to: db, ports: [tcp/5432]}\n"


def spec_with(**parts: str) -> str:
    body = {"segments": SEGMENTS, "flows": FLOW, **parts}
    return HEAD + "".join(body.values())


CASES = [
    ("cidr-without-prefix", spec_with(segments="segments:\n  web: {cidr: 10.0.0.0}\n"),
     ":4: segments.web.cidr: invalid CIDR '10.0.0.0': the prefix length is missing; write 10.0.0.0/32 "
     "for this one address, or the network with its length such as 10.0.0.0/16"),
    ("ipv6-without-prefix", spec_with(segments="segments:\n  web: {cidr: 'fd00::1'}\n"),
     "write fd00::1/128 for this one address"),
    ("netmask-prefix", spec_with(segments="segments:\n  web: {cidr: 10.0.0.0/255.0.0.0}\n"),
     "the prefix length must be a number of bits; write 10.0.0.0/8"),
    ("zone-id", spec_with(networks="networks:\n  lan: ['fe80::1%eth0/128']\n"),
     "networks.lan.include[0]: invalid CIDR 'fe80::1%eth0/128': IPv6 zone ids (%...) name an "
     "interface, not addresses; write fe80::1/128"),
    ("zone-id-after-the-prefix", spec_with(networks="networks:\n  lan: ['fe80::/64%eth0']\n"),
     "networks.lan.include[0]: invalid CIDR 'fe80::/64%eth0': IPv6 zone ids (%...) name an "
     "interface, not addresses; write fe80::/64"),
    ("non-ascii-cidr", spec_with(segments="segments:\n  web: {cidr: 10.0.0.0/\u0668}\n"),
     "segments.web.cidr: invalid CIDR '10.0.0.0/\u0668': '\u0668' is not an ASCII character"),
    ("non-ascii-port", spec_with(flows="flows:\n  - {from: web, to: db, ports: [tcp/\u0664\u0664\u0663]}\n"),
     "flows[0].ports: cannot read port 'tcp/\u0664\u0664\u0663': '\u0664' is not an ASCII character; "
     "write ports with the digits 0-9, e.g. tcp/443"),
    ("python-tag", spec_with(networks="networks: !!python/object:os.system {}\n"),
     ":8: YAML tag '!!python/object:os.system' is not allowed"),
    ("local-tag", spec_with(networks="networks: {lan: !cidr 10.0.0.0/8}\n"),
     "YAML tag '!cidr' is not allowed"),
    ("label-prefix-not-subdomain",
     spec_with(segments="segments:\n  web: {kubernetes: {namespace: shop, "
                        "labels: {Example.COM/tier: web}}}\n"),
     "segments.web.kubernetes.labels.Example.COM/tier: invalid label key 'Example.COM/tier': the prefix "
     "'Example.COM' must be a DNS subdomain"),
    ("label-prefix-empty-part",
     spec_with(segments="segments:\n  web: {kubernetes: {namespace: shop, labels: {a..b/tier: web}}}\n"),
     "the prefix 'a..b' must be a DNS subdomain"),
    ("label-two-slashes",
     spec_with(segments="segments:\n  web: {kubernetes: {namespace: shop, labels: {a/b/c: web}}}\n"),
     "invalid label key 'a/b/c': at most one '/'"),
    ("label-value-trailing-newline",
     spec_with(segments="segments:\n  web: {kubernetes: {namespace: shop, labels: {tier: \"web\\n\"}}}\n"),
     "invalid label value 'web\\n'"),
    ("label-value-number",
     spec_with(segments="segments:\n  web: {kubernetes: {namespace: shop, labels: {tier: 1}}}\n"),
     "segments.web.kubernetes.labels.tier: label values are text: quote it (tier: '1')"),
    ("duplicate-cidr-in-one-segment",
     spec_with(segments="segments:\n  web: {cidr: [10.0.0.0/8, 10.0.0.0/8]}\n  db: {}\n"),
     "segments.web.cidr[1]: 10.0.0.0/8 is listed twice in this segment: remove one"),
    ("overlap-in-one-segment",
     spec_with(segments="segments:\n  web: {cidr: [10.0.0.0/8, 10.1.0.0/16]}\n  db: {}\n"),
     "segments.web.cidr[1]: 10.1.0.0/16 overlaps 10.0.0.0/8 listed before in this segment: keep "
     "10.0.0.0/8 only"),
    *[(f"reserved-service-{word}", spec_with(services=f"services:\n  {word}: tcp/1\n"),
       f"services.{word}: '{word}' is a port literal, not a service name")
      for word in ("tcp", "udp", "sctp", "icmp", "icmpv6", "any")],
    ("service-port-number", spec_with(services="services:\n  redis: 6379\n"),
     "services.redis: a port needs its protocol: write tcp/6379"),
    ("flow-port-number", spec_with(flows="flows:\n  - {from: web, to: db, ports: [tcp/80, 443]}\n"),
     "flows[0].ports[1]: a port needs its protocol: write tcp/443"),
    ("version-text", "version: '1'\nname: shop\n" + SEGMENTS,
     "1: version: version is the text '1': write the number 1 without quotes"),
    ("service-names-a-service",
     spec_with(services="services:\n  https: tcp/443\n  web: [https, tcp/80]\n"),
     "services.web[0]: 'https' is a service: services hold port literals only; write its literals "
     "instead: [tcp/443]"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_with_the_fix(tmp_path: Path, env: dict[str, str], text: str, expected: str) -> None:
    spec = tmp_path / "segments.yaml"
    spec.write_text(text, encoding="utf-8")
    proc = run_cli(["validate", spec], env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith(f"error: {spec}") for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr, proc.stderr


def test_the_strict_forms_are_accepted(tmp_path: Path, env: dict[str, str]) -> None:
    # Control for the cases above: the same places written strictly are valid.
    spec = tmp_path / "segments.yaml"
    spec.write_text(spec_with(
        segments="segments:\n  web: {cidr: [10.0.0.0/32, 'fd00::1/128'], kubernetes: {namespace: shop, "
                 "labels: {example.com/tier: web, tier: '1'}}}\n  db: {cidr: 10.0.2.0/24}\n",
        services="services:\n  https: !!str tcp/443\n  redis: tcp/6379\n",
        flows="flows:\n  - {from: web, to: db, ports: [https, redis, tcp/80]}\n"))
    proc = run_cli(["validate", spec], env)
    assert proc.returncode == 0, proc.stderr
    assert "web   10.0.0.0/32 fd00::1/128" in proc.stdout
