"""Normalise a valid-shaped spec into an intent: names resolved, ports as
interval sets per protocol, address sets with exclusions subtracted, and
flows merged per (source, destination) pair.

Everything a provider needs is here, already checked, so providers never
re-interpret the YAML.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cloudfence.addresses import PRIVATE_V4, PUBLIC, AddressSet, CidrError, IPNetwork, parse_cidr
from cloudfence.collection import fewer_collections
from cloudfence.endpoints import GOVERNABLE
from cloudfence.errors import Problem, SpecError, did_you_mean
from cloudfence.labels import label_key_problem, label_value_problem, namespace_problem
from cloudfence.ports import PORTED, RESERVED, PortError, PortSet, format_ports, parse_port
from cloudfence.spec import NAME_RE, Path_, Spec, format_path, load_spec, parse_spec

INTERNET = "internet"
MAX_NAME = 40
K8S_NAME_MAX = 63


@dataclass(frozen=True)
class KubernetesSelector:
    namespace: str
    labels: tuple[tuple[str, str], ...]

    @property
    def match_labels(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    kubernetes: KubernetesSelector | None
    cidrs: tuple[IPNetwork, ...]

    @cached_property
    def addresses(self) -> AddressSet:
        return AddressSet.from_cidrs(self.cidrs)


@dataclass(frozen=True)
class Block:
    """One included CIDR and the exclusions inside it (Kubernetes ipBlock shape)."""

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True)
class Network:
    name: str
    blocks: tuple[Block, ...]
    builtin: bool = False  # the built-in `internet`: public space (cloudfence.space)

    @cached_property
    def addresses(self) -> AddressSet:
        """What the spec lists (exclusions subtracted). What a network means on a
        target (less every segment's cidr, `internet` less the internal space) is
        `cloudfence.space.Space.network`."""
        if self.builtin:
            return PUBLIC
        out = AddressSet()
        for b in self.blocks:
            out = out | (AddressSet.from_cidrs([b.cidr]) - AddressSet.from_cidrs(b.excepts))
        return out

    def cidrs(self) -> list[IPNetwork]:
        """Exclusions already subtracted: the list a CIDR-only target writes."""
        return self.addresses.cidrs()


@dataclass(frozen=True, order=True)
class Endpoint:
    kind: str  # "segment" | "network" | "platform"
    name: str

    @property
    def is_segment(self) -> bool:
        return self.kind == "segment"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Flow:
    src: Endpoint
    dst: Endpoint
    ports: PortSet
    origins: tuple[int, ...] = ()  # indices of the spec flows merged into this one
    descriptions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Stable identity of the pair, never a list position. Names hold no
        spaces, so "a-to to b" and "a to to-b" stay apart."""
        return f"{self.src.name} to {self.dst.name}"

    @property
    def where(self) -> str:
        if not self.origins:
            return f"{self.src} -> {self.dst}"
        idx = ", ".join(f"flows[{i}]" for i in self.origins)
        return f"{idx} ({self.src} -> {self.dst})"

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst} {format_ports(self.ports)}"


class SpecLines(Mapping[str, int]):
    """The spec's line of each key path, by the path as problems write it: formatted on
    first use (a problem to print), not for every path of every spec read."""

    def __init__(self, lines: Mapping[Path_, int]) -> None:
        self._lines = lines
        self._formatted: dict[str, int] | None = None

    def _by_text(self) -> dict[str, int]:
        if self._formatted is None:
            self._formatted = {format_path(k): v for k, v in self._lines.items()}
        return self._formatted

    def __getitem__(self, path: str) -> int:
        return self._by_text()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_text())

    def __len__(self) -> int:
        return len(self._by_text())


