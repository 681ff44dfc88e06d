"""Security groups as AWS holds them, as plan records (`verify --deployed`).

From the AWS CLI (`aws ec2 describe-security-groups`, `describe-security-group-rules`:
one file or several, each group named by its id) and from a Pulumi state export,
where the refreshed outputs are what AWS reports now: a group's `ingress`/`egress`
list every rule of the group, so those no rule resource of the stack holds (added in
the console or by another tool) are judged with the group. A group joins a segment
by its `cloudfence:segment` tag, as compiled records do; a group of the spec that has
lost the tag is reported by name, since its members are then no segment's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from cloudfence.errors import CloudfenceError, Problem
from cloudfence.intent import Intent
from cloudfence.plan import DeployedRecords, Resource, ref, ref_name
from cloudfence.providers.aws.boxes import ANY
from cloudfence.providers.aws.evaluate import READ_INPUTS
from cloudfence.providers.aws.names import TAG_ENDPOINT, TAG_SEGMENT, TAG_SPEC
from cloudfence.providers.aws.wire import (
    EGRESS_RULE,
    INGRESS_RULE,
    LEGACY_RULE,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
    PROTOCOL_NAMES,
    SECURITY_GROUP,
)
from cloudfence.pulumistate import StateResource, sealed

# Inputs that change nothing a rule allows (deletion behaviour, provider-level tags, naming).
_INERT = frozenset({"revokeRulesOnDelete", "tagsAll", "namePrefix"})
# Outputs that give members addresses the records do not show (an IPv6 block added later).
_ADDRESSING = frozenset({"ipv6CidrBlock", "ipv6IpamPoolId"})
ACL_ASSOCIATION = "aws:ec2/networkAclAssociation:NetworkAclAssociation"
_PERMISSION = frozenset({"IpProtocol", "FromPort", "ToPort", "IpRanges", "Ipv6Ranges", "PrefixListIds",
                         "UserIdGroupPairs"})
_RULE_FIELDS = frozenset({"SecurityGroupRuleId", "GroupId", "GroupOwnerId", "IsEgress", "IpProtocol",
                          "FromPort", "ToPort", "CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupInfo",
                          "Description", "Tags", "SecurityGroupRuleArn"})
_PULUMI_SUFFIX = re.compile(r"-[0-9a-f]{7}$")  # Pulumi's auto-name suffix on GroupName
_PEER_FIELDS = (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6"), ("PrefixListIds", "PrefixListId"),
                ("UserIdGroupPairs", "GroupId"))
_PEER_KEYS = {"v4": "cidrIpv4", "v6": "cidrIpv6", "pl": "prefixListId", "sg": "referencedSecurityGroupId"}


def is_cli(doc: Any) -> bool:
    return isinstance(doc, dict) and (isinstance(doc.get("SecurityGroups"), list)
                                      or isinstance(doc.get("SecurityGroupRules"), list))


# ------------------------------------------------------------------ AWS CLI


def cli_records(doc: Mapping[str, Any], intent: Intent, file: str) -> DeployedRecords:
    problems: list[Problem] = []
    records: list[Resource] = []
    for i, group in enumerate(doc.get("SecurityGroups") or []):
        records += _group(group, f"SecurityGroups[{i}]", file, problems)
    for i, rule in enumerate(doc.get("SecurityGroupRules") or []):
        found = _cli_rule(rule, f"SecurityGroupRules[{i}]", file, problems)
        if found is not None:
            records.append(found)
    if problems:
        raise CloudfenceError(problems)
    records, notes = own_segments(records, intent)
    groups = [r for r in records if r.type == SECURITY_GROUP]
    notes += _reference_notes(records, groups)
    if not groups:
        notes.append(f"{file} describes no security group: its rules count only with their groups' tags "
                     "(give describe-security-groups too: --deployed groups.json --deployed rules.json)")
    notes.append("network ACLs are not in these files and not judged: a subnet's ACL may deny what the "
                 "groups allow (a Pulumi state export holds the stack's)")
    if any(r.inputs.get("prefixListId") for r in records):
        notes.append("a rule naming a prefix list matches any address: the AWS CLI files do not hold its "
                     "entries (a Pulumi state export does)")
    return DeployedRecords(tuple(records), tuple(notes), tuple(untagged(groups, intent)))


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return {str(t.get("Key")): str(t.get("Value", "")) for t in raw or () if isinstance(t, dict)}


def _group(group: Any, where: str, file: str, problems: list[Problem]) -> list[Resource]:
    if not isinstance(group, dict) or not isinstance(group.get("GroupId"), str):
        problems.append(Problem(where, "expected a security group with GroupId", file))
        return []
    gid = group["GroupId"]
    inputs: dict[str, Any] = {"tags": _tags(group.get("Tags"))}
    for key, wire in (("Description", "description"), ("VpcId", "vpcId"), ("GroupName", "name")):
        if isinstance(group.get(key), str):
            inputs[wire] = group[key]
    out = [Resource(SECURITY_GROUP, gid, inputs)]
    for key, rtype, direction in (("IpPermissions", INGRESS_RULE, "ingress"),
                                  ("IpPermissionsEgress", EGRESS_RULE, "egress")):
        for j, perm in enumerate(group.get(key) or []):
            at = f"{where}.{key}[{j}]"
            if not isinstance(perm, dict) or not isinstance(perm.get("IpProtocol"), str):
                problems.append(Problem(at, "expected a permission with IpProtocol", file))
                continue
            _check_permission(perm, at, file, problems)
            for k, (kind, value, text) in enumerate(_permission_peers(perm)):
                inputs = {"securityGroupId": ref(gid), "ipProtocol": perm["IpProtocol"],
                          _PEER_KEYS[kind]: value, **_ports(perm.get("FromPort"), perm.get("ToPort"))}
                if text:
                    inputs["description"] = text
                out.append(Resource(rtype, f"{gid}-{direction}-{j}-{k}", inputs))
    return out


def _check_permission(perm: Mapping[str, Any], at: str, file: str, problems: list[Problem]) -> None:
    """Fields and peers verify reads, and no other: one it cannot read may allow anything."""
    for field in sorted(set(perm) - _PERMISSION):
        problems.append(Problem(f"{at}.{field}", "a field verify does not read: it may change "
                                "what the rule allows", file))
    for key, field in _PEER_FIELDS:
        for m, item in enumerate(perm.get(key) or []):
            if not isinstance(item, dict) or not isinstance(item.get(field), str):
                problems.append(Problem(f"{at}.{key}[{m}]", f"expected an entry with {field}: an entry "
                                        "verify cannot read may allow anything", file))


def _permission_peers(perm: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, peer, description) for each peer of one IpPermission."""
    for (key, field), kind in zip(_PEER_FIELDS, ("v4", "v6", "pl", "sg"), strict=True):
        for item in perm.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get(field), str):
                value = ref(item[field]) if kind == "sg" else item[field]
                yield kind, value, str(item.get("Description") or "")


