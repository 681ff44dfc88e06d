"""The indexes and short walks verify and compile use in place of a pass over everything
give what the pass gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfence.providers.kubernetes.world import Pods, PodWorld, may_match
from cloudfence.reach import _pairs

KEYS, VALUES = ("app", "tier", "seg"), ("a", "b", "c")
labels = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), max_size=3,
                  unique_by=lambda kv: kv[0]).map(lambda kvs: tuple(sorted(kvs)))
pods = st.builds(Pods, end=st.sampled_from(["s1", "s2", "s3", "~bg"]),
                 namespace=st.sampled_from(["n1", "n2"]), labels=labels, exact=st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(pods, max_size=12), st.lists(labels, min_size=1, max_size=4),
       st.sampled_from(["n1", "n2", None]))
def test_pods_found_by_pinned_label_are_those_the_pins_may_match(world_pods: list[Pods], queries: list[tuple],
                                                                  namespace: str | None) -> None:
    world = PodWorld(world_pods)

    def keep(ns: str, _labels: object, _exact: bool) -> bool:
        return namespace is None or ns == namespace

    for pins in queries:  # repeated on one world: the per-key index is built once and reused
        expected = [p for p in world_pods if keep(p.namespace, (), False) and may_match(pins, p.labels)]
        assert world.in_namespaces(keep, pins) == expected


CLASS_KEYS = [("o", "lb"), ("o", "dns"), (4, 0, 9), (4, 10, 19), (6, 0, 9)]
_FAMILY_OK = {"icmp": {4}, "icmpv6": {6}}


def _compatible(src: tuple, dst: tuple, proto: str) -> bool:
    """The rule stated pair by pair: one address family per connection, opaque points
    of any family, icmp IPv4's only and icmpv6 IPv6's only."""
    families = {k[0] for k in (src, dst) if k[0] != "o"}
    if len(families) > 1:
        return False
    return not families or families <= _FAMILY_OK.get(proto, {4, 6})


@given(st.lists(st.sampled_from(CLASS_KEYS), unique=True), st.lists(st.sampled_from(CLASS_KEYS), unique=True),
       st.sampled_from(["tcp", "udp", "icmp", "icmpv6", "other"]))
def test_class_pairs_by_family_are_the_compatible_pairs(src: list, dst: list, proto: str) -> None:
    def by_family(keys: list) -> dict:
        return {f: [k for k in keys if k[0] == f] for f in (4, 6, "o")}

    found = [(s, d) for s_keys, d_keys in _pairs(by_family(src), by_family(dst), proto)
             for s in s_keys for d in d_keys]
    assert sorted(found, key=repr) == sorted(((s, d) for s in src for d in dst if _compatible(s, d, proto)),
                                             key=repr)
    assert len(found) == len(set(found))  # each pair once


json_values = st.recursive(
    st.one_of(st.none(), st.integers(), st.booleans(),
              st.sampled_from(["${a.id}", "${b.arn}", "${a.name}", "${c d.id}", "${x.1}", "$", "${}",
                               "x ${a.id}",
                               "${a.id} ", "plain"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.sampled_from(["k", "${a.id}", "rules"]), inner, max_size=3)),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_the_names_a_record_refers_to_are_those_its_references_name(inputs: object) -> None:
    from cloudfence.plan import find_refs, ref_names

    assert ref_names(inputs) == {name for _, name, _ in find_refs(inputs)}


def _fresh() -> tuple[object, ...]:
    from cloudfence.addresses import AddressSet
    from cloudfence.ports import PortSet
    from cloudfence.reachability import Peer, Points

    return (Peer(segments=frozenset(["gateway"]), platform=frozenset(["@load-balancer"])),
            Points(frozenset(["gateway"]), AddressSet.from_cidrs(["10.0.0.0/24"])),
            PortSet({"tcp": PortSet.any().get("tcp")}))


def test_kept_hashes_never_travel_to_another_process() -> None:
    """Peers, points and port sets keep their hash; string hashes differ between
    processes, so a pickled one must hash there as one built there does."""
    import base64
    import os
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    values = _fresh()
    for v in values:
        hash(v)  # kept now, by the types that keep it
    blob = base64.b64encode(pickle.dumps(values)).decode()
    code = (f"import base64, pickle, sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "from test_lookups import _fresh\n"
            f"loaded = pickle.loads(base64.b64decode({blob!r}))\n"
            "print(all(hash(a) == hash(b) and a == b for a, b in zip(loaded, _fresh(), strict=True)))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
