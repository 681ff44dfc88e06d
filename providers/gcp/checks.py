"""What GCP cannot express, found before anything is built: egress to a
segment that has no address, service accounts missing, quotas exceeded."""

from __future__ import annotations

from cloudfence.errors import Problem, did_you_mean
from cloudfence.intent import Intent
from cloudfence.providers.gcp.rules import Rule
from cloudfence.providers.gcp.settings import GcpSettings


def egress_problems(intent: Intent) -> list[Problem]:
    """GCP egress rules name destinations by range only: a flow from a segment
    to a segment without a cidr cannot be held at its source."""
    out = []
    for flow in intent.flows:
        if flow.src.is_segment and flow.dst.is_segment and not intent.segments[flow.dst.name].cidrs:
            out.append(intent.problem(flow, (
                f"GCP egress rules name destinations by address only, and '{flow.dst}' has no cidr: "
                f"give segment '{flow.dst}' a cidr (the range its workloads hold), or target another "
                "provider")))
    return out


def account_problems(intent: Intent, settings: GcpSettings) -> list[Problem]:
    if not settings.uses_service_accounts:
        return []
    given = settings.service_accounts
    out = [Problem(f"settings.serviceAccounts.{seg}", (
        f"missing: with identity serviceAccount every segment needs the service account its "
        f"workloads run as; add {seg}: NAME@PROJECT.iam.gserviceaccount.com"))
        for seg in intent.segments if seg not in given]
    out += [Problem(f"settings.serviceAccounts.{key}", (
        f"no segment '{key}' in spec '{intent.name}'{did_you_mean(key, intent.segments)}: "
        "remove it or rename it to a segment"))
        for key in given if key not in intent.segments]
    return out


def quota_problems(rules: list[Rule], settings: GcpSettings) -> list[Problem]:
    quota = settings.rules_per_project
    if len(rules) <= quota:
        return []
    allows = sum(r.allow for r in rules)
    return [Problem("settings.rulesPerProject", (
        f"the spec needs {len(rules)} firewall rules ({allows} allows and {len(rules) - allows} "
        f"deny-all rules, four per segment), over the quota of {quota}: raise the project's "
        "'Firewall rules' quota and this setting, or merge flows or segments"))]