def _ports(lo: Any, hi: Any) -> dict[str, Any]:
    return {k: v for k, v in (("fromPort", lo), ("toPort", hi)) if v is not None}


def _cli_rule(rule: Any, where: str, file: str, problems: list[Problem]) -> Resource | None:
    if not isinstance(rule, dict) or not all(isinstance(rule.get(k), str)
                                             for k in ("SecurityGroupRuleId", "GroupId", "IpProtocol")):
        problems.append(Problem(where, "expected a rule with SecurityGroupRuleId, GroupId and IpProtocol",
                                file))
        return None
    for field in sorted(set(rule) - _RULE_FIELDS):
        problems.append(Problem(f"{where}.{field}", "a field verify does not read: it may change what the "
                                "rule allows", file))
    inputs: dict[str, Any] = {"securityGroupId": ref(rule["GroupId"]), "ipProtocol": rule["IpProtocol"],
                              **_ports(rule.get("FromPort"), rule.get("ToPort")),
                              "tags": _tags(rule.get("Tags"))}
    for key, wire in (("CidrIpv4", "cidrIpv4"), ("CidrIpv6", "cidrIpv6"), ("PrefixListId", "prefixListId"),
                      ("Description", "description")):
        if isinstance(rule.get(key), str):
            inputs[wire] = rule[key]
    referenced = rule.get("ReferencedGroupInfo")
    if isinstance(referenced, dict) and isinstance(referenced.get("GroupId"), str):
        inputs["referencedSecurityGroupId"] = ref(referenced["GroupId"])
    elif referenced is not None:
        problems.append(Problem(f"{where}.ReferencedGroupInfo", "expected the referenced group's GroupId: a "
                                "peer verify cannot read may allow anything", file))
    rtype = EGRESS_RULE if rule.get("IsEgress") else INGRESS_RULE
    return Resource(rtype, rule["SecurityGroupRuleId"], inputs)


