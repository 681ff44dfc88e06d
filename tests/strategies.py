"""Hypothesis strategies for random, valid specs (as dicts or YAML text).

Every spec drawn here passes `cloudfence.intent.parse_intent`: names are unique and
well formed, segment CIDRs are disjoint, network exclusions sit inside an
include, and no flow joins two non-segments. What a given target can express
is NOT guaranteed (that is what its `check` is for), so property tests read:
either `check` names the unsupported part, or `verify` is equivalent.

    from tests.strategies import spec_texts, intent_from

    @given(spec_texts())
    def test_x(text):
        intent = intent_from(text)

Knobs (all keyword arguments of `specs` / `spec_texts`):
- allow_icmp: also draw `icmp` / `icmpv6` literals (Kubernetes rejects them).
- k8s_share: chance that a segment has a kubernetes mapping.
- cidr_share: chance that a segment has addresses (IPv4, sometimes also IPv6).
- bare_share: chance that a segment has neither (only opaque identity).
- full_range: also draw tcp/0-65535-style full ranges (a valid literal that
  some targets write without ports).
- platform: platform endpoints (e.g. ("@cluster-dns",)) that flows may name.
- platform_share: chance that a spec's flows may name those platform endpoints
  (targets that know none refuse the spec).
- self_share: chance that a flow runs from a segment to itself.

`every_feature()` turns every knob on: the one strategy the shared property tests
(tests/test_property_all.py) run against every provider.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import yaml
from hypothesis import strategies as st

from cloudfence.intent import Intent, parse_intent
from cloudfence.testing import deep_run

#: The deep run (tests/conftest.py selects its hypothesis profile): DEEP_FACTOR times the examples.
DEEP = deep_run()
DEEP_FACTOR = 25

NAMESPACES = ("serving", "data", "ml-ops")
_NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,3})?", fullmatch=True)
# Names that would read as something else in a ports list or a flow side.
_RESERVED = {"internet", "any", "icmp", "icmpv6", "tcp", "udp", "sctp"}


def examples(n: int) -> int:
    """A test's own example count: n in CI, DEEP_FACTOR times n in the deep run."""
    return n * DEEP_FACTOR if DEEP else n


def intent_from(text: str) -> Intent:
    """Parse a drawn spec text into an intent (never fails for drawn specs)."""
    return parse_intent(text, "<random spec>")


@st.composite
def port_literals(draw: st.DrawFn, allow_icmp: bool = False, full_range: bool = False) -> str:
    """One port literal: tcp/udp/sctp single ports or ranges within 1-65535,
    sometimes `any`, optionally icmp/icmpv6 and full 0-65535 ranges."""
    kinds = ["single"] * 6 + ["range"] * 3 + ["any"]
    if allow_icmp:
        kinds += ["icmp"]
    if full_range:
        kinds += ["full"]
    kind = draw(st.sampled_from(kinds))
    # SCTP rarer: two targets refuse its ports, and one refused flow refuses the spec
    proto = draw(st.sampled_from(["tcp", "tcp", "tcp", "udp", "udp", "sctp"]))
    if kind == "any":
        return "any"
    if kind == "icmp":
        return draw(st.sampled_from(["icmp", "icmpv6"]))
    if kind == "full":
        return f"{proto}/0-65535"
    # Mostly a small pool of familiar ports so that flows overlap and merge.
    port = st.one_of(st.sampled_from([53, 80, 443, 5432, 6333, 8000, 9090]),
                     st.integers(1, 65535))
    lo = draw(port)
    if kind == "single":
        return f"{proto}/{lo}"
    hi = draw(st.integers(lo, min(65535, lo + draw(st.sampled_from([1, 2, 10, 1000, 65535])))))
    return f"{proto}/{lo}-{hi}"


def _scalar_or_list(draw: st.DrawFn, items: list[str]) -> Any:
    """Lists of one are sometimes written as a plain scalar, as users do."""
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return items


@st.composite
def _network(draw: st.DrawFn, j: int) -> Any:
    """A network: list form or include/exclude with exclusions inside includes."""
    form = draw(st.sampled_from(["list", "list6", "exclude", "exclude6", "wide"]))
    if form == "list":
        cidrs = [f"172.{16 + j}.{k}.0/24" for k in
                 sorted(draw(st.sets(st.integers(0, 3), min_size=1, max_size=2)))]
        return cidrs
    if form == "list6":
        return [f"2001:db8:{j}::/48"]
    if form == "exclude":
        excl = sorted(draw(st.sets(st.integers(0, 255), min_size=1, max_size=2)))
        return {"include": [f"172.{16 + j}.0.0/16"],
                "exclude": [f"172.{16 + j}.{k}.0/24" for k in excl]}
    if form == "exclude6":
        return {"include": [f"2001:db8:{j}::/48", f"192.168.{j}.0/24"],
                "exclude": [f"2001:db8:{j}:1::/64", f"192.168.{j}.128/25"]}
    # Wide: covers segment addresses too (10.0.0.0/8), minus a hole.
    return {"include": ["10.0.0.0/8"], "exclude": [f"10.{j + 1}.0.0/16"]}


