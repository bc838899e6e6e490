"""Small L1 builders shared by the compliance tests: compliant unless a keyword says otherwise."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from eks_envelope.contract import VERIFICATION_RESOURCE_TYPE

ALL_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
CLUSTER_ROLE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants"]
ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IMPORTED_ROLE_ARN = "arn:aws:iam::111122223333:role/eks-cluster"
SERVICE_TOKEN = "arn:aws:lambda:eu-west-1:111122223333:function:verifier"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def root_statement() -> dict[str, Any]:
    return {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}


def cluster_role_statement(role: iam.CfnRole, actions: list[str] = CLUSTER_ROLE_ACTIONS) -> dict[str, Any]:
    return {"Sid": "ClusterRole", "Effect": "Allow", "Principal": {"AWS": role.attr_arn},
            "Action": list(actions), "Resource": "*"}


def key(scope: Construct, cid: str, *statements: dict[str, Any], rotation: Any = True, retain: bool = True) -> kms.CfnKey:
    """A key with the given policy statements (default: the account-root statement only)."""
    cfn_key = kms.CfnKey(scope, cid, key_policy=policy(*(statements or (root_statement(),))),
                         enable_key_rotation=rotation)
    if retain:
        cfn_key.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    return cfn_key


def role(scope: Construct, cid: str, service: str = "eks.amazonaws.com", condition: dict[str, Any] | None = None,
         **kwargs: Any) -> iam.CfnRole:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return iam.CfnRole(scope, cid, assume_role_policy_document=policy(statement), **kwargs)


def cluster(scope: Construct, cid: str, *, cluster_role: iam.CfnRole | None = None, key_arn: Any = None,
            public: Any = False, cidrs: list[str] | None = None, log_types: list[str] | None = ALL_LOG_TYPES,
            mode: str | None = "API", bootstrap: bool | None = False, deletion_protection: bool | None = True,
            cls: Any = eks.CfnCluster) -> Any:
    """A cluster; ``None`` leaves a property absent (the CloudFormation default applies)."""
    access = None
    if mode is not None or bootstrap is not None:
        access = cls.AccessConfigProperty(authentication_mode=mode, bootstrap_cluster_creator_admin_permissions=bootstrap)
    return cls(
        scope, cid,
        role_arn=cluster_role.attr_arn if cluster_role is not None else IMPORTED_ROLE_ARN,
        resources_vpc_config=cls.ResourcesVpcConfigProperty(
            subnet_ids=["subnet-1", "subnet-2"], endpoint_private_access=True,
            endpoint_public_access=public, public_access_cidrs=cidrs),
        encryption_config=None if key_arn is None else [
            cls.EncryptionConfigProperty(provider=cls.ProviderProperty(key_arn=key_arn), resources=["secrets"])],
        logging=None if log_types is None else cls.LoggingProperty(cluster_logging=cls.ClusterLoggingProperty(
            enabled_types=[cls.LoggingTypeConfigProperty(type=t) for t in log_types])),
        access_config=access,
        deletion_protection=deletion_protection,
    )


def verification(scope: Construct, cid: str, **properties: Any) -> cdk.CfnResource:
    return cdk.CfnResource(scope, cid, type=VERIFICATION_RESOURCE_TYPE,
                           properties={"ServiceToken": SERVICE_TOKEN, **properties})


def compliant_stack(scope: Construct, cid: str, *, verified: bool = True, **cluster_overrides: Any) -> cdk.Stack:
    """A stack of L1s that passes every rule; ``cluster_overrides`` break the cluster on purpose."""
    stack = cdk.Stack(scope, cid)
    # The key policy delegates to IAM; the role's own policy grants it the key (KMS3: the key policy
    # never names a role of the same stack).
    secrets_key = key(stack, "SecretsKey", root_statement())
    cluster_role = role(stack, "ClusterRole", policies=[iam.CfnRole.PolicyProperty(
        policy_name="SecretsKey", policy_document=policy(
            {"Effect": "Allow", "Action": list(CLUSTER_ROLE_ACTIONS), "Resource": secrets_key.attr_arn}))])
    eks_cluster = cluster(stack, "Cluster", cluster_role=cluster_role, key_arn=secrets_key.attr_arn,
                          **cluster_overrides)
    if verified:
        verification(stack, "Verification", ClusterName=eks_cluster.ref)
    return stack