# ------------------------------------------------------------ Pulumi state


def state_records(state: Sequence[StateResource], intent: Intent) -> DeployedRecords:
    """The stack's network records with what AWS reported at the last refresh: a rule's
    current fields, a group's current tags, and the rules of a group no resource holds."""
    records = [_refreshed(r) for r in state if r.type in READ_INPUTS]
    kept = {r.name for r in records}
    moved = [Problem(f"record {r.name}", f"{r.type} moves a subnet of the stack to another network ACL: "
                     "verify does not read it, and the subnet's filtering depends on it")
             for r in state if r.type == ACL_ASSOCIATION and ref_name(r.inputs.get("subnetId")) in kept]
    if moved:
        raise CloudfenceError(moved)
    hidden = [p for r in state if r.name in kept and r.type in (SECURITY_GROUP, NETWORK_ACL)
              for key in ("ingress", "egress")
              for p in sealed(r.outputs.get(key), f"record {r.name}.outputs.{key}")]
    if hidden:  # the rules AWS holds now are what the refreshed outputs show
        raise CloudfenceError(hidden)
    groups = {r.name: r for r in state if r.type == SECURITY_GROUP}
    accounted = set(_held_rules(records))
    notes = []
    for i, record in enumerate(records):
        source = groups.get(record.name)
        if source is None or not any(k in source.outputs for k in ("ingress", "egress")):
            continue
        inputs = {k: v for k, v in record.inputs.items() if k not in ("ingress", "egress")}
        outside = 0
        for key in ("ingress", "egress"):
            entries = [e for e in _split(source.outputs.get(key) or [], record.name)
                       if _atom(key, record.name, e) not in accounted]
            if entries:
                inputs[key] = entries
                outside += len(entries)
        records[i] = Resource(record.type, record.name, inputs)
        if outside:
            notes.append(f"group {record.name}: {outside} rule(s) that no resource of the stack holds (added "
                         "outside Pulumi, as the refreshed state shows) are judged with it")
    for acl in (r for r in state if r.type == NETWORK_ACL):
        found = list(_acl_entries(acl, records))
        if found:
            records += found
            notes.append(f"network ACL {acl.name}: {len(found)} of its entries no resource of the stack "
                         "holds (added outside Pulumi, as the refreshed state shows) are judged with it")
    records, foreign = own_segments(records, intent)
    groups_kept = [r for r in records if r.type == SECURITY_GROUP]
    notes += foreign + list(_reference_notes(records, groups_kept))
    return DeployedRecords(tuple(records), tuple(notes), tuple(untagged(groups_kept, intent)))


def _refreshed(r: StateResource) -> Resource:
    """Inputs, each field the evaluator reads taken from the refreshed outputs where they hold it."""
    read = READ_INPUTS[r.type] - {"ingress", "egress"}
    inputs = {k: v for k, v in r.inputs.items() if k not in _INERT}
    for key in _ADDRESSING & set(r.outputs):
        if r.outputs[key]:  # assigned outside Pulumi: evaluate refuses what it does not read
            inputs[key] = r.outputs[key]
    for key in read:
        if key in r.outputs and (key in inputs or r.outputs[key] not in (None, "", [], {})):
            inputs[key] = r.outputs[key]
    return Resource(r.type, r.name, {k: v for k, v in inputs.items() if v is not None or k not in read})


