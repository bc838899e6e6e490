"""The secrets key and its policy, statement by statement."""
from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from eks_envelope import ClusterSecretsKey, EnvelopeConfigError
from tests.helpers import construct_template, new_app

ADMIN = "arn:aws:iam::123456789012:role/KeyAdmin"
CRYPTO_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                  "kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant", "kms:*", "kms:ReEncrypt*",
                  "kms:GenerateDataKey*", "kms:Create*"}


@pytest.fixture(scope="module")
def template() -> Template:
    return construct_template(cluster_name="eks-envelope", key_admin_arns=[ADMIN])


@pytest.fixture(scope="module")
def secrets_key(template: Template) -> dict:
    keys = template.find_resources("AWS::KMS::Key", {"Properties": {"Description": Match.string_like_regexp("secrets")}})
    assert len(keys) == 1
    return next(iter(keys.values()))


def statement(key: dict, sid: str) -> dict:
    matches = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == sid]
    assert len(matches) == 1, f"no single statement {sid}"
    return matches[0]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_rotation_on_and_retained(secrets_key: dict) -> None:
    assert secrets_key["Properties"]["EnableKeyRotation"] is True
    assert secrets_key["DeletionPolicy"] == "RetainExceptOnCreate"
    assert secrets_key["UpdateReplacePolicy"] == "Retain"
    assert secrets_key["Properties"]["PendingWindowInDays"] == 30


def test_account_root_statement_kept_against_lockout(secrets_key: dict) -> None:
    root = [s for s in secrets_key["Properties"]["KeyPolicy"]["Statement"]
            if "Sid" not in s and "root" in json.dumps(s["Principal"])]
    assert len(root) == 1 and root[0]["Action"] == "kms:*" and root[0]["Effect"] == "Allow"


