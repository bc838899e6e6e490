"""Each EnvelopeEncryption rule, called directly on small L1 resources (no synth).

One app is built per module; each service has one table of (rule, node, expected compliance).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_eks as eks_v1
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from cdk_nag import NagMessageLevel, NagRuleCompliance

from eks_envelope.compliance import RULES, evaluate
from eks_envelope.compliance.rules import eks as eks_rules
from eks_envelope.compliance.rules import iam as iam_rules
from eks_envelope.compliance.rules import kms as kms_rules
from eks_envelope.compliance.rules import logs as logs_rules
from eks_envelope.contract import EPHEMERAL_METADATA_KEY
from tests.compliance.builders import (
    ALL_LOG_TYPES,
    CLUSTER_ROLE_ACTIONS,
    IMPORTED_KEY_ARN,
    IMPORTED_ROLE_ARN,
    ROOT,
    cluster_role_statement,
    policy,
    root_statement,
    verification,
)
from tests.compliance.builders import cluster as _cluster
from tests.compliance.builders import key as _key
from tests.compliance.builders import role as _role

COMPLIANT = NagRuleCompliance.COMPLIANT
NON_COMPLIANT = NagRuleCompliance.NON_COMPLIANT
NOT_APPLICABLE = NagRuleCompliance.NOT_APPLICABLE


_BREAK_GLASS = "arn:aws:iam::111122223333:role/BreakGlass"


def _lock(condition: dict[str, Any] | None, actions: list[str] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Lock", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Action": actions or ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"], "Resource": "*",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


@pytest.fixture(scope="module")
def r() -> SimpleNamespace:
    app = cdk.App()
    s = cdk.Stack(app, "Rules")
    n = SimpleNamespace(stack=s)

    # --- keys and the clusters using them
    n.role = _role(s, "ClusterRole")
    n.key = _key(s, "Key", root_statement(), cluster_role_statement(n.role))
    n.good = _cluster(s, "Good", cluster_role=n.role, key_arn=n.key.attr_arn)

    n.bare = _cluster(s, "Bare", key_arn=None, public=None, log_types=None, mode=None, bootstrap=None,
                      deletion_protection=None)
    n.alias_arn = _cluster(s, "AliasArn", key_arn="arn:aws:kms:eu-west-1:111122223333:alias/eks-secrets")
    n.aws_managed = _cluster(s, "AwsManaged", key_arn="alias/aws/eks")
    n.not_an_arn = _cluster(s, "NotAnArn", key_arn="my-key")
    n.imported_key = _cluster(s, "ImportedKey", key_arn=IMPORTED_KEY_ARN)
    n.partition_key = _cluster(s, "PartitionKey", key_arn=cdk.Fn.join("", [
        "arn:", cdk.Aws.PARTITION, ":kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]))
    n.import_value = _cluster(s, "ImportValue", key_arn=cdk.Fn.import_value("SecretsKeyArn"))

    n.no_rotation_key = _key(s, "NoRotationKey", rotation=None)
    n.no_rotation = _cluster(s, "NoRotation", key_arn=n.no_rotation_key.attr_arn)
    n.alias = kms.CfnAlias(s, "Alias", alias_name="alias/eks-secrets", target_key_id=n.no_rotation_key.ref)
    n.alias_join = _cluster(s, "AliasJoin", key_arn=cdk.Fn.join("", [
        "arn:", cdk.Aws.PARTITION, ":kms:", cdk.Aws.REGION, ":", cdk.Aws.ACCOUNT_ID, ":alias/eks-secrets"]))
    n.alias_ref = _cluster(s, "AliasRef", key_arn=n.alias.ref)
    rotation_param = cdk.CfnParameter(s, "Rotation", type="String", allowed_values=["true", "false"])
    n.param_rotation_key = _key(s, "ParamRotationKey", rotation=None)
    n.param_rotation_key.enable_key_rotation = rotation_param.value
    n.param_rotation = _cluster(s, "ParamRotation", key_arn=n.param_rotation_key.attr_arn)

    # --- the cluster role and the key: key policy, or root delegation + IAM policies
    n.root_only_key = _key(s, "RootOnlyKey")
    n.delegated_role = _role(s, "DelegatedRole")
    iam.CfnPolicy(s, "DelegatedPolicy", policy_name="kms", roles=[n.delegated_role.ref], policy_document=policy(
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": n.root_only_key.attr_arn},
        {"Effect": "Allow", "Action": ["kms:Describe*", "kms:ListGrants"], "Resource": "*"}))
    n.delegated = _cluster(s, "Delegated", cluster_role=n.delegated_role, key_arn=n.root_only_key.attr_arn)

    managed = iam.CfnManagedPolicy(s, "ClusterKeyManaged", policy_document=policy(
        {"Effect": "Allow", "Action": CLUSTER_ROLE_ACTIONS, "Resource": n.root_only_key.attr_arn}))
    n.managed_role = _role(s, "ManagedRole", managed_policy_arns=[managed.ref])
    n.managed = _cluster(s, "Managed", cluster_role=n.managed_role, key_arn=n.root_only_key.attr_arn)

    n.partial_role = _role(s, "PartialRole", policies=[iam.CfnRole.PolicyProperty(policy_name="kms", policy_document=policy(
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
         "Resource": n.root_only_key.attr_arn}))])
    n.partial = _cluster(s, "Partial", cluster_role=n.partial_role, key_arn=n.root_only_key.attr_arn)

    n.other_key_role = _role(s, "OtherKeyRole")
    iam.CfnPolicy(s, "OtherKeyPolicy", policy_name="kms", roles=[n.other_key_role.ref], policy_document=policy(
        {"Effect": "Allow", "Action": CLUSTER_ROLE_ACTIONS, "Resource": n.key.attr_arn}))
    n.other_key = _cluster(s, "OtherKey", cluster_role=n.other_key_role, key_arn=n.root_only_key.attr_arn)

    n.no_root_key = _key(s, "NoRootKey", {"Sid": "Admin", "Effect": "Allow",
                                          "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
                                          "Action": "kms:*", "Resource": "*"})
    n.no_root_role = _role(s, "NoRootRole", policies=[iam.CfnRole.PolicyProperty(policy_name="kms", policy_document=policy(
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))])
    n.no_root = _cluster(s, "NoRoot", cluster_role=n.no_root_role, key_arn=n.no_root_key.attr_arn)
    n.imported_role_key = _key(s, "ImportedRoleKey", root_statement(), {
        "Effect": "Allow", "Principal": {"AWS": IMPORTED_ROLE_ARN}, "Action": "kms:*", "Resource": "*"})
    n.imported_role_in_policy = _cluster(s, "ImportedRoleInPolicy", key_arn=n.imported_role_key.attr_arn)
    n.imported_role_delegated = _cluster(s, "ImportedRoleDelegated", key_arn=n.root_only_key.attr_arn)

    # --- key policies
    n.wildcard_aws_key = _key(s, "WildcardAwsKey", root_statement(), {
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}})
    n.wildcard_key = _key(s, "WildcardKey", root_statement(), {
        "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})
    n.wildcard_list_key = _key(s, "WildcardListKey", root_statement(), {
        "Effect": "Allow", "Principal": {"AWS": [ROOT, "*"]}, "Action": "kms:Decrypt", "Resource": "*"})
    n.wildcard_deny_key = _key(s, "WildcardDenyKey", root_statement(), {
        "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"})

    # --- CreateGrant with kms:GrantIsForAWSResource
    grant_is_for_aws = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    deployer = {"AWS": "arn:aws:iam::111122223333:role/Deployer"}
    n.grant_condition_key = _key(s, "GrantConditionKey", root_statement(), {
        "Effect": "Allow", "Principal": deployer, "Action": ["kms:CreateGrant", "kms:DescribeKey"],
        "Resource": "*", "Condition": grant_is_for_aws})
    n.grant_scoped_key = _key(s, "GrantScopedKey", root_statement(), {
        "Effect": "Allow", "Principal": deployer, "Action": "kms:CreateGrant", "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "eks.eu-west-1.amazonaws.com"}}})
    n.other_action_condition_key = _key(s, "OtherActionConditionKey", root_statement(), {
        "Effect": "Allow", "Principal": deployer, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": grant_is_for_aws})
    n.grant_condition_policy = iam.CfnPolicy(s, "GrantConditionPolicy", policy_name="p", roles=["Deployer"],
                                             policy_document=policy({"Effect": "Allow", "Action": "kms:*",
                                                                      "Resource": "*", "Condition": grant_is_for_aws}))
    n.grant_condition_managed = iam.CfnManagedPolicy(s, "GrantConditionManaged", policy_document=policy(
        {"Effect": "Allow", "Action": "kms:Create*", "Resource": "*",
         "Condition": {"Bool": {"kms:grantisforawsresource": True}}}))
    n.grant_condition_role = _role(s, "GrantConditionRole", policies=[iam.CfnRole.PolicyProperty(
        policy_name="p", policy_document=policy({"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
                                                  "Condition": grant_is_for_aws}))])
    n.grant_plain_policy = iam.CfnPolicy(s, "GrantPlainPolicy", policy_name="p", roles=["Deployer"],
                                         policy_document=policy({"Effect": "Allow", "Action": "kms:CreateGrant",
                                                                  "Resource": "*"}))

    # --- endpoint
    n.public_default_cidrs = _cluster(s, "PublicDefault", public=True)
    n.public_open = _cluster(s, "PublicOpen", public=True, cidrs=["203.0.113.0/24", "0.0.0.0/0"])
    n.public_open_v6 = _cluster(s, "PublicOpenV6", public=True, cidrs=["2001:db8::/32", "::/0"])
    n.public_restricted = _cluster(s, "PublicRestricted", public=True, cidrs=["203.0.113.0/24", "2001:db8::/32"])
    public_param = cdk.CfnParameter(s, "Public", type="String")
    n.public_param = _cluster(s, "PublicParam")
    n.public_param.resources_vpc_config = eks.CfnCluster.ResourcesVpcConfigProperty(
        subnet_ids=["subnet-1"], endpoint_public_access=public_param.value)

    # --- logging, access, deletion protection
    n.four_logs = _cluster(s, "FourLogs", log_types=[t for t in ALL_LOG_TYPES if t != "scheduler"])
    n.config_map = _cluster(s, "ConfigMap", mode="CONFIG_MAP")
    n.api_and_config_map_creator_admin = _cluster(s, "ApiAndConfigMap", mode="API_AND_CONFIG_MAP", bootstrap=True)
    n.unprotected = _cluster(s, "Unprotected", deletion_protection=False)
    n.ephemeral = _cluster(s, "Ephemeral", deletion_protection=False)
    n.ephemeral.add_metadata(EPHEMERAL_METADATA_KEY, True)
    n.v1_cluster = _cluster(s, "V1Cluster", key_arn=n.key.attr_arn, cls=eks_v1.CfnCluster)

    # --- retention of keys
    n.deleted_key = _key(s, "DeletedKey", retain=False)
    n.replace_deleted_key = _key(s, "ReplaceDeletedKey")
    n.replace_deleted_key.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.DELETE
    n.ephemeral_key = _key(s, "EphemeralKey", retain=False)
    n.ephemeral_key.add_metadata(EPHEMERAL_METADATA_KEY, True)
    n.l2_key = kms.Key(s, "L2Key", enable_key_rotation=True).node.default_child  # L2 default: RETAIN

    # --- Fargate pod execution roles
    def profile(cid: str, role_arn: str) -> eks.CfnFargateProfile:
        return eks.CfnFargateProfile(s, cid, cluster_name=n.good.ref, pod_execution_role_arn=role_arn,
                                     selectors=[eks.CfnFargateProfile.SelectorProperty(namespace="serverless")])

    fargate = "eks-fargate-pods.amazonaws.com"
    source_arn = cdk.Fn.sub("arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:fargateprofile/${C}/*",
                            {"C": n.good.ref})
    n.fargate_arn_like = profile("FargateArnLike", _role(s, "PodRoleArnLike", fargate,
                                                         {"ArnLike": {"aws:SourceArn": source_arn}}).attr_arn)
    n.fargate_string_like = profile("FargateStringLike", _role(s, "PodRoleStringLike", fargate,
                                                               {"StringLike": {"aws:SourceArn": source_arn}}).attr_arn)
    n.fargate_unconditioned = profile("FargateUnconditioned", _role(s, "PodRoleOpen", fargate).attr_arn)
    n.fargate_wrong_condition = profile("FargateWrongCondition", _role(
        s, "PodRoleAccount", fargate, {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}).attr_arn)
    n.fargate_imported_role = profile("FargateImportedRole", "arn:aws:iam::111122223333:role/pod-execution")
    n.fargate_l2_role = profile("FargateL2Role", iam.Role(
        s, "PodRoleL2", assumed_by=iam.ServicePrincipal(fargate).with_conditions(
            {"ArnLike": {"aws:SourceArn": source_arn}})).role_arn)

    # --- log groups
    n.log_group = logs.CfnLogGroup(s, "Logs", kms_key_id=n.key.attr_arn, retention_in_days=365)
    n.log_group_plain = logs.CfnLogGroup(s, "LogsPlain", retention_in_days=365)
    n.log_group_forever = logs.CfnLogGroup(s, "LogsForever", kms_key_id=n.key.attr_arn)

    # --- verification: one stack verifies its cluster, another verifies only one of two clusters
    verified = cdk.Stack(app, "Verified")
    n.verified = _cluster(verified, "Cluster")
    verification(verified, "Verification", ClusterName=n.verified.ref)
    literal = cdk.Stack(app, "VerifiedByName")
    n.verified_by_name = _cluster(literal, "Cluster")
    verification(literal, "Verification", ClusterName="envelope")
    two = cdk.Stack(app, "TwoClusters")
    n.first = _cluster(two, "First")
    n.second = _cluster(two, "Second")
    verification(two, "Verification", ClusterArn=n.first.attr_arn)

    # --- a cluster whose encryption config names another resource only, and two that leave the deprecated
    # Resources out or empty (it defaults to ["secrets"] and no longer decides what is encrypted)
    no_secrets = cdk.Stack(app, "NoSecretsResource")
    n.no_secrets_resource = _cluster(no_secrets, "C", key_arn=IMPORTED_KEY_ARN)
    n.no_secrets_resource.encryption_config = [eks.CfnCluster.EncryptionConfigProperty(
        provider=eks.CfnCluster.ProviderProperty(key_arn=IMPORTED_KEY_ARN), resources=["configmaps"])]
    n.resources_empty = _cluster(no_secrets, "Empty", key_arn=IMPORTED_KEY_ARN)
    n.resources_empty.encryption_config = [eks.CfnCluster.EncryptionConfigProperty(
        provider=eks.CfnCluster.ProviderProperty(key_arn=IMPORTED_KEY_ARN), resources=[])]
    n.resources_absent = _cluster(no_secrets, "Absent", key_arn=IMPORTED_KEY_ARN)
    n.resources_absent.encryption_config = [eks.CfnCluster.EncryptionConfigProperty(
        provider=eks.CfnCluster.ProviderProperty(key_arn=IMPORTED_KEY_ARN))]

    # --- key locks (KMS4)
    locks = cdk.Stack(app, "Locks")
    exempt = {"ArnNotLike": {"aws:PrincipalArn": [_BREAK_GLASS]}}
    n.unlocked = _key(locks, "Unlocked")
    n.locked = _key(locks, "Locked", root_statement(), _lock(exempt))
    n.no_exemption = _key(locks, "NoExemption", root_statement(), _lock(None))
    n.empty_exemption = _key(locks, "EmptyExemption", root_statement(), _lock({"ArnNotLike": {"aws:PrincipalArn": []}}))
    n.wildcard_exemption = _key(locks, "WildcardExemption", root_statement(),
                                _lock({"ArnNotLike": {"aws:PrincipalArn": "*"}}))
    n.root_dropped = _key(locks, "RootDropped", _lock(exempt))
    n.wildcard_action = _key(locks, "WildcardAction", root_statement(), _lock(None, ["kms:*"]))
    n.other_deny = _key(locks, "OtherDeny", root_statement(), _lock(None, ["kms:Decrypt"]))
    return n


def _cases(check: Callable[[Any], NagRuleCompliance], compliant: str = "", non_compliant: str = "",
           not_applicable: str = "") -> list[Any]:
    """One case per node name (space-separated) and expected result, with ids like ``EKS1-good-COMPLIANT``."""
    suffix = (check.__doc__ or "").split(":", 1)[0]
    return [
        pytest.param(check, name, expected, id=f"{suffix}-{name}-{expected.value}")
        for names, expected in ((compliant, COMPLIANT), (non_compliant, NON_COMPLIANT), (not_applicable, NOT_APPLICABLE))
        for name in names.split()
    ]


EKS_CASES = [
    # v1_cluster: aws_eks.CfnCluster, another class for the same resource type
    *_cases(eks_rules.cluster_secrets_encrypted_with_customer_key,
            compliant="good imported_key partition_key import_value v1_cluster resources_empty resources_absent",
            non_compliant="bare alias_arn aws_managed not_an_arn alias_join alias_ref no_secrets_resource"),
    # alias_ref: through an alias of the same stack the rule still finds the key behind it
    *_cases(eks_rules.cluster_secrets_key_rotation_enabled, compliant="good", non_compliant="no_rotation alias_ref",
            not_applicable="imported_key import_value bare alias_arn alias_join param_rotation"),
    # partial: no ListGrants; other_key: IAM grant on another key; no_root: the key policy neither
    # names the role nor delegates to the account
    *_cases(eks_rules.cluster_role_can_use_secrets_key, compliant="good delegated managed imported_role_in_policy",
            non_compliant="partial other_key no_root", not_applicable="imported_key bare imported_role_delegated"),
    *_cases(eks_rules.cluster_endpoint_not_public, compliant="good public_restricted",
            non_compliant="bare public_default_cidrs public_open public_open_v6", not_applicable="public_param"),
    *_cases(eks_rules.cluster_control_plane_logs_enabled, compliant="good", non_compliant="bare four_logs"),
    *_cases(eks_rules.cluster_access_entries_enabled, compliant="good api_and_config_map_creator_admin",
            non_compliant="bare config_map"),
    *_cases(eks_rules.cluster_creator_not_admin, compliant="good", non_compliant="bare api_and_config_map_creator_admin"),
    *_cases(eks_rules.cluster_deletion_protected, compliant="good", non_compliant="bare unprotected",
            not_applicable="ephemeral"),
    # good: no verification resource in its stack; second: the stack's verifier checks another cluster
    *_cases(eks_rules.cluster_encryption_verified, compliant="verified verified_by_name first",
            non_compliant="good second"),
    *_cases(eks_rules.fargate_pod_execution_role_trust_scoped,
            compliant="fargate_arn_like fargate_string_like fargate_l2_role",
            non_compliant="fargate_unconditioned fargate_wrong_condition", not_applicable="fargate_imported_role"),
]

KMS_CASES = [
    *_cases(kms_rules.key_policy_no_wildcard_principal, compliant="key wildcard_deny_key",
            non_compliant="wildcard_aws_key wildcard_key wildcard_list_key"),
    *_cases(kms_rules.key_retained, compliant="key l2_key", non_compliant="deleted_key replace_deleted_key",
            not_applicable="ephemeral_key"),
    # key: its policy names r.role, created in the same stack; imported_role_key names a role of no stack
    *_cases(kms_rules.key_policy_names_no_role_of_the_stack,
            compliant="root_only_key wildcard_deny_key grant_scoped_key imported_role_key", non_compliant="key"),
    *_cases(kms_rules.key_lock_keeps_a_way_in, compliant="locked",
            non_compliant="no_exemption empty_exemption wildcard_exemption root_dropped wildcard_action",
            not_applicable="unlocked other_deny"),
]

IAM_CASES = _cases(
    iam_rules.create_grant_without_grant_is_for_aws_resource,
    compliant="key grant_scoped_key other_action_condition_key grant_plain_policy role",
    non_compliant="grant_condition_key grant_condition_policy grant_condition_managed grant_condition_role",
)

LOGS_CASES = _cases(logs_rules.log_group_encrypted_with_retention, compliant="log_group",
                    non_compliant="log_group_plain log_group_forever")


ALL_CASES = EKS_CASES + KMS_CASES + IAM_CASES + LOGS_CASES


@pytest.mark.parametrize("check, name, expected", ALL_CASES)
def test_rule(r, check, name, expected) -> None:
    assert check(getattr(r, name)) == expected


def test_every_rule_has_cases() -> None:
    tested = {case.values[0] for case in ALL_CASES}
    assert tested == {rule.check for rule in RULES}


def test_rules_table_ids_are_unique_and_documented() -> None:
    ids = [rule.rule_id for rule in RULES]
    assert len(ids) == len(set(ids)) == 16
    assert all(i.startswith("EnvelopeEncryption-") for i in ids)
    assert all(rule.info and rule.explanation and rule.resource_types and rule.summary for rule in RULES)
    levels = {rule.suffix: rule.level for rule in RULES}
    assert levels.pop("EKS9") == NagMessageLevel.WARN
    assert set(levels.values()) == {NagMessageLevel.ERROR}


def test_rules_ignore_other_resource_types(r) -> None:
    for rule in RULES:
        assert rule.check(r.log_group if rule.suffix != "CWL1" else r.key) == NOT_APPLICABLE, rule.suffix



def test_a_nested_stack_is_another_template() -> None:
    """Rules look only at the resource's own template: a nested stack's resources are not its parent's, nor the reverse.

    Called directly and through the pack (which tells each resource's stack from one walk per stack).
    """
    app = cdk.App()
    parent = cdk.Stack(app, "Parent")
    nested = cdk.NestedStack(parent, "Nested")
    outer = _cluster(parent, "Outer", key_arn=IMPORTED_KEY_ARN)
    inner = _cluster(nested, "Inner", key_arn=IMPORTED_KEY_ARN)
    verification(nested, "Verification", ClusterName="envelope")
    assert eks_rules.cluster_encryption_verified(outer) == NON_COMPLIANT
    assert eks_rules.cluster_encryption_verified(inner) == COMPLIANT
    unverified = {f.resource_path for f in evaluate(app) if f.rule_id == "EnvelopeEncryption-EKS9"}
    assert unverified == {"Parent/Outer"}


def test_sibling_stacks_are_separate_templates() -> None:
    """Through the pack, a resource's lookups stay in its own stack, whichever stack comes first in the app."""
    app = cdk.App()
    for name, verified in (("Verified", True), ("Unverified", False), ("AlsoVerified", True)):
        stack = cdk.Stack(app, name)
        cluster = _cluster(stack, "Cluster", key_arn=IMPORTED_KEY_ARN)
        if verified:
            verification(stack, "Verification", ClusterName=cluster.ref)
    unverified = {f.resource_path for f in evaluate(app) if f.rule_id == "EnvelopeEncryption-EKS9"}
    assert unverified == {"Unverified/Cluster"}

def _rules_markdown() -> str:
    rows = [
        f"| `{rule.suffix}` | {', '.join(f'`{t}`' for t in sorted(rule.resource_types))} | "
        f"{'warning' if rule.level == NagMessageLevel.WARN else 'error'} | {rule.summary} |"
        for rule in RULES
    ]
    return "\n".join(["| Rule | Resources | Level | Compliant when |", "|---|---|---|---|", *rows])


def test_compliance_doc_lists_exactly_the_rules() -> None:
    """docs/compliance.md's rule list is rendered from RULES: ids, resource types and each check's summary line."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "compliance.md").read_text()
    listed = readme.split("<!-- rules:begin -->\n", 1)[1].split("\n<!-- rules:end -->", 1)[0]
    expected = _rules_markdown()
    assert listed == expected, f"paste between the rules markers in docs/compliance.md:\n{expected}"
