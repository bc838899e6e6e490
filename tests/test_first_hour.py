"""A newcomer's first hour: README commands as written, context as typed, messages that say what to do."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from botocore.stub import Stubber

from tests.helpers import REPO, bundled_template, no_credentials_env

README = (REPO / "README.md").read_text()


# --- every documented context key reaches the template -------------------------------------------

DOCUMENTED_KEYS = re.findall(r"^\| `([a-z_]+)` \|", README.split("## Configuration", 1)[1].split("\n## ", 1)[0], re.M)
ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin"
KEY_ADMIN = "arn:aws:iam::123456789012:role/KeyAdmin"
EXISTING_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALARM_TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall"
BREAK_GLASS = "arn:aws:iam::123456789012:role/BreakGlass"
REASON = "CI runners have no fixed egress addresses; IAM and access entries still guard the API"
#: Non-default values for every key, in two configurations (existing_key_arn excludes key_admin_arns).
EVERYTHING = {
    "kubernetes_version": "1.35", "fargate_namespaces": "apps,jobs,batch,web", "admin_principal_arns": ADMIN,
    "key_admin_arns": KEY_ADMIN, "public_access_cidrs": "0.0.0.0/0", "allow_public_endpoint_from_anywhere": REASON,
    "nat_gateways": "2", "max_azs": "2", "env_name": "pr-7", "ephemeral": "false", "owner": "alice",
    "verify": "true", "verify_pod": "false", "verify_cloudtrail": "true", "verify_every_deploy": "true",
    "compliance_packs": "all", "availability_zones": "eu-west-1b,eu-west-1c", "support_type": "EXTENDED",
    "deletion_protection": "false", "verify_cloudtrail_required": "true",
    "verifier_pod_image": "registry.example.com/tools/busybox:1.37", "verifier_reserved_concurrency": "2",
    "verify_schedule_minutes": "30", "verify_lookback_hours": "12", "verify_schedule_secret": "true",
    "alarm_email": "oncall@example.com", "alarm_topic_arn": ALARM_TOPIC,
    "key_lock": "true", "key_lock_break_glass_arns": BREAK_GLASS,
}
EXISTING = {"existing_key_arn": EXISTING_KEY, "verify": "false", "ephemeral": "true", "compliance_packs": "none",
            "monitoring": "false"}


#: Keys exercised elsewhere: refused outright (tests/test_guardrail.py, test_validation.py) or adding a
#: stack of their own (tests/test_guardrail.py).
ELSEWHERE = {"config_rule", "account_guardrail_key_arns", "org_guardrail_key_arns"}


def test_every_documented_context_key_is_exercised() -> None:
    assert sorted(DOCUMENTED_KEYS) == sorted({*EVERYTHING, *EXISTING, *ELSEWHERE})


@pytest.fixture(scope="module")
def everything() -> Template:
    return bundled_template(**EVERYTHING)


@pytest.fixture(scope="module")
def existing() -> Template:
    return bundled_template(**EXISTING)


def _cluster(template: Template) -> dict[str, Any]:
    (cluster,) = template.find_resources("AWS::EKS::Cluster").values()
    return cluster


@pytest.mark.parametrize("key", sorted(EVERYTHING))
def test_context_key_takes_effect(key: str, everything: Template) -> None:
    cluster = _cluster(everything)["Properties"]
    profile = json.dumps(everything.find_resources("AWS::EKS::FargateProfile"))
    rendered = json.dumps(everything.to_json())
    checks = {
        "kubernetes_version": lambda: cluster["Version"] == "1.35",
        "fargate_namespaces": lambda: all(f'"Namespace": "{ns}"' in profile for ns in ("apps", "jobs", "batch", "web")),
        "admin_principal_arns": lambda: bool(everything.find_resources("AWS::EKS::AccessEntry", {"Properties": {"PrincipalArn": ADMIN}})),
        "key_admin_arns": lambda: KEY_ADMIN in json.dumps(everything.find_resources("AWS::KMS::Key")),
        "public_access_cidrs": lambda: cluster["ResourcesVpcConfig"]["PublicAccessCidrs"] == ["0.0.0.0/0"],
        "allow_public_endpoint_from_anywhere": lambda: REASON in json.dumps(_cluster(everything)["Metadata"]),
        "nat_gateways": lambda: len(everything.find_resources("AWS::EC2::NatGateway")) == 2,
        "max_azs": lambda: len(everything.find_resources("AWS::EC2::Subnet")) == 4,
        "env_name": lambda: cluster["Name"] == "eks-envelope-pr-7",
        "ephemeral": lambda: len(everything.find_resources("Custom::ClusterDeletionProtection")) == 1,
        "availability_zones": lambda: {s["Properties"]["AvailabilityZone"] for s in everything.find_resources(
            "AWS::EC2::Subnet").values()} == {"eu-west-1b", "eu-west-1c"},
        "support_type": lambda: cluster["UpgradePolicy"] == {"SupportType": "EXTENDED"},
        "deletion_protection": lambda: everything.find_resources(
            "Custom::ClusterDeletionProtection", {"Properties": {"Protect": "false"}}) != {},
        "verify_cloudtrail_required": lambda: '"CloudTrailRequired": "true"' in rendered,
        "verifier_pod_image": lambda: "registry.example.com/tools/busybox:1.37" in rendered,
        # The verifier's handler and its provider framework function.
        "verifier_reserved_concurrency": lambda: len(everything.find_resources(
            "AWS::Lambda::Function", {"Properties": {"ReservedConcurrentExecutions": 2}})) == 2,
        "owner": lambda: '"Key": "eks-envelope:owner", "Value": "alice"' in rendered,
        "verify": lambda: len(everything.find_resources("Custom::EnvelopeEncryptionVerification")) == 1,
        "verify_pod": lambda: "eks-envelope.io/canary" not in profile,
        "verify_cloudtrail": lambda: "cloudtrail:LookupEvents" in rendered,
        "verify_every_deploy": lambda: "RunNonce" in rendered,
        "compliance_packs": lambda: "cdk_nag" in rendered,
        "verify_schedule_minutes": lambda: "rate(30 minutes)" in rendered,
        "verify_lookback_hours": lambda: 'LookbackHours\\":\\"12' in rendered,
        "verify_schedule_secret": lambda: 'SecretCheck\\":\\"true' in rendered,
        "alarm_email": lambda: bool(everything.find_resources(
            "AWS::SNS::Subscription", {"Properties": {"Endpoint": "oncall@example.com", "TopicArn": ALARM_TOPIC}})),
        "alarm_topic_arn": lambda: not everything.find_resources("AWS::SNS::Topic") and ALARM_TOPIC in rendered,
        "key_lock": lambda: "KeyLockDenyDestructiveActionsExceptBreakGlass" in rendered,
        "key_lock_break_glass_arns": lambda: BREAK_GLASS in json.dumps(everything.find_resources("AWS::KMS::Key")),
    }
    assert checks[key](), key


def test_public_endpoint_opt_in_is_acknowledged_with_the_users_reason(everything: Template) -> None:
    suppressions = _cluster(everything)["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert {"id": "EnvelopeEncryption-EKS4", "reason": REASON} in suppressions


def test_public_endpoint_opt_in_with_true_states_it_in_the_acknowledgement() -> None:
    template = bundled_template(public_access_cidrs="0.0.0.0/0", allow_public_endpoint_from_anywhere="true")
    (suppression,) = [s for s in _cluster(template)["Metadata"]["cdk_nag"]["rules_to_suppress"]
                      if s["id"] == "EnvelopeEncryption-EKS4"]
    assert "allow_public_endpoint_from_anywhere" in suppression["reason"]


@pytest.mark.parametrize("key", sorted(EXISTING))
def test_context_key_takes_effect_with_an_existing_key(key: str, existing: Template) -> None:
    cluster = _cluster(existing)
    checks = {
        "existing_key_arn": lambda: cluster["Properties"]["EncryptionConfig"][0]["Provider"]["KeyArn"] == EXISTING_KEY,
        "verify": lambda: not existing.find_resources("Custom::EnvelopeEncryptionVerification"),
        "ephemeral": lambda: "DeletionProtection" not in cluster["Properties"]
        and not existing.find_resources("Custom::ClusterDeletionProtection"),
        "compliance_packs": lambda: "cdk_nag" not in json.dumps(existing.to_json()),
        "monitoring": lambda: not existing.find_resources("AWS::Events::Rule"),
    }
    assert checks[key](), key


def test_fails_on_an_alias_as_existing_key_arn_naming_the_context_key() -> None:
    from app import build_app
    from eks_envelope.validation import EnvelopeConfigError

    from tests.helpers import new_app

    with pytest.raises(EnvelopeConfigError, match=r"-c existing_key_arn=arn:aws:kms:eu-west-1:123456789012:alias/x: an alias"):
        build_app(new_app(existing_key_arn="arn:aws:kms:eu-west-1:123456789012:alias/x"))


def test_fails_on_nat_gateways_0_with_advice_in_context_spelling() -> None:
    from app import build_app
    from eks_envelope.validation import EnvelopeConfigError

    from tests.helpers import new_app

    with pytest.raises(EnvelopeConfigError) as raised:
        build_app(new_app(nat_gateways="0"))
    message = str(raised.value)
    assert "-c nat_gateways=0:" in message and "-c verify_pod=false" in message
    assert "-c verifier_pod_image='<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>'" in message
    assert "False" not in message and "VerifierOptions" not in message


# --- the laptop side: ADMIN=me and make verify's advice ----------------------------------------

def _stubbable_iam() -> Any:
    return boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice"),
        ("arn:aws:sts::123456789012:assumed-role/Deployer/ci-42", "arn:aws:iam::123456789012:role/platform/Deployer"),
    ],
)
def test_admin_me_maps_the_caller_to_an_iam_arn(caller: str, expected: str) -> None:
    from eks_envelope.workstation import role_arn_for

    iam = _stubbable_iam()
    with Stubber(iam) as stub:
        if "assumed-role" in caller:
            stub.add_response("get_role", {"Role": {
                "Path": "/platform/", "RoleName": "Deployer", "RoleId": "AROAEXAMPLEEXAMPLE1",
                "Arn": expected, "CreateDate": "2026-01-01T00:00:00Z"}}, {"RoleName": "Deployer"})
        assert role_arn_for(caller, iam) == expected


@pytest.mark.parametrize(
    ("caller", "message"),
    [
        ("arn:aws:iam::123456789012:root", "account root user"),
        ("arn:aws:sts::123456789012:federated-user/bob", "cannot map"),
        ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd/bob@example.com", "an SSO permission set's role"),
    ],
)
def test_fails_on_admin_me_for_a_caller_it_cannot_map(caller: str, message: str) -> None:
    from eks_envelope.workstation import WorkstationError, role_arn_for

    iam = _stubbable_iam()
    with Stubber(iam) as stub:
        stub.add_client_error("get_role", "AccessDenied")
        with pytest.raises(WorkstationError, match=message) as raised:
            role_arn_for(caller, iam)
    assert "\n" not in str(raised.value) and "ADMIN=" in str(raised.value)


def test_verify_advice_on_a_private_endpoint_fits_a_laptop() -> None:
    from eks_envelope.workstation import endpoint_advice

    advice = endpoint_advice({"name": "eks-envelope", "resourcesVpcConfig": {"endpointPublicAccess": False}})
    assert "private" in advice and "in that VPC" in advice and "public_access_cidrs=<your ip>/32" in advice
    assert "NAT" not in advice
    reachable = {"name": "c", "resourcesVpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.0/24"]}}
    assert endpoint_advice(reachable, public_ip="198.51.100.7") is None
    assert "not your address 203.0.113.9" in endpoint_advice(reachable, public_ip="203.0.113.9")
    assert "if your address is not among them" in endpoint_advice(reachable)
    anywhere = {"name": "c", "resourcesVpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}}
    assert endpoint_advice(anywhere) is None


def test_console_verify_without_credentials_says_so_in_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    from eks_envelope import console

    for key, value in no_credentials_env(tmp_path).items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("AWS_") and k not in no_credentials_env(tmp_path)]:
        monkeypatch.delenv(key)
    assert console.main(["verify", "--cluster", "c", "--region", "eu-west-1"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "eks-envelope: no AWS credentials found: set AWS_PROFILE, or run `aws configure` / `aws sso login`"]


def test_console_encrypt_existing_is_wired(capsys) -> None:
    from eks_envelope import console

    with pytest.raises(SystemExit) as exit_info:
        console.main(["encrypt-existing", "--help"])
    assert exit_info.value.code == 0
    assert "--cluster" in capsys.readouterr().out


def test_makefile_passes_admin_me_as_admin_principal_arns() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r'-c "admin_principal_arns=\$\$admins"', makefile)


def test_fails_on_compliance_findings_in_app_synth_with_one_line(tmp_path: Path) -> None:
    import aws_cdk as cdk
    import cdk_nag
    from aws_cdk import aws_sqs as sqs

    import app

    careless = cdk.App(outdir=str(tmp_path / "out"), builtin_cloud_formation_validation=False)  # as app.py builds it
    sqs.Queue(cdk.Stack(careless, "S"), "Queue")
    cdk.Validations.of(careless).add_plugins(cdk_nag.AwsSolutionsChecks(careless))
    with pytest.raises(app._Refused, match=r"^compliance findings failed the synth: run `make synth`"):
        app._synth(careless)


def test_admin_adds_to_the_admins_in_cdk_json(tmp_path: Path, capsys) -> None:
    from eks_envelope import workstation

    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"context": {"admin_principal_arns": [ADMIN]}}))
    assert workstation._main(["admin-arns", f"{KEY_ADMIN},{ADMIN}", str(cdk_json)]) == 0
    assert json.loads(capsys.readouterr().out) == [ADMIN, KEY_ADMIN]