def test_cluster_role_gets_exactly_what_eks_needs(secrets_key: dict, template: Template) -> None:
    resources = template.to_json()["Resources"]
    (key_id,) = [lid for lid, r in resources.items() if r == secrets_key]
    (policy_id,) = [lid for lid in resources if lid.startswith("ClusterClusterRoleKeyPolicy")]
    policy = resources[policy_id]["Properties"]
    (stmt,) = policy["PolicyDocument"]["Statement"]
    assert sorted(stmt["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    assert stmt["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    (role_ref,) = policy["Roles"]
    role = resources[role_ref["Ref"]]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    # The cluster is created only once its role may use the key.
    (cluster,) = [r for r in resources.values() if r["Type"] == "AWS::EKS::Cluster"]
    assert policy_id in cluster["DependsOn"]


def test_key_policy_names_no_role_of_the_same_template(secrets_key: dict, template: Template) -> None:
    # KMS refuses a key policy whose principal it cannot see yet; a role created seconds earlier
    # in the same deploy may not be visible.
    resources = template.to_json()["Resources"]
    roles = {lid for lid, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    for key in (r for r in resources.values() if r["Type"] == "AWS::KMS::Key"):
        for stmt in key["Properties"]["KeyPolicy"]["Statement"]:
            principal = json.dumps(stmt.get("Principal"))
            assert not any(f'"{role}"' in principal for role in roles), stmt


def test_deployer_create_grant_is_scoped_to_eks_in_this_account(secrets_key: dict) -> None:
    stmt = statement(secrets_key, "DeployerCreatesClusterGrantThroughEks")
    assert sorted(stmt["Action"]) == ["kms:CreateGrant", "kms:DescribeKey"]
    assert set(stmt["Condition"]["StringEquals"]) == {"kms:CallerAccount", "kms:ViaService"}
    assert "cfn-exec-role" in json.dumps(stmt["Principal"])


def test_never_allows_create_grant_on_grant_is_for_aws_resource(template: Template, secrets_key: dict) -> None:
    """EKS does not support the condition for CreateCluster: no Allow may carry it, the secrets key none at all."""
    assert "GrantIsForAWSResource" not in json.dumps(secrets_key["Properties"]["KeyPolicy"])
    for key in template.find_resources("AWS::KMS::Key").values():
        for stmt in key["Properties"]["KeyPolicy"]["Statement"]:
            if stmt["Effect"] == "Allow":
                assert "GrantIsForAWSResource" not in json.dumps(stmt.get("Condition", {}))


def test_secrets_key_acknowledges_the_create_grant_control_with_its_evidence(secrets_key: dict) -> None:
    guard = secrets_key["Metadata"]["guard"]
    assert guard["SuppressedRules"] == ["CT.KMS.PR.3"]
    assert "not supported for CreateCluster" in guard["Reasons"]["CT.KMS.PR.3"]
    assert not [s for s in secrets_key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]


def test_logs_key_lets_only_aws_services_create_grants(template: Template) -> None:
    """Control Tower CT.KMS.PR.3's statement, in the exact shape its Guard rule accepts."""
    keys = template.find_resources("AWS::KMS::Key", {"Properties": {"Description": Match.string_like_regexp("log")}})
    (logs_key,) = keys.values()
    assert statement(logs_key, "CreateGrantOnlyByAwsServices") == {
        "Sid": "CreateGrantOnlyByAwsServices",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
    }
    assert "guard" not in logs_key.get("Metadata", {})


def test_admins_administer_without_crypto_use(secrets_key: dict) -> None:
    stmt = statement(secrets_key, "KeyAdministrationWithoutCryptoUse")
    assert stmt["Principal"] == {"AWS": ADMIN}
    assert not CRYPTO_ACTIONS & set(stmt["Action"]), "admins must not be able to use the key"
    assert {"kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:EnableKey"} <= set(stmt["Action"])


def test_no_wildcard_principal_allowed_in_any_key_policy(template: Template) -> None:
    for key in template.find_resources("AWS::KMS::Key").values():
        for stmt in key["Properties"]["KeyPolicy"]["Statement"]:
            if stmt["Effect"] == "Deny":  # a Deny to everyone grants nothing
                continue
            principal = stmt.get("Principal")
            assert principal != "*"
            for value in (principal or {}).values():
                assert "*" not in as_list(value)


def test_alias_names_the_cluster(template: Template) -> None:
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/eks-envelope-secrets"})


def test_from_key_arn_accepts_a_key_arn_in_the_stack_region() -> None:
    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    key = ClusterSecretsKey.from_key_arn(stack, "K", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert key.key_arn.endswith("1234567890ab")


def test_fails_from_key_arn_with_alias_arn() -> None:
    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    with pytest.raises(EnvelopeConfigError, match=r"key_arn='arn:aws:kms:eu-west-1:123456789012:alias/eks'.*give the key ARN it targets"):
        ClusterSecretsKey.from_key_arn(stack, "K", "arn:aws:kms:eu-west-1:123456789012:alias/eks")


def test_fails_from_key_arn_in_another_region() -> None:
    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    with pytest.raises(EnvelopeConfigError, match=r"us-east-1.*key in the cluster's region eu-west-1"):
        ClusterSecretsKey.from_key_arn(stack, "K", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")


def test_env_agnostic_import_asserts_the_region_at_deploy_time() -> None:
    app = new_app()
    stack = cdk.Stack(app, "S")
    cdk.CfnWaitConditionHandle(stack, "AnyResource")  # a template needs at least one resource
    ClusterSecretsKey.from_key_arn(stack, "K", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assertion = Template.from_stack(stack).to_json()["Rules"]["KSameRegion"]["Assertions"][0]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert "EKS needs a key in the cluster's region" in assertion["AssertDescription"]


def test_custom_deploy_principal_replaces_the_bootstrap_role() -> None:
    stack = cdk.Stack(new_app(), "S")
    key = ClusterSecretsKey(stack, "K", deploy_principal=iam.ArnPrincipal("arn:aws:iam::123456789012:role/Deployer"))
    policy = Template.from_stack(stack).to_json()["Resources"][stack.get_logical_id(key.key.node.default_child)]
    stmt = [s for s in policy["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "DeployerCreatesClusterGrantThroughEks"]
    assert stmt[0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/Deployer"}


# --- props as one object -----------------------------------------------------------------------------------

def test_key_props_object_builds_the_same_key_as_keyword_arguments() -> None:
    from eks_envelope import ClusterSecretsKeyProps

    def built(**kwargs: object) -> dict:
        stack = cdk.Stack(new_app(), "Key")
        ClusterSecretsKey(stack, "SecretsKey", **kwargs)
        return Template.from_stack(stack).to_json()

    values = dict(alias="team-secrets", admins=[iam.ArnPrincipal(ADMIN)], pending_window=cdk.Duration.days(7),
                  removal_policy=cdk.RemovalPolicy.DESTROY)
    assert built(props=ClusterSecretsKeyProps(**values)) == built(**values)


def test_fails_on_key_props_with_every_problem_at_once() -> None:
    from eks_envelope import ClusterSecretsKeyProps

    with pytest.raises(EnvelopeConfigError) as raised:
        ClusterSecretsKeyProps(alias="alias/aws/eks", pending_window=cdk.Duration.days(3))
    assert [(p.field, p.value) for p in raised.value.problems] == [("alias", "alias/aws/eks"), ("pending_window", "3 days")]
    assert "which AWS reserves" in raised.value.problems[0].fix and "from 7 to 30" in raised.value.problems[1].fix