@dataclass(frozen=True)
class Intent:
    name: str
    description: str
    segments: dict[str, Segment]
    networks: dict[str, Network]
    flows: tuple[Flow, ...]
    file: str = "<spec>"
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def segment(self, name: str) -> Segment:
        return self.segments[name]

    def network(self, name: str) -> Network:
        return self.networks[name]

    def addresses(self, endpoint: Endpoint) -> AddressSet:
        if endpoint.kind == "segment":
            return self.segments[endpoint.name].addresses
        if endpoint.kind == "network":
            return self.networks[endpoint.name].addresses
        return AddressSet()

    def flows_from(self, segment: str) -> list[Flow]:
        return list(self._by_segment[0].get(segment, ()))

    def flows_to(self, segment: str) -> list[Flow]:
        return list(self._by_segment[1].get(segment, ()))

    @cached_property
    def flows_by_key(self) -> dict[str, Flow]:
        """Each flow by its `key` (what a record's rules name)."""
        return {f.key: f for f in self.flows}

    @cached_property
    def _by_segment(self) -> tuple[dict[str, list[Flow]], dict[str, list[Flow]]]:
        """The flows from and to each segment, in flow order: providers ask per segment."""
        out: dict[str, list[Flow]] = {}
        into: dict[str, list[Flow]] = {}
        for f in self.flows:
            if f.src.is_segment:
                out.setdefault(f.src.name, []).append(f)
            if f.dst.is_segment:
                into.setdefault(f.dst.name, []).append(f)
        return out, into

    def problem(self, flow: Flow, message: str, side: str = "") -> Problem:
        """A provider's check problem, placed at the spec flow it came from."""
        where = flow.where if not side else f"{flow.where}.{side}"
        line = self.lines.get(f"flows[{flow.origins[0]}]") if flow.origins else None
        return Problem(where, message, self.file, line)

    def segment_problem(self, segment: str, message: str, key: str = "cidr") -> Problem:
        """A provider's check problem about a segment, placed at its key (`cidr` by
        default), or at the segment when the spec does not write that key."""
        where = f"segments.{segment}" + (f".{key}" if key else "")
        line = self.lines.get(where) or self.lines.get(f"segments.{segment}")
        return Problem(where, message, self.file, line)


def _into_governable(src: Endpoint, dst: Endpoint) -> bool:
    """A network (or `internet`) into an endpoint some target governs (on AWS, the
    load balancer's own group takes the listener's ingress): each target's check
    accepts it only where it enforces it (DESIGN section 3)."""
    return src.kind == "network" and dst.kind == "platform" and dst.name in GOVERNABLE


def load_intent(path: str | Path) -> Intent:
    return build_intent(load_spec(path))


def parse_intent(text: str, file: str = "<spec>") -> Intent:
    return build_intent(parse_spec(text, file))


@fewer_collections()
def build_intent(spec: Spec) -> Intent:
    b = _Builder(spec)
    intent = b.build()
    if b.problems:
        raise SpecError(b.problems)
    return intent