def _segment(draw: st.DrawFn, chance: Callable[[float], bool], i: int, name: str, bare_share: float,
             k8s_share: float, cidr_share: float) -> dict[str, Any]:
    """One random segment: a kubernetes mapping, cidrs (IPv4, IPv6 or both), or neither."""
    seg: dict[str, Any] = {}
    if chance(0.2):
        seg["description"] = f"segment {name}"
    bare = chance(bare_share)
    k8s = not bare and chance(k8s_share)
    has_cidr = not bare and (chance(cidr_share) or not k8s)
    if k8s:
        labels = {"seg": name}  # distinct per segment: selectors never overlap
        if chance(0.3):
            labels["tier"] = draw(st.sampled_from(["a", "b"]))
        seg["kubernetes"] = {"namespace": draw(st.sampled_from(NAMESPACES)), "labels": labels}
    if has_cidr:
        cidrs = [f"10.{i}.0.0/24"]
        if chance(0.2):
            cidrs.append(f"10.{i}.1.0/24")
        if chance(0.2):
            cidrs.append(f"fd00:{i}::/64")
        if chance(0.05):
            cidrs = [f"fd00:{i}::/64"]
        seg["cidr"] = _scalar_or_list(draw, cidrs)
    return seg


@st.composite
def specs(
    draw: st.DrawFn,
    allow_icmp: bool = False,
    k8s_share: float = 0.6,
    cidr_share: float = 0.7,
    bare_share: float = 0.05,
    full_range: bool = False,
    platform: Sequence[str] = (),
    max_segments: int = 6,
    platform_share: float = 1.0,
    self_share: float = 0.0,
) -> dict[str, Any]:
    """A random valid spec as a plain dict (the shape of segments.yaml)."""
    n_seg = draw(st.integers(1, max_segments))
    n_net = draw(st.integers(0, 3))
    n_svc = draw(st.integers(0, 3))
    names = draw(st.lists(_NAME.filter(lambda s: s not in _RESERVED),
                          min_size=n_seg + n_net + n_svc, max_size=n_seg + n_net + n_svc,
                          unique=True))
    seg_names, net_names, svc_names = (names[:n_seg], names[n_seg:n_seg + n_net],
                                       names[n_seg + n_net:])

    def chance(p: float) -> bool:
        return draw(st.floats(0, 1, exclude_max=True)) < p

    segments = {name: _segment(draw, chance, i, name, bare_share, k8s_share, cidr_share)
                for i, name in enumerate(seg_names, start=1)}

    networks = {name: draw(_network(j)) for j, name in enumerate(net_names)}
    literal = port_literals(allow_icmp=allow_icmp, full_range=full_range)
    services = {name: _scalar_or_list(draw, draw(st.lists(literal, min_size=1, max_size=3)))
                for name in svc_names}

    others = [*net_names, "internet", *(platform if chance(platform_share) else ())]
    flows = []
    for _ in range(draw(st.integers(0, 6))):
        # One side is only segments; the other may mix in networks and platform
        # endpoints: never a flow between two non-segments.
        free = st.lists(st.sampled_from(seg_names + others), min_size=1, max_size=2, unique=True)
        segs_only = st.lists(st.sampled_from(seg_names), min_size=1, max_size=2, unique=True)
        if chance(self_share):
            src = [draw(st.sampled_from(seg_names))]
            dst = list(src)  # a copy: one shared list would be written as a YAML alias
        elif draw(st.booleans()):
            src, dst = draw(segs_only), draw(free)
        else:
            src, dst = draw(free), draw(segs_only)
        ports = draw(st.lists(st.one_of(literal, st.sampled_from(svc_names)) if svc_names else literal,
                              min_size=1, max_size=3, unique=True))
        flow: dict[str, Any] = {"from": _scalar_or_list(draw, src), "to": _scalar_or_list(draw, dst),
                                "ports": _scalar_or_list(draw, ports)}
        if chance(0.2):
            flow["description"] = "random flow"
        flows.append(flow)

    spec: dict[str, Any] = {"version": 1, "name": draw(st.sampled_from(["prop", "rnd-spec", "x"])),
                            "segments": segments}
    if networks:
        spec["networks"] = networks
    if services:
        spec["services"] = services
    spec["flows"] = flows
    return spec


def every_feature() -> st.SearchStrategy[dict[str, Any]]:
    """Specs that draw everything a spec can say: segments in and out of Kubernetes
    (and with no address), IPv4 and IPv6 (and dual-stack) segments and networks,
    networks with exclusions, services with ranges, lists on both sides of a flow,
    self flows, `any`, icmp/icmpv6, sctp, full ranges, `internet` and the cluster DNS
    at either end."""
    return specs(allow_icmp=True, full_range=True, k8s_share=0.5, bare_share=0.1,
                 platform=("@cluster-dns",), platform_share=0.3, self_share=0.15)


def to_text(spec: dict[str, Any]) -> str:
    """YAML text of a spec dict, keys in the order written."""
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=False)


def spec_texts(**kwargs: Any) -> st.SearchStrategy[str]:
    """Random valid spec texts (YAML); keyword arguments as for `specs`."""
    return specs(**kwargs).map(to_text)


def intents(**kwargs: Any) -> st.SearchStrategy[Intent]:
    """Random valid intents; keyword arguments as for `specs`."""
    return spec_texts(**kwargs).map(intent_from)