def _acl_entries(acl: StateResource, records: Sequence[Resource]) -> Iterator[Resource]:
    """The entries a network ACL's refreshed `ingress`/`egress` list that no NetworkAclRule of the
    stack holds (a rule number is unique per ACL and direction), as NetworkAclRule records."""
    held = {(bool(r.inputs.get("egress")), r.inputs.get("ruleNumber")) for r in records
            if r.type == NETWORK_ACL_RULE and ref_name(r.inputs.get("networkAclId")) == acl.name}
    problems = []
    for key in ("ingress", "egress"):
        entries = acl.outputs.get(key) or []
        for i, e in enumerate(entries if isinstance(entries, list) else [entries]):
            where = f"record {acl.name}.outputs.{key}[{i}]"
            if not isinstance(e, dict) or not isinstance(e.get("ruleNo"), int):
                problems.append(Problem(where, "expected a network ACL entry with ruleNo"))
                continue
            if (key == "egress", e["ruleNo"]) in held:
                continue
            proto = str(e.get("protocol", ""))
            inputs: dict[str, Any] = {"networkAclId": ref(acl.name), "ruleNumber": e["ruleNo"],
                                      "egress": key == "egress", "protocol": proto,
                                      "ruleAction": e.get("action"),
                                      **_ports(e.get("fromPort"), e.get("toPort"))}
            for field in ("cidrBlock", "ipv6CidrBlock"):
                if e.get(field):
                    inputs[field] = e[field]
            if PROTOCOL_NAMES.get(proto.lower()) in ("icmp", "icmpv6"):
                inputs.update(icmpType=e.get("icmpType"), icmpCode=e.get("icmpCode"))
            yield Resource(NETWORK_ACL_RULE, f"{acl.name}-{key}-{e['ruleNo']}", inputs)
    if problems:
        raise CloudfenceError(problems)


_Atom = tuple[str, str, str, Any, Any, str, str]


def _norm(direction: str, group: str, proto: Any, lo: Any, hi: Any, kind: str, peer: Any) -> _Atom:
    name = PROTOCOL_NAMES.get(str(proto).lower(), str(proto).lower())
    if name == ANY:
        lo = hi = None
    return (direction, group, name, lo, hi, kind, str(peer))


def _held_rules(records: Iterable[Resource]) -> Iterator[_Atom]:
    """Every (group, direction, ports, peer) a rule resource holds. A group's own inline rules
    are not counted: its refreshed outputs say which of them still exist."""
    for r in records:
        if r.type in (INGRESS_RULE, EGRESS_RULE):
            group = ref_name(r.inputs.get("securityGroupId")) or ""
            direction = "ingress" if r.type == INGRESS_RULE else "egress"
            for kind, key in _PEER_KEYS.items():
                if r.inputs.get(key):
                    yield _norm(direction, group, r.inputs.get("ipProtocol"), r.inputs.get("fromPort"),
                                r.inputs.get("toPort"), kind, r.inputs[key])
        elif r.type == LEGACY_RULE:
            group = ref_name(r.inputs.get("securityGroupId")) or ""
            direction = "egress" if r.inputs.get("type") == "egress" else "ingress"
            for entry in _split([r.inputs], group):
                yield _atom(direction, group, entry)


def _split(entries: Iterable[Any], group: str) -> Iterator[dict[str, Any]]:
    """Inline-form rules (a group's `ingress` output) one peer each, `self` as the group itself."""
    for e in entries:
        if not isinstance(e, dict):
            continue
        base = {k: e[k] for k in ("protocol", "fromPort", "toPort", "description") if k in e}
        for key in ("cidrBlocks", "ipv6CidrBlocks", "prefixListIds", "securityGroups"):
            for value in e.get(key) or []:
                yield {**base, key: [value]}
        if e.get("sourceSecurityGroupId"):
            yield {**base, "securityGroups": [e["sourceSecurityGroupId"]]}
        if e.get("self"):
            yield {**base, "securityGroups": [ref(group)]}