class _Builder:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.m = spec.model
        self.problems: list[Problem] = []

    def err(self, path: Path_, message: str) -> None:
        self.problems.append(self.spec.problem(path, message))

    def check_name(self, path: Path_, name: str, what: str) -> bool:
        if not NAME_RE.match(name):
            fixed = re.sub(r"-+", "-", "".join(c if c.isalnum() else "-" for c in name.lower()))
            fixed = fixed.strip("-") or "x"
            if not fixed[0].isalpha():
                fixed = "x-" + fixed
            self.err(path, f"invalid {what} name '{name}': use lowercase letters, digits and single "
                     f"'-' between them, starting with a letter (e.g. '{fixed}')")
            return False
        if len(name) > MAX_NAME:
            self.err(path, f"{what} name '{name}' is {len(name)} characters: keep it to {MAX_NAME}")
            return False
        return True

    def cidr(self, path: Path_, text: object) -> IPNetwork | None:
        if not isinstance(text, str):
            self.err(path, f"expected a CIDR such as 10.0.0.0/16, got {text!r}")
            return None
        try:
            return parse_cidr(text)
        except CidrError as exc:
            self.err(path, str(exc))
            return None

    def build(self) -> Intent:
        m = self.m
        self.check_name(("name",), m.name, "spec")
        segments = self.segments()
        networks = self.networks(set(segments))
        services = self.services()
        flows = self.flows(segments, networks, services)
        lines = SpecLines(self.spec.doc.lines)
        return Intent(
            name=m.name,
            description=m.description or "",
            segments=dict(sorted(segments.items())),
            networks=dict(sorted(networks.items())),
            flows=flows,
            file=self.spec.file,
            lines=lines,
        )

    def segments(self) -> dict[str, Segment]:
        out: dict[str, Segment] = {}
        owned = _Owned()
        if not self.m.segments:
            self.err(("segments",), "no segments: declare at least one segment")
        for name, seg in self.m.segments.items():
            path = ("segments", name)
            self.check_name(path, name, "segment")
            if name == INTERNET:
                self.err(path, "'internet' is built in (public address space): name the segment otherwise")
            if name.startswith("@"):
                self.err(path, "names starting with '@' are reserved for platform endpoints")
            k8s = None
            if seg.kubernetes is not None:
                k8s = self.kubernetes((*path, "kubernetes"), seg.kubernetes.namespace,
                                      seg.kubernetes.labels)
            cidrs: list[IPNetwork] = []
            for i, text in enumerate(seg.cidr):
                p = (*path, "cidr", i) if len(seg.cidr) > 1 else (*path, "cidr")
                net = self.cidr(p, text)
                if net is None:
                    continue
                clash = owned.first_overlap(net)
                if clash is not None:
                    other_net, other = clash
                    if other != name:
                        self.err(p, f"{net} overlaps {other_net} of segment '{other}': "
                                 "segments hold disjoint addresses")
                    elif net == other_net:
                        self.err(p, f"{net} is listed twice in this segment: remove one")
                    else:
                        self.err(p, f"{net} overlaps {other_net} listed before in this segment: "
                                 f"keep {net if _within(other_net, net) else other_net} only")
                    continue
                owned.add(net, name)
                cidrs.append(net)
            out[name] = Segment(
                name=name,
                description=seg.description or "",
                kubernetes=k8s,
                cidrs=tuple(ipaddress.collapse_addresses([c for c in cidrs if c.version == 4]))
                + tuple(ipaddress.collapse_addresses([c for c in cidrs if c.version == 6])),
            )
        return out

    def kubernetes(self, path: Path_, namespace: str, labels: dict[str, str]) -> KubernetesSelector:
        if (why := namespace_problem(namespace)) is not None:
            self.err((*path, "namespace"), why)
        for k, v in labels.items():
            if (why := label_key_problem(k)) is not None:
                self.err((*path, "labels", k), why)
            if (why := label_value_problem(v)) is not None:
                self.err((*path, "labels", k), why)
        return KubernetesSelector(namespace, tuple(sorted(labels.items())))

    def networks(self, segment_names: set[str]) -> dict[str, Network]:
        out: dict[str, Network] = {}
        for name, net in self.m.networks.items():
            path = ("networks", name)
            self.check_name(path, name, "network")
            if name in segment_names:
                self.err(path, f"'{name}' is both a segment and a network: rename one")
            if not net.include:
                self.err((*path, "include"), "empty network: list at least one CIDR")
                continue
            includes = [c for i, t in enumerate(net.include)
                        if (c := self.cidr((*path, "include", i), t)) is not None]
            excludes = [(i, c) for i, t in enumerate(net.exclude)
                        if (c := self.cidr((*path, "exclude", i), t)) is not None]
            includes = _collapse(includes)
            blocks = []
            for inc in includes:
                inside = [c for _, c in excludes if _within(c, inc)]
                blocks.append(Block(inc, tuple(_collapse(inside))))
            for i, exc in excludes:
                if not any(_within(exc, inc) for inc in includes):
                    self.err((*path, "exclude", i), f"exclusion {exc} is outside every include of "
                             f"'{name}': remove it or widen an include")
            network = Network(name, tuple(blocks))
            if includes and not network.addresses:
                self.err(path, "exclusions remove every address: the network is empty")
            out[name] = network
        if INTERNET not in out:  # a spec may redefine it (e.g. [0.0.0.0/0, ::/0] in a lab)
            out[INTERNET] = Network(INTERNET, (
                Block(ipaddress.ip_network("0.0.0.0/0"), tuple(ipaddress.ip_network(c) for c in PRIVATE_V4)),
                Block(ipaddress.ip_network("2000::/3")),
            ), builtin=True)
        return out

    def services(self) -> dict[str, PortSet]:
        out: dict[str, PortSet] = {}
        raw = self.m.services
        for name, literals in raw.items():
            path = ("services", name)
            if name in RESERVED:
                self.err(path, f"'{name}' is a port literal, not a service name: a service called "
                         f"'{name}' would shadow it; name the service after what it serves "
                         f"(the literals {', '.join(RESERVED)} are reserved)")
                continue
            self.check_name(path, name, "service")
            if not literals:
                self.err(path, "empty port list: give at least one port, e.g. tcp/443")
                continue
            ports = PortSet()
            for i, lit in enumerate(literals):
                p = (*path, i) if len(literals) > 1 else path
                other = raw.get(lit)
                if other is not None and lit not in RESERVED:
                    self.err(p, f"'{lit}' is a service: services hold port literals only; write its "
                             f"literals instead: [{', '.join(str(x) for x in other)}]")
                    continue
                try:
                    ports = ports | parse_port(lit)
                except PortError as exc:
                    self.err(p, str(exc))
            out[name] = ports
        return out

    def endpoint(self, path: Path_, name: str, segments: dict[str, Segment],
                 networks: dict[str, Network]) -> Endpoint | None:
        if name in segments:
            return Endpoint("segment", name)
        if name in networks:
            return Endpoint("network", name)
        if name.startswith("@") and NAME_RE.match(name[1:]):
            return Endpoint("platform", name)
        known = list(segments) + list(networks)
        hint = did_you_mean(name, known)
        if not hint:
            hint = f" (segments: {', '.join(sorted(segments)) or 'none'}; " \
                   f"networks: {', '.join(sorted(networks))})"
        self.err(path, f"unknown segment or network '{name}'{hint}")
        return None

    def flows(self, segments: dict[str, Segment], networks: dict[str, Network],
              services: dict[str, PortSet]) -> tuple[Flow, ...]:
        merged: dict[tuple[Endpoint, Endpoint], Flow] = {}
        for i, flow in enumerate(self.m.flows):
            path = ("flows", i)
            srcs = self.side(path, "from", flow.from_, segments, networks)
            dsts = self.side(path, "to", flow.to, segments, networks)
            ports = self.flow_ports(path, flow.ports, services)
            if srcs is None or dsts is None or ports is None:
                continue
            for s in srcs:
                for d in dsts:
                    if not s.is_segment and not d.is_segment and not _into_governable(s, d):
                        self.err(path, f"flow between '{s}' and '{d}', neither a segment: nothing "
                                 "cloudfence deploys enforces it; name a segment on one side")
                        continue
                    key = (s, d)
                    desc = (flow.description,) if flow.description else ()
                    if key in merged:
                        old = merged[key]
                        merged[key] = Flow(s, d, old.ports | ports, (*old.origins, i),
                                           old.descriptions + desc)
                    else:
                        merged[key] = Flow(s, d, ports, (i,), desc)
        return tuple(merged[k] for k in sorted(merged, key=lambda k: (k[0].name, k[1].name)))

    def side(self, path: Path_, key: str, names: list[str], segments: dict[str, Segment],
             networks: dict[str, Network]) -> list[Endpoint] | None:
        if not names:
            self.err((*path, key), f"empty '{key}' list: name at least one segment or network")
            return None
        out = []
        for j, name in enumerate(names):
            p = (*path, key, j) if len(names) > 1 else (*path, key)
            ep = self.endpoint(p, name, segments, networks)
            if ep is not None and ep not in out:
                out.append(ep)
        return out if len(out) == len(set(names)) else None

    def flow_ports(self, path: Path_, items: list[str], services: dict[str, PortSet]) -> PortSet | None:
        if not items:
            self.err((*path, "ports"), "empty port list: give at least one port or service, "
                     "e.g. [https] or [tcp/443]")
            return None
        ports = PortSet()
        ok = True
        for j, item in enumerate(items):
            p = (*path, "ports", j) if len(items) > 1 else (*path, "ports")
            if not isinstance(item, str):
                self.err(p, f"expected a port literal or service name, got {item!r}")
                ok = False
            elif item in services:
                ports = ports | services[item]
            elif "/" in item or item.strip().lower() in ("icmp", "icmpv6", "any", *PORTED):
                try:
                    ports = ports | parse_port(item)
                except PortError as exc:
                    self.err(p, str(exc))
                    ok = False
            else:
                hint = did_you_mean(item, services) or (
                    f" (services: {', '.join(sorted(services))})" if services else "")
                self.err(p, f"unknown service '{item}'{hint}: define it under 'services' or "
                         "write a literal such as tcp/443")
                ok = False
        return ports if ok else None


