"""The EnvelopeEncryption pack end to end: through ``Validations`` at synth, and through ``evaluate``.

How a failure surfaces (aws-cdk-lib 2.275.0 + cdk-nag 3.0.2): ``app.synth()`` raises
``RuntimeError("ValidationFailed: ...")``. Under pytest (and CDK_APP_MODE=inmemory) the message holds
the whole report — one block per rule: ``ERROR <info> (EnvelopeEncryption)``, the construct paths,
``Acknowledge with 'EnvelopeEncryption::EnvelopeEncryption-EKS4'`` — otherwise the report goes to
stderr and the message only names ``<outdir>/validation-report.json``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import aws_cdk as cdk
import pytest
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from eks_envelope.compliance import RULES, EnvelopeEncryptionChecks, Finding, evaluate
from eks_envelope.contract import VERIFICATION_RESOURCE_TYPE
from tests.compliance.builders import compliant_stack
from tests.helpers import new_app

OUR_RULE_ID = re.compile(r"EnvelopeEncryption-(?:EKS|KMS|IAM|CWL)\d+")


def _synth_with_pack(app: cdk.App, **pack_props) -> tuple[cdk.cx_api.CloudAssembly | None, str]:
    """Synthesize with the pack; return the assembly (None on failure) and the failure message."""
    cdk.Validations.of(app).add_plugins(EnvelopeEncryptionChecks(app, **pack_props))
    try:
        return app.synth(), ""
    except RuntimeError as error:
        return None, str(error)


def _report(app: cdk.App) -> dict:
    return json.loads((Path(app.outdir) / "validation-report.json").read_text())


def _reported_rule_ids(app: cdk.App) -> dict[str, str]:
    """rule id -> severity, from validation-report.json (written on success and on failure)."""
    ids: dict[str, str] = {}
    for plugin in _report(app)["pluginReports"]:
        if plugin["pluginName"] == "EnvelopeEncryption":
            for violation in plugin["violations"]:
                ids[violation["ruleName"]] = violation["severity"]
    return ids


# --- (a) a careless stack ----------------------------------------------------------------------

def _careless(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Careless")
    secrets_key = kms.Key(stack, "SecretsKey")  # no rotation
    eks.Cluster(stack, "Cluster", version=eks.KubernetesVersion.V1_36, secrets_encryption_key=secrets_key)
    eks.Cluster(stack, "Unencrypted", version=eks.KubernetesVersion.V1_36)
    return stack


@pytest.fixture(scope="module")
def careless() -> SimpleNamespace:
    app = new_app()
    _careless(app)
    assembly, message = _synth_with_pack(app)
    return SimpleNamespace(app=app, assembly=assembly, message=message)


def test_fails_careless_stack_at_synth_with_our_rule_ids(careless) -> None:
    assert careless.assembly is None
    assert careless.message.startswith("ValidationFailed: ")
    ids = set(OUR_RULE_ID.findall(careless.message))
    assert len(ids) >= 5, careless.message
    expected = {f"EnvelopeEncryption-{s}" for s in ("EKS1", "EKS2", "EKS3", "EKS4", "EKS5", "EKS7", "EKS8", "EKS9")}
    assert expected <= ids, careless.message
    assert "Careless/Unencrypted/Resource" in careless.message
    assert "Acknowledge with 'EnvelopeEncryption::EnvelopeEncryption-EKS1'" in careless.message


def test_fails_careless_stack_findings_per_cluster(careless) -> None:
    findings = evaluate(careless.app)  # the synthesized (prepared) tree, without Validations
    by_path: dict[str, set[str]] = {}
    for finding in findings:
        by_path.setdefault(finding.resource_path, set()).add(finding.rule_id.split("-", 1)[1])
    assert by_path["Careless/Unencrypted/Resource"] == {"EKS1", "EKS4", "EKS5", "EKS7", "EKS8", "EKS9"}
    # the key exists but does not rotate, and the cluster role lacks kms:ListGrants
    assert by_path["Careless/Cluster/Resource"] == {"EKS2", "EKS3", "EKS4", "EKS5", "EKS7", "EKS8", "EKS9"}
    assert {f.rule_id for f in findings} == set(OUR_RULE_ID.findall(careless.message))
    assert {f.level for f in findings if f.rule_id.endswith("-EKS9")} == {"warning"}
    assert {f.level for f in findings if not f.rule_id.endswith("-EKS9")} == {"error"}


def test_evaluate_template_matches_evaluate_app(careless) -> None:
    # the cloud assembly is written before validation runs, so the template exists after a failure
    template = json.loads((Path(careless.app.outdir) / "Careless.template.json").read_text())
    from_template = evaluate(template)
    assert from_template, "the careless template must have findings"
    assert all(isinstance(f, Finding) for f in from_template)
    # aws:cdk:path metadata (on with the CLI context) maps logical ids back to construct paths
    assert [(f.rule_id, f.resource_path, f.level) for f in from_template] == [
        (f.rule_id, f.resource_path, f.level) for f in evaluate(careless.app)]


# --- (b) a compliant L1/L2 stack -----------------------------------------------------------------

ALL_LOGS = [
    eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT, eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER, eks.ClusterLoggingTypes.SCHEDULER,
]


def _compliant_l2(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Compliant")
    cluster_role = iam.Role(stack, "ClusterRole", assumed_by=iam.ServicePrincipal("eks.amazonaws.com"), managed_policies=[
        iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")])
    secrets_key = kms.Key(stack, "SecretsKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN)
    iam.ManagedPolicy(stack, "ClusterRoleKeyUse", roles=[cluster_role], statements=[iam.PolicyStatement(
        resources=[secrets_key.key_arn], actions=["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants"])])
    cluster = eks.Cluster(
        stack, "Cluster", version=eks.KubernetesVersion.V1_36, role=cluster_role, secrets_encryption_key=secrets_key,
        endpoint_access=eks.EndpointAccess.PRIVATE, cluster_logging=ALL_LOGS,
        bootstrap_cluster_creator_admin_permissions=False,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP, default_capacity=0)
    cluster.node.default_child.deletion_protection = True
    pod_role = iam.Role(stack, "PodExecutionRole", assumed_by=iam.ServicePrincipal(
        "eks-fargate-pods.amazonaws.com").with_conditions({"ArnLike": {"aws:SourceArn": cdk.Fn.sub(
            "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:fargateprofile/${Name}/*",
            {"Name": cluster.cluster_name})}}))
    cluster.add_fargate_profile("Serverless", selectors=[eks.Selector(namespace="serverless")],
                                pod_execution_role=pod_role)
    logs.LogGroup(stack, "VerifierLogs", encryption_key=secrets_key, retention=logs.RetentionDays.ONE_YEAR)
    cdk.CfnResource(stack, "Verification", type=VERIFICATION_RESOURCE_TYPE, properties={
        "ServiceToken": "arn:aws:lambda:eu-west-1:111122223333:function:verifier",
        "ClusterName": cluster.cluster_name})
    return stack


def test_compliant_l2_stack_passes_synth() -> None:
    app = new_app()
    _compliant_l2(app)
    assembly, message = _synth_with_pack(app)
    assert message == ""
    assert assembly is not None
    assert _reported_rule_ids(app) == {}
    assert evaluate(app) == []


# --- warnings, acknowledgments, props (small L1 stacks: fast synth) -----------------------------

def test_warning_only_does_not_fail_synth() -> None:
    app = new_app()
    compliant_stack(app, "Unverified", verified=False)
    assembly, message = _synth_with_pack(app)
    assert message == "" and assembly is not None
    assert _reported_rule_ids(app) == {"EnvelopeEncryption-EKS9": "warning"}


def test_fails_public_endpoint_at_synth() -> None:
    app = new_app()
    compliant_stack(app, "Public", public=True)
    assembly, message = _synth_with_pack(app)
    assert assembly is None
    assert set(OUR_RULE_ID.findall(message)) == {"EnvelopeEncryption-EKS4"}
    assert "Public/Cluster" in message


@pytest.mark.parametrize("finding_id", ["EnvelopeEncryption-EKS4", "EnvelopeEncryption::EnvelopeEncryption-EKS4"])
def test_acknowledged_finding_passes_synth(finding_id) -> None:
    app = new_app()
    stack = compliant_stack(app, "Public", public=True)
    cluster = stack.node.find_child("Cluster")
    assert [f.rule_id for f in evaluate(app)] == ["EnvelopeEncryption-EKS4"]
    cdk.Validations.of(cluster).acknowledge(cdk.Acknowledgment(
        id=finding_id, reason="The API endpoint is reachable only through the corporate proxy; CIDRs are managed by SCP"))
    assert evaluate(app) == []
    assembly, message = _synth_with_pack(app)
    assert message == "" and assembly is not None
    assert evaluate(app) == []


def test_fails_when_another_finding_is_acknowledged() -> None:
    app = new_app()
    stack = compliant_stack(app, "Public", public=True)
    cdk.Validations.of(stack.node.find_child("Cluster")).acknowledge(
        cdk.Acknowledgment(id="EnvelopeEncryption-EKS5", reason="acknowledges a rule that does not fire"))
    assembly, message = _synth_with_pack(app)
    assert assembly is None
    assert "EnvelopeEncryption-EKS4" in message


def test_acknowledgment_written_to_template_and_honoured_by_evaluate() -> None:
    app = new_app()
    stack = compliant_stack(app, "Public", public=True)
    reason = "The API endpoint is reachable only through the corporate proxy; CIDRs are managed by SCP"
    cdk.Validations.of(stack.node.find_child("Cluster")).acknowledge(
        cdk.Acknowledgment(id="EnvelopeEncryption-EKS4", reason=reason))
    assembly, message = _synth_with_pack(app, write_suppressions_to_cloud_formation=True)
    assert message == ""
    template = assembly.get_stack_by_name("Public").template
    (cluster,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::EKS::Cluster"]
    assert cluster["Metadata"]["cdk_nag"]["rules_to_suppress"] == [{"id": "EnvelopeEncryption-EKS4", "reason": reason}]

    assert evaluate(app) == []
    assert evaluate(template) == []
    del cluster["Metadata"]["cdk_nag"]
    assert [(f.rule_id, f.resource_path) for f in evaluate(template)] == [("EnvelopeEncryption-EKS4", "Public/Cluster")]


def test_fails_verbose_pack_explains_the_rule() -> None:
    app = new_app()
    compliant_stack(app, "Public", public=True)
    _, message = _synth_with_pack(app, verbose=True)
    (eks4,) = [rule for rule in RULES if rule.suffix == "EKS4"]
    assert eks4.explanation in message


def test_pack_is_named_for_its_findings() -> None:
    pack = EnvelopeEncryptionChecks()
    assert pack.name == pack.read_pack_name == "EnvelopeEncryption"
    assert pack.rule_ids == tuple(rule.rule_id for rule in RULES)


def test_synth_sees_raw_overrides_and_template_metadata() -> None:
    """At synth the rules read the synthesized template: add_property_override counts there."""
    from eks_envelope.compliance.rules.eks import cluster_deletion_protected
    from eks_envelope.contract import EPHEMERAL_METADATA_KEY
    from tests.compliance.builders import key

    app = new_app()
    stack = compliant_stack(app, "Overridden", deletion_protection=None)
    cluster = stack.node.find_child("Cluster")
    cluster.add_property_override("DeletionProtection", True)
    scratch_key = key(stack, "ScratchKey", retain=False)
    scratch_key.add_metadata(EPHEMERAL_METADATA_KEY, True)
    # called directly, a rule renders the L1's typed properties: raw overrides are invisible there
    assert cluster_deletion_protected(cluster).value == "NON_COMPLIANT"
    assembly, message = _synth_with_pack(app)
    assert message == "" and assembly is not None
    assert evaluate(assembly.get_stack_by_name("Overridden").template) == []