def _atom(direction: str, group: str, entry: Mapping[str, Any]) -> _Atom:
    for key, kind in (("cidrBlocks", "v4"), ("ipv6CidrBlocks", "v6"), ("prefixListIds", "pl"),
                      ("securityGroups", "sg")):
        if entry.get(key):
            return _norm(direction, group, entry.get("protocol"), entry.get("fromPort"), entry.get("toPort"),
                         kind, entry[key][0])
    return _norm(direction, group, entry.get("protocol"), None, None, "", "")


# ------------------------------------------------------------ both


def own_segments(records: Sequence[Resource], intent: Intent) -> tuple[list[Resource], list[str]]:
    """A group tagged with another spec is none of this spec's segments (nor its load
    balancer), whatever segment or endpoint tag it carries: two specs in one VPC may both
    name a segment `db`, and the other's rules must neither stand in for this one's nor
    hide that this one's are gone."""
    out, others = [], []
    for r in records:
        tags = r.inputs.get("tags") or {}
        spec = tags.get(TAG_SPEC) if isinstance(tags, dict) else None
        ours = (TAG_SEGMENT, TAG_ENDPOINT)  # a segment's group, or the load balancer's
        if r.type == SECURITY_GROUP and any(k in tags for k in ours) and spec is not None \
                and spec != intent.name:
            kept = {k: v for k, v in tags.items() if k not in ours}
            r = Resource(r.type, r.name, {**r.inputs, "tags": kept})
            others.append(r.name)
        out.append(r)
    notes = [f"group(s) {', '.join(others)} tagged for another spec: no segment's here (a reference to "
             "one matches anyone)"] if others else []
    return out, notes


def _segment_name(group: Resource, intent: Intent) -> str | None:
    """The segment a group is named for (`<spec>-<segment>`, Pulumi's suffix aside), if any."""
    tags = group.inputs.get("tags") or {}
    for name in (tags.get("Name"), group.inputs.get("name"), group.name):
        if isinstance(name, str):
            base = _PULUMI_SUFFIX.sub("", name)
            for seg in intent.segments:
                if base == f"{intent.name}-{seg}":
                    return seg
    return None


def untagged(groups: Sequence[Resource], intent: Intent) -> Iterator[tuple[str, str, str]]:
    """Groups of the spec (by its spec tag or its name) that carry no segment tag."""
    for g in groups:
        tags = g.inputs.get("tags") or {}
        if TAG_SEGMENT in tags or TAG_ENDPOINT in tags or tags.get(TAG_SPEC, intent.name) != intent.name:
            continue  # a segment's, a platform endpoint's (the load balancer's), or another spec's
        seg = _segment_name(g, intent)
        if seg is None and tags.get(TAG_SPEC) != intent.name:
            continue
        name = tags.get("Name") or g.inputs.get("name")
        fix = f"{TAG_SEGMENT}={seg}" if seg else f"{TAG_SEGMENT}=<segment>"
        yield (seg or g.name, f"group {g.name}" + (f" ({name})" if name else ""),
               f"no {TAG_SEGMENT} tag, its members are no segment's: tag it {fix}")


def _reference_notes(records: Sequence[Resource], groups: Sequence[Resource]) -> Iterator[str]:
    """Side doors: groups of no segment whose rules reference a segment's group are judged at
    the segment's own rules (a reference to them matches anyone); say which they are."""
    segment_of = {g.name: (g.inputs.get("tags") or {}).get(TAG_SEGMENT) for g in groups
                  if TAG_ENDPOINT not in (g.inputs.get("tags") or {})}  # the load balancer's is an end
    touching: dict[str, set[str]] = {}
    for r in records:
        if r.type not in (INGRESS_RULE, EGRESS_RULE):
            continue
        owner = ref_name(r.inputs.get("securityGroupId")) or ""
        peer = ref_name(r.inputs.get("referencedSecurityGroupId")) or ""
        if owner in segment_of and not segment_of[owner] and segment_of.get(peer):
            touching.setdefault(owner, set()).add(str(segment_of[peer]))
    for owner, segs in sorted(touching.items()):
        yield (f"group {owner} is no segment's but its rules reference {', '.join(sorted(segs))}: a segment "
               "whose members attach it too is widened by it (verify reads rules, not attachments)")