class _Owned:
    """The segments' cidrs so far, pairwise disjoint (an overlapping one is refused, not
    added), sorted by first address: the first one added that overlaps a new cidr is
    found by bisection, not by a pass over all of them."""

    def __init__(self) -> None:
        self.starts: dict[int, list[int]] = {4: [], 6: []}
        self.entries: dict[int, list[tuple[int, int, IPNetwork, str]]] = {4: [], 6: []}

    def first_overlap(self, net: IPNetwork) -> tuple[IPNetwork, str] | None:
        starts, entries = self.starts[net.version], self.entries[net.version]
        lo, hi = int(net.network_address), int(net.broadcast_address)
        i = bisect.bisect_right(starts, lo) - 1
        if i < 0 or entries[i][1] < lo:  # the one starting at or before lo ends before it
            i += 1
        hits = []
        while i < len(starts) and starts[i] <= hi:
            hits.append(entries[i])
            i += 1
        if not hits:
            return None
        _, _, other_net, other = min(hits, key=lambda e: e[0])
        return other_net, other

    def add(self, net: IPNetwork, name: str) -> None:
        starts, entries = self.starts[net.version], self.entries[net.version]
        start = int(net.network_address)
        i = bisect.bisect_left(starts, start)
        starts.insert(i, start)
        order = sum(len(e) for e in self.entries.values())
        entries.insert(i, (order, int(net.broadcast_address), net, name))


def _collapse(nets: Iterable[IPNetwork]) -> list[IPNetwork]:
    nets = list(nets)
    return list(ipaddress.collapse_addresses([n for n in nets if n.version == 4])) + list(
        ipaddress.collapse_addresses([n for n in nets if n.version == 6])
    )


def _within(inner: IPNetwork, outer: IPNetwork) -> bool:
    """inner ⊆ outer; False across families, where ipaddress would raise."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False
