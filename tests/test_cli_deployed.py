"""`cloudfence verify SPEC --deployed FILE`: deployed state judged as a plan is, by the
command a CI job or an auditor runs. Each drift case (a rule added by hand, a rule
deleted, a selector or CIDR widened) must be reported with the connection it changes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import deployedstate as deployed
from tests.fakeplugin import AWS_EXAMPLE, AWS_S3, EXAMPLE, K8S_STACK, S3_PREFIX_LIST, run_cli

SPEC = str(EXAMPLE)
# An audit of AWS CLI files: the VPC exists (its S3 prefix list is known by id).
AWS = ("-p", "aws", "--set", f"vpcId={deployed.VPC_ID}", "--set", "vpcCidrs=[10.20.0.0/16]",
       "--set", f"objectStoragePrefixList={S3_PREFIX_LIST}")
K8S = ("--stack", str(K8S_STACK))


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    kube, aws = deployed.kubernetes_plan(), deployed.aws_plan()
    return {"kubectl": deployed.kubectl_list(kube), "groups": deployed.describe_security_groups(aws),
            "rules": deployed.describe_security_group_rules(aws),
            "aws-state": deployed.stack_export(deployed.aws_plan(prefix_lists=True)),
            "k8s-state": deployed.stack_export(kube)}


def write(tmp_path: Path, name: str, doc: Any) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc) if name.endswith(".yaml") else json.dumps(doc, indent=2))
    return str(path)


def verify(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    proc = run_cli(["verify", SPEC, *args, "--format", "json"], env)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else None, proc.stderr


def differences(doc: Any) -> list[tuple[str, str, str, str, str]]:
    (target,) = doc["targets"]
    return [(c["kind"], c["source"], c["destination"], c["protocol"], c["ports"])
            for c in target["counterexamples"]]


def policy(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(i for i in doc["items"] if i["metadata"]["name"] == name)


def group(doc: dict[str, Any], segment: str) -> dict[str, Any]:
    return next(g for g in doc["SecurityGroups"]
                if {"Key": "cloudfence:segment", "Value": segment} in g["Tags"])


# -------------------------------------------------------------- kubernetes


@pytest.mark.parametrize("name", ["policies.json", "policies.yaml"])
def test_kubectl_list_as_compiled_is_equivalent(env: dict[str, str], docs: dict, tmp_path: Path,
                                                name: str) -> None:
    proc = run_cli(["verify", SPEC, *K8S, "--deployed", write(tmp_path, name, docs["kubectl"])], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("kubernetes: equivalent (")
    assert "assumes: deployed: 7 NetworkPolicies of spec ai-inference and 0 of other writers" in proc.stdout
    assert "assumes: policies of other kinds (AdminNetworkPolicy, a CNI's own such as CiliumNetworkPolicy) " \
        "are not in `kubectl get networkpolicies` and not judged" in proc.stdout


def test_kubectl_policy_added_by_hand_is_an_extra_connection(env: dict[str, str], docs: dict,
                                                             tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["kubectl"])
    doc["items"].append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": {"name": "debug-ssh", "namespace": "data"},
                         "spec": {"podSelector": {"matchLabels": {"role": "database"}},
                                  "policyTypes": ["Ingress"],
                                  "ingress": [{"ports": [{"protocol": "TCP", "port": 22}]}]}})
    code, out, _ = verify(env, *K8S, "--deployed", write(tmp_path, "added.json", doc))
    assert code == 1
    found = differences(out)
    assert found and all(d[0] == "extra" and d[2] == "feature-db" and d[3:] == ("tcp", "22") for d in found)
    assert ("extra", "corp-vpn (10.200.0.1 .. 10.200.255.255)", "feature-db", "tcp", "22") in found
    assert "1 of other writers" in " ".join(out["targets"][0]["assumptions"])
    table = run_cli(["verify", SPEC, *K8S, "--deployed", write(tmp_path, "added.json", doc)], env)
    assert table.returncode == 1
    assert table.stdout.startswith("kubernetes: NOT equivalent (")
    assert any(line.split()[:5] == ["extra", "allowed", "but", "not", "intended"] and "feature-db" in line
               and line.split()[-3:] == ["tcp", "22", "22"] for line in table.stdout.splitlines())


def test_kubectl_rule_deleted_is_a_missing_connection(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["kubectl"])
    gateway = policy(doc, "ai-inference-gateway")
    gateway["spec"]["ingress"] = [r for r in gateway["spec"]["ingress"]
                                  if r["ports"] != [{"protocol": "TCP", "port": 9090, "endPort": 9102}]]
    code, out, _ = verify(env, *K8S, "--deployed", write(tmp_path, "deleted.json", doc))
    assert code == 1
    assert differences(out) == [("missing", "monitoring", "gateway", "tcp", "9090-9102")]


def test_kubectl_selector_widened_is_an_extra_connection(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["kubectl"])
    inference = policy(doc, "ai-inference-inference")
    rule = next(r for r in inference["spec"]["ingress"] if r["ports"] == [{"protocol": "TCP", "port": 80}])
    assert rule["from"] == [{"podSelector": {"matchLabels": {"role": "frontend"}}}]  # of its own namespace
    rule["from"][0]["namespaceSelector"] = {}  # now {role: frontend} pods of every namespace
    code, out, _ = verify(env, *K8S, "--deployed", write(tmp_path, "widened.json", doc))
    assert code == 1
    found = differences(out)
    assert found and all(d[0] == "extra" and d[2] == "inference" and d[3:] == ("tcp", "80") for d in found)
    assert any("{role=frontend}" in d[1] and "serving" not in d[1] for d in found), found


def test_pulumi_state_shows_an_edit_made_after_pulumi_up(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["k8s-state"])
    stack = doc["deployment"]["resources"][0]["urn"]
    doc["deployment"]["resources"].append({  # its id is "data", as the policies' namespace is
        "urn": stack.replace("pulumi:pulumi:Stack::ai-inference-prod", "kubernetes:core/v1:Namespace::data"),
        "custom": True, "id": "data", "type": "kubernetes:core/v1:Namespace",
        "inputs": {"metadata": {"name": "data"}}, "outputs": {"metadata": {"name": "data"}}})
    assert verify(env, *K8S, "--deployed", write(tmp_path, "state.json", doc))[0] == 0
    live = next(r for r in doc["deployment"]["resources"] if r["urn"].endswith("::ai-inference-feature-db"))
    live["outputs"]["spec"]["ingress"][0]["from"] = []  # kubectl edit: scrape from anywhere
    code, out, _ = verify(env, *K8S, "--deployed", write(tmp_path, "edited.json", doc))
    assert code == 1
    found = differences(out)
    assert found and all(d[0] == "extra" and d[2] == "feature-db" and d[4] == "9090-9102" for d in found)
    assert any(a.startswith("a state export holds the stack's own policies only") for a in
               out["targets"][0]["assumptions"])


def test_pulumi_state_names_a_helm_release_as_not_judged(env: dict[str, str], docs: dict,
                                                          tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["k8s-state"])
    stack = doc["deployment"]["resources"][0]["urn"]
    doc["deployment"]["resources"].append({  # its chart's policies are no resources of the state
        "urn": stack.replace("pulumi:pulumi:Stack::ai-inference-prod",
                             "kubernetes:helm.sh/v3:Release::ingress"),
        "custom": True, "id": "serving/ingress", "type": "kubernetes:helm.sh/v3:Release",
        "inputs": {"chart": "ingress-nginx", "namespace": "serving"}, "outputs": {"status": {}}})
    code, out, _ = verify(env, *K8S, "--deployed", write(tmp_path, "state.json", doc))
    assert code == 0
    assert "not judged: kubernetes:helm.sh/v3:Release ingress: the objects its chart installs (policies " \
        "too) are not resources of the state (judge `kubectl get networkpolicies -A -o json`)" \
        in out["targets"][0]["assumptions"]


# --------------------------------------------------------------------- aws


def test_aws_cli_groups_and_rules_as_compiled_are_equivalent(env: dict[str, str], docs: dict,
                                                            tmp_path: Path) -> None:
    groups = write(tmp_path, "groups.json", docs["groups"])
    rules = write(tmp_path, "rules.json", docs["rules"])
    for files in (("--deployed", groups), ("--deployed", groups, "--deployed", rules)):
        proc = run_cli(["verify", SPEC, *AWS, *files], env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith("aws: equivalent (")
        assert "assumes: network ACLs are not in these files and not judged" in proc.stdout


def test_aws_rule_added_by_hand_is_an_extra_connection(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    rules = copy.deepcopy(docs["rules"])
    db = group(docs["groups"], "feature-db")["GroupId"]
    rules["SecurityGroupRules"].append({
        "SecurityGroupRuleId": "sgr-0handadded000001", "GroupId": db, "GroupOwnerId": deployed.ACCOUNT,
        "IsEgress": False, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0",
        "Description": "debugging", "Tags": []})
    code, out, _ = verify(env, *AWS, "--deployed", write(tmp_path, "groups.json", docs["groups"]),
                          "--deployed", write(tmp_path, "rules.json", rules))
    assert code == 1
    found = differences(out)
    assert found and all(d[0] == "extra" and d[2] == "feature-db (10.20.4.1)" and d[3:] == ("tcp", "22")
                         for d in found)
    assert any(d[1].startswith("internet (") for d in found)


def test_aws_rule_deleted_is_a_missing_connection(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["groups"])
    inference = group(doc, "inference")
    inference["IpPermissionsEgress"] = [p for p in inference["IpPermissionsEgress"]
                                        if p.get("FromPort") != 5432]
    code, out, _ = verify(env, *AWS, "--deployed", write(tmp_path, "groups.json", doc))
    assert code == 1
    assert differences(out) == [("missing", "inference (10.20.2.1)", "feature-db (10.20.4.1)", "tcp", "5432")]


def test_aws_cidr_widened_is_an_extra_connection(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["groups"])
    for perm in group(doc, "monitoring")["IpPermissions"]:
        for r in perm["IpRanges"]:
            if r["CidrIp"] == "10.200.0.0/16":
                r["CidrIp"] = "10.0.0.0/8"
    code, out, _ = verify(env, *AWS, "--deployed", write(tmp_path, "groups.json", doc))
    assert code == 1
    found = differences(out)
    assert found and all(d[0] == "extra" and d[2] == "monitoring (10.20.6.1)" and d[3:] == ("tcp", "443")
                         for d in found)
    assert ("extra", "unnamed address (10.0.0.1 .. 10.20.0.255)", "monitoring (10.20.6.1)", "tcp",
            "443") in found


def test_aws_group_without_its_segment_tag_is_named(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["groups"])
    gateway = group(doc, "gateway")
    gateway["Tags"] = [t for t in gateway["Tags"] if t["Key"] != "cloudfence:segment"]
    code, out, _ = verify(env, *AWS, "--deployed", write(tmp_path, "groups.json", doc))
    assert code == 1
    (target,) = out["targets"]
    export = [c for c in target["counterexamples"] if c["kind"] == "export"]
    assert export == [{"kind": "export", "explanation": "no cloudfence:segment tag, its members are no "
                       "segment's: tag it cloudfence:segment=gateway", "source": "gateway",
                       "destination": f"group {gateway['GroupId']} (ai-inference-gateway)",
                       "protocol": "", "port": None, "ports": ""}]
    assert ("missing", "gateway (10.20.1.1)", "inference (10.20.2.1)", "tcp", "80") in differences(out)


def test_aws_groups_of_another_spec_in_the_vpc_do_not_stand_in_for_its_segments(
        env: dict[str, str], docs: dict, tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["groups"])
    staging = []
    for g in doc["SecurityGroups"]:  # a second spec deployed in the same VPC, same segment names
        twin = copy.deepcopy(g)
        twin["GroupId"] = g["GroupId"].replace("sg-0", "sg-1")
        twin["Tags"] = [{**t, "Value": t["Value"].replace("ai-inference", "staging")} for t in g["Tags"]]
        for perm in twin["IpPermissions"] + twin["IpPermissionsEgress"]:
            for pair in perm["UserIdGroupPairs"]:
                pair["GroupId"] = pair["GroupId"].replace("sg-0", "sg-1")
        staging.append(twin)
    inference = group(doc, "inference")
    inference["IpPermissionsEgress"] = [p for p in inference["IpPermissionsEgress"]
                                        if p.get("FromPort") != 5432]
    doc["SecurityGroups"] += staging
    code, out, _ = verify(env, *AWS, "--deployed", write(tmp_path, "groups.json", doc))
    assert code == 1
    assert differences(out) == [("missing", "inference (10.20.2.1)", "feature-db (10.20.4.1)", "tcp", "5432")]
    (target,) = out["targets"]
    assert any("tagged for another spec" in a and staging[0]["GroupId"] in a for a in target["assumptions"])


def test_aws_pulumi_state_judges_refreshed_rules(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    doc = copy.deepcopy(docs["aws-state"])
    assert verify(env, *AWS, "--deployed", write(tmp_path, "state.json", doc))[0] == 0
    resources = doc["deployment"]["resources"]
    db = next(r for r in resources if r["urn"].endswith("SecurityGroup::ai-inference-feature-db"))
    db["outputs"]["ingress"].append({"cidrBlocks": ["10.200.0.0/16"], "description": "console",
                                     "fromPort": 22, "toPort": 22, "protocol": "tcp", "ipv6CidrBlocks": [],
                                     "prefixListIds": [], "securityGroups": [], "self": False})
    code, out, _ = verify(env, *AWS, "--deployed", write(tmp_path, "added.json", doc))
    assert code == 1
    assert differences(out) == [("extra", "corp-vpn (10.200.0.1 .. 10.200.255.255)", "feature-db (10.20.4.1)",
                                 "tcp", "22")]
    assert any("1 rule(s) that no resource of the stack holds" in a for a in out["targets"][0]["assumptions"])
    # A rule deleted outside Pulumi: refresh drops its resource and its entry in the group's outputs.
    doc = copy.deepcopy(docs["aws-state"])
    doc["deployment"]["resources"] = [r for r in doc["deployment"]["resources"]
                                      if not r["urn"].endswith("-inference-in-tcp-80-from-gateway")]
    inference = next(r for r in doc["deployment"]["resources"]
                     if r["urn"].endswith("SecurityGroup::ai-inference-inference"))
    inference["outputs"]["ingress"] = [e for e in inference["outputs"]["ingress"] if e["fromPort"] != 80]
    code, out, _ = verify(env, *AWS, "--deployed", write(tmp_path, "deleted.json", doc))
    assert code == 1
    assert differences(out) == [("missing", "gateway (10.20.1.1)", "inference (10.20.2.1)", "tcp", "80")]


# --------------------------------------------------------------- bad input


def test_aws_pulumi_state_judges_network_acl_entries_added_outside_pulumi(env: dict[str, str],
                                                                         tmp_path: Path) -> None:
    state = deployed.stack_export(deployed.compiled("aws", {**AWS_EXAMPLE, "vpcCidr": "10.20.0.0/16",
                                                            "nacls": True}))
    resources = state["deployment"]["resources"]
    acls = {r["id"]: r for r in resources if r["type"] == "aws:ec2/networkAcl:NetworkAcl"}
    for acl in acls.values():  # the refreshed ACL lists every entry, its rule resources' too
        acl["outputs"].update(ingress=[], egress=[])
    for r in resources:
        if r["type"] == "aws:ec2/networkAclRule:NetworkAclRule":
            o = r["outputs"]
            acls[o["networkAclId"]]["outputs"]["egress" if o["egress"] else "ingress"].append({
                "ruleNo": o["ruleNumber"], "action": o["ruleAction"], "protocol": o["protocol"],
                "cidrBlock": o.get("cidrBlock", ""), "ipv6CidrBlock": o.get("ipv6CidrBlock", ""),
                "fromPort": o.get("fromPort", 0), "toPort": o.get("toPort", 0), "icmpType": 0, "icmpCode": 0})
    args = ("-p", "aws", "--set", "vpcCidr=10.20.0.0/16", "--set", "aws.nacls=true", *AWS_S3)
    code, out, err = verify(env, *args, "--deployed", write(tmp_path, "state.json", state))
    assert code == 0, (out, err)
    db = next(a for a in acls.values() if a["urn"].endswith("::ai-inference-feature-db-acl"))
    db["outputs"]["ingress"].append({"ruleNo": 1, "action": "deny", "protocol": "-1",
                                     "cidrBlock": "0.0.0.0/0", "ipv6CidrBlock": "", "fromPort": 0,
                                     "toPort": 0, "icmpType": 0, "icmpCode": 0})
    code, out, _ = verify(env, *args, "--deployed", write(tmp_path, "state.json", state))
    assert code == 1
    assert ("missing", "inference (10.20.2.1)", "feature-db (10.20.4.1)", "tcp", "5432") in differences(out)
    (target,) = out["targets"]
    assert any(a.startswith("network ACL ai-inference-feature-db-acl: 1 of its entries") for a in
               target["assumptions"])


def test_bad_deployed_files_exit_2_naming_file_and_place(env: dict[str, str], docs: dict,
        tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"apiVersion": "v1",\n "kind": List}\n')
    proc = run_cli(["verify", SPEC, *K8S, "--deployed", broken], env)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith(f"error: {broken}:2: not a JSON document")

    stream = tmp_path / "two-lists.yaml"  # two `kubectl get -o yaml` outputs, one after the other
    stream.write_text(yaml.safe_dump(docs["kubectl"]) + "---\n" + yaml.safe_dump(docs["kubectl"]))
    proc = run_cli(["verify", SPEC, *K8S, "--deployed", stream], env)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {stream}: document 1 of 2 is a list: give each list as its own")

    doc = copy.deepcopy(docs["kubectl"])
    policy(doc, "ai-inference-gateway")["spec"]["ingress"][0]["from"][0]["serviceAccountSelector"] = {}
    path = write(tmp_path, "unknown.json", doc)
    proc = run_cli(["verify", SPEC, *K8S, "--deployed", path], env)
    index = [i["metadata"]["name"] for i in doc["items"]].index("ai-inference-gateway")
    assert proc.returncode == 2
    assert f"error: {path}: items[{index}].spec.ingress[0].from[0].serviceAccountSelector: a field verify " \
           "does not read" in proc.stderr

    proc = run_cli(["verify", SPEC, *K8S, "--deployed", write(tmp_path, "groups.json", docs["groups"])], env)
    assert proc.returncode == 2
    assert "groups.json: not deployed state provider kubernetes reads" in proc.stderr

    state = copy.deepcopy(docs["aws-state"])
    rule = next(r for r in state["deployment"]["resources"] if r["type"].endswith("SecurityGroupIngressRule"))
    rule["inputs"]["cidrIpv4"] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                                  "ciphertext": "v1:abc"}
    rule["outputs"].pop("cidrIpv4", None)
    path = write(tmp_path, "sealed.json", state)
    proc = run_cli(["verify", SPEC, *AWS, "--deployed", path], env)
    assert proc.returncode == 2
    name = rule["urn"].rsplit("::", 1)[1]
    assert f"error: {path}: record {name}.inputs.cidrIpv4: is a secret" in proc.stderr

    state = copy.deepcopy(docs["aws-state"])  # a group's refreshed rules sealed: they may hold anything
    sg = next(r for r in state["deployment"]["resources"]
              if r["type"] == "aws:ec2/securityGroup:SecurityGroup")
    sg["outputs"]["ingress"] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                                "ciphertext": "v1:abc"}
    path = write(tmp_path, "sealed-group.json", state)
    proc = run_cli(["verify", SPEC, *AWS, "--deployed", path], env)
    assert proc.returncode == 2, proc.stdout
    name = sg["urn"].rsplit("::", 1)[1]
    assert f"error: {path}: record {name}.outputs.ingress: is a secret" in proc.stderr

    proc = run_cli(["verify", SPEC, *AWS, "--deployed", path, "--plan", path], env)
    assert proc.returncode == 2
    assert "give one of them" in proc.stderr


@pytest.mark.parametrize("peer, place, message", [
    ({}, "from[0]", "a peer names none of podSelector, namespaceSelector, ipBlock"),
    ({"podSelector": {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["x"]}]}},
     "from[0].podSelector.matchExpressions[0]", "expected a key, an operator (In, NotIn, Exists"),
    ({"podSelector": {"matchLabels": {"app": ["x"]}}}, "from[0].podSelector.matchLabels",
     "expected labels with string values"),
])
def test_kubectl_peer_verify_cannot_read_is_named(env: dict[str, str], docs: dict, tmp_path: Path,
                                                  peer: dict, place: str, message: str) -> None:
    doc = copy.deepcopy(docs["kubectl"])
    policy(doc, "ai-inference-gateway")["spec"]["ingress"][0]["from"] = [peer]
    index = [i["metadata"]["name"] for i in doc["items"]].index("ai-inference-gateway")
    path = write(tmp_path, "peer.json", doc)
    proc = run_cli(["verify", SPEC, *K8S, "--deployed", path], env)
    assert proc.returncode == 2, proc.stdout
    assert f"error: {path}: items[{index}].spec.ingress[0].{place}: {message}" in proc.stderr


def test_aws_cli_peer_verify_cannot_read_is_named(env: dict[str, str], docs: dict, tmp_path: Path) -> None:
    groups = copy.deepcopy(docs["groups"])
    db = group(groups, "feature-db")
    db["IpPermissions"].append({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [],
                                "UserIdGroupPairs": [{"GroupName": "legacy", "UserId": deployed.ACCOUNT}]})
    index = groups["SecurityGroups"].index(db)
    path = write(tmp_path, "groups.json", groups)
    proc = run_cli(["verify", SPEC, *AWS, "--deployed", path], env)
    assert proc.returncode == 2, proc.stdout
    perm = len(db["IpPermissions"]) - 1
    assert f"error: {path}: SecurityGroups[{index}].IpPermissions[{perm}].UserIdGroupPairs[0]: expected an " \
        "entry with GroupId" in proc.stderr

    rules = copy.deepcopy(docs["rules"])
    rules["SecurityGroupRules"][0].pop("CidrIpv4", None)
    rules["SecurityGroupRules"][0]["ReferencedGroupInfo"] = {"UserId": deployed.ACCOUNT}
    path = write(tmp_path, "rules.json", rules)
    proc = run_cli(["verify", SPEC, *AWS, "--deployed", path], env)
    assert proc.returncode == 2, proc.stdout
    assert f"error: {path}: SecurityGroupRules[0].ReferencedGroupInfo: expected the referenced group's " \
        "GroupId" in proc.stderr


def test_pulumi_state_with_an_interrupted_update_is_refused(env: dict[str, str], docs: dict,
                                                            tmp_path: Path) -> None:
    state = copy.deepcopy(docs["aws-state"])
    rule = next(r for r in state["deployment"]["resources"] if r["type"].endswith("SecurityGroupIngressRule"))
    urn = rule["urn"].rsplit("::", 1)[0] + "::debug-ssh"
    state["deployment"]["pending_operations"] = [{"type": "creating", "resource": {
        "urn": urn, "custom": True, "type": rule["type"],
        "inputs": {**rule["inputs"], "cidrIpv4": "0.0.0.0/0", "fromPort": 22, "toPort": 22}}}]
    path = write(tmp_path, "pending.json", state)
    proc = run_cli(["verify", SPEC, *AWS, "--deployed", path], env)
    assert proc.returncode == 2, proc.stdout
    assert f"error: {path}: deployment.pending_operations[0]: an interrupted update left creating {urn}" \
        in proc.stderr


def test_each_target_of_a_stack_is_judged_from_the_same_state(env: dict[str, str], docs: dict,
                                                              tmp_path: Path) -> None:
    aws_stack = str(EXAMPLE.parent / "Pulumi.aws.yaml")  # names aws and kubernetes
    state = write(tmp_path, "state.json", docs["aws-state"])
    code, out, _ = verify(env, "--stack", aws_stack, "--deployed", state)
    assert code == 2
    targets = {t["provider"]: t for t in out["targets"]}
    assert targets["aws"]["equivalent"] is True
    assert targets["kubernetes"]["equivalent"] is None
    (problem,) = targets["kubernetes"]["problems"]
    assert problem.startswith(f"{state}: deployment.resources: holds no resource provider kubernetes reads")


def test_each_target_of_a_stack_reads_its_own_native_files(env: dict[str, str], docs: dict,
                                                            tmp_path: Path) -> None:
    aws_stack = str(EXAMPLE.parent / "Pulumi.aws.yaml")  # names aws and kubernetes
    groups = write(tmp_path, "groups.json", docs["groups"])
    # the cluster's policies as that stack compiles them (its nodes, its object store)
    stack_settings = yaml.safe_load(Path(aws_stack).read_text())["config"]["cloudfence:providers"]
    kube = deployed.compiled("kubernetes", stack_settings["kubernetes"])
    policies = write(tmp_path, "np.json", deployed.kubectl_list(kube))
    code, out, err = verify(env, "--stack", aws_stack, "--deployed", groups, "--deployed", policies)
    targets = {t["provider"]: t for t in out["targets"]}
    assert targets["kubernetes"]["equivalent"] is True
    # In network mode `@object-storage` is the S3 gateway endpoint's prefix list, which the
    # AWS CLI's group files name by an id they do not explain: read as anyone, errs closed
    # (a Pulumi state export holds the endpoint, and with vpcId the setting names the id).
    assert code == 1, err
    assert {(c["kind"], c["source"].split(" (")[0], c["ports"]) for c in targets["aws"]["counterexamples"]} \
        == {("extra", "inference", "443")}
    assert f"{policies} is another target's deployed state: not read by aws" in targets["aws"]["assumptions"]
    proc = run_cli(["verify", SPEC, *K8S, "--deployed", groups], env)  # none of them its own: refused
    assert proc.returncode == 2
    assert "groups.json: not deployed state provider kubernetes reads" in proc.stderr


def test_state_records_verify_cannot_read_are_refused(env: dict[str, str], docs: dict,
                                                      tmp_path: Path) -> None:
    state = copy.deepcopy(docs["k8s-state"])
    stack = state["deployment"]["resources"][0]["urn"]
    state["deployment"]["resources"].append({
        "urn": stack.replace("pulumi:pulumi:Stack::ai-inference-prod",
                             "kubernetes:cilium.io/v2:CiliumNetworkPolicy::allow-all"),
        "custom": True, "id": "data/allow-all", "type": "kubernetes:cilium.io/v2:CiliumNetworkPolicy",
        "inputs": {"spec": {"endpointSelector": {}}}, "outputs": {}})
    path = write(tmp_path, "cilium.json", state)
    proc = run_cli(["verify", SPEC, *K8S, "--deployed", path], env)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith(f"error: {path}: record allow-all: kubernetes:cilium.io/v2:"
                                  "CiliumNetworkPolicy is a network policy verify does not read")

    state = copy.deepcopy(docs["aws-state"])
    vpc = next(r for r in state["deployment"]["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    vpc["outputs"]["ipv6CidrBlock"] = "2600:1f18:abcd:1200::/56"  # associated in the console
    path = write(tmp_path, "ipv6.json", state)
    proc = run_cli(["verify", SPEC, *AWS, "--deployed", path], env)
    assert proc.returncode == 2
    assert f"error: {path}: record ai-inference.inputs.ipv6CidrBlock: an input verify does not read" \
        in proc.stderr


# ----------------------------------------------- files as the tools print them

FIXTURES = Path(__file__).parent / "fixtures" / "deployed"
SHOP = str(FIXTURES / "shop.yaml")


def test_kubectl_yaml_as_printed_is_equivalent(env: dict[str, str]) -> None:
    policies = FIXTURES / "kubectl-networkpolicies.yaml"
    proc = run_cli(["verify", SHOP, "-p", "kubernetes", "--deployed", policies], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("kubernetes: equivalent (")


def test_aws_cli_files_as_printed_show_the_rule_added_by_hand(env: dict[str, str]) -> None:
    groups = FIXTURES / "describe-security-groups.json"
    proc = run_cli(["verify", SHOP, "-p", "aws", "--set", "vpcCidr=10.0.0.0/16", "--deployed", groups], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("aws: equivalent (")
    rules = FIXTURES / "describe-security-group-rules-ssh-added.json"
    proc = run_cli(["verify", SHOP, "-p", "aws", "--set", "vpcCidr=10.0.0.0/16", "--deployed", groups,
                    "--deployed", rules, "--format", "json"], env)
    assert proc.returncode == 1
    (target,) = json.loads(proc.stdout)["targets"]
    assert [(c["kind"], c["destination"], c["protocol"], c["ports"]) for c in target["counterexamples"]] == [
        ("extra", "db (10.0.2.1)", "tcp", "22")]
    assert target["counterexamples"][0]["source"].startswith("internet (")
