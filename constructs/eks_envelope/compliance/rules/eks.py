"""EKS rules: the cluster's secrets key, endpoint, logs, access, deletion protection, verification, Fargate trust."""
from __future__ import annotations

import ipaddress
from typing import Any

from aws_cdk import CfnResource
from cdk_nag import NagMessageLevel, NagRuleCompliance

from ...contract import (
    CLUSTER_ROLE_KEY_ACTIONS,
    DELETION_PROTECTION_RESOURCE_TYPE,
    EPHEMERAL_METADATA_KEY,
    PROTECT_PROPERTY,
    VERIFICATION_RESOURCE_TYPE,
)
from ..policy import allows, aws_principals, condition_keys, is_account_root, policy_statements, service_principals
from ..rule import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, Rule, flag_compliance
from ..secrets_key import IDENTITY_POLICY_TYPES, KEY_TYPES, covers_key, role_identity_statements, secrets_key
from ..template import (
    CLUSTER,
    FARGATE_PROFILE,
    IAM_ROLE,
    all_referenced_logical_ids,
    as_bool,
    as_list,
    is_ephemeral,
    logical_id_of,
    one_run,
    properties,
    referenced_logical_id,
    resource_type,
    stack_resources,
)

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
FARGATE_PODS_SERVICE = "eks-fargate-pods.amazonaws.com"
SOURCE_ARN_OPERATORS = ("arnlike", "arnequals", "stringlike", "stringequals")


@one_run
def cluster_secrets_encrypted_with_customer_key(node: CfnResource) -> NagRuleCompliance:
    """EKS1: secrets encrypted under a customer managed key referenced by key ARN, not an alias.

    COMPLIANT for an AWS::KMS::Key of the stack, a literal key ARN (``:key/``) or a token the rule
    cannot follow (e.g. ``Fn::ImportValue``); NON_COMPLIANT when absent, an alias (ARN, name,
    ``alias/aws/...``, an AWS::KMS::Alias of the stack) or a literal that is not a key ARN.
    """
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    kind = secrets_key(node).kind
    return COMPLIANT if kind in ("stack-key", "external-key", "unknown") else NON_COMPLIANT


@one_run
def cluster_secrets_key_rotation_enabled(node: CfnResource) -> NagRuleCompliance:
    """EKS2: the cluster's secrets key (an AWS::KMS::Key of the same stack) rotates.

    NOT_APPLICABLE without a key of this stack (imported key ARN, other stack, no encryption:
    EKS1 covers that) or when EnableKeyRotation is a token.
    """
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    key = secrets_key(node).key
    if key is None:
        return NOT_APPLICABLE
    return flag_compliance(properties(key).get("EnableKeyRotation"))


@one_run
def cluster_role_can_use_secrets_key(node: CfnResource) -> NagRuleCompliance:
    """EKS3: the cluster role may Encrypt, Decrypt, DescribeKey and ListGrants on the secrets key.

    Granted by the key policy naming the cluster role, or — when the key policy delegates to the
    account root — by the role's own IAM policies in the stack (AWS::IAM::Policy,
    AWS::IAM::ManagedPolicy, AWS::IAM::RolePolicy, inline Policies) on that key or ``*``.
    NOT_APPLICABLE without a key of this stack, or when only the role's IAM policies could grant
    and the role is not in the stack.
    """
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    resources = stack_resources(node, KEY_TYPES | IDENTITY_POLICY_TYPES | {IAM_ROLE})
    key = secrets_key(node, resources).key
    if key is None:
        return NOT_APPLICABLE
    role_arn = properties(node).get("RoleArn")
    role_id = referenced_logical_id(role_arn)
    role = resources.get(role_id or "")
    if role is None or resource_type(role) != IAM_ROLE:
        role_id, role = None, None

    def names_role(principal: Any) -> bool:
        return principal == role_arn or (role_id is not None and referenced_logical_id(principal) == role_id)

    key_statements = policy_statements(properties(key).get("KeyPolicy"))
    missing = set(CLUSTER_ROLE_KEY_ACTIONS)
    delegated: set[str] = set()
    for statement in key_statements:
        principals = aws_principals(statement)
        for action in CLUSTER_ROLE_KEY_ACTIONS:
            if allows(statement, action):
                if any(names_role(p) for p in principals):
                    missing.discard(action)
                if any(is_account_root(p) for p in principals):
                    delegated.add(action)
    if not missing:
        return COMPLIANT
    if not missing <= delegated:
        return NON_COMPLIANT
    if role is None:
        return NOT_APPLICABLE
    key_id = logical_id_of(key)
    for statement in role_identity_statements(role_id, role, resources):
        if covers_key(statement, key_id):
            missing -= {a for a in CLUSTER_ROLE_KEY_ACTIONS if allows(statement, a)}
    return COMPLIANT if not missing else NON_COMPLIANT


@one_run
def cluster_endpoint_not_public(node: CfnResource) -> NagRuleCompliance:
    """EKS4: public endpoint off, or on only for explicit CIDRs, none of them 0.0.0.0/0 or ::/0.

    AWS::EKS::Cluster defaults to a public endpoint open to 0.0.0.0/0 when EndpointPublicAccess
    or PublicAccessCidrs is absent. NOT_APPLICABLE when EndpointPublicAccess is a token.
    """
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    vpc_config = properties(node).get("ResourcesVpcConfig")
    vpc_config = vpc_config if isinstance(vpc_config, dict) else {}
    raw = vpc_config.get("EndpointPublicAccess")
    public = True if raw is None else as_bool(raw)
    if public is None:
        return NOT_APPLICABLE
    if not public:
        return COMPLIANT
    cidrs = vpc_config.get("PublicAccessCidrs")
    if not isinstance(cidrs, list) or not cidrs:
        return NOT_APPLICABLE if isinstance(cidrs, dict) else NON_COMPLIANT
    return NON_COMPLIANT if any(_is_anywhere(c) for c in cidrs) else COMPLIANT


def _is_anywhere(cidr: Any) -> bool:
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


@one_run
def cluster_control_plane_logs_enabled(node: CfnResource) -> NagRuleCompliance:
    """EKS5: api, audit, authenticator, controllerManager and scheduler logs all enabled."""
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    logging = properties(node).get("Logging")
    cluster_logging = logging.get("ClusterLogging") if isinstance(logging, dict) else None
    enabled = cluster_logging.get("EnabledTypes") if isinstance(cluster_logging, dict) else None
    types = {t.get("Type") for t in as_list(enabled) if isinstance(t, dict)}
    return COMPLIANT if set(CONTROL_PLANE_LOG_TYPES) <= types else NON_COMPLIANT


@one_run
def cluster_access_entries_enabled(node: CfnResource) -> NagRuleCompliance:
    """EKS6: AccessConfig.AuthenticationMode is API or API_AND_CONFIG_MAP (absent = CONFIG_MAP)."""
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    access = properties(node).get("AccessConfig")
    mode = access.get("AuthenticationMode") if isinstance(access, dict) else None
    if mode is not None and not isinstance(mode, str):
        return NOT_APPLICABLE
    return COMPLIANT if mode in ACCESS_ENTRY_MODES else NON_COMPLIANT


@one_run
def cluster_creator_not_admin(node: CfnResource) -> NagRuleCompliance:
    """EKS7: BootstrapClusterCreatorAdminPermissions explicitly false (absent means true)."""
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    access = properties(node).get("AccessConfig")
    raw = access.get("BootstrapClusterCreatorAdminPermissions") if isinstance(access, dict) else None
    if raw is None:
        return NON_COMPLIANT
    bootstrap = as_bool(raw)
    if bootstrap is None:
        return NOT_APPLICABLE
    return NON_COMPLIANT if bootstrap else COMPLIANT


@one_run
def cluster_deletion_protected(node: CfnResource) -> NagRuleCompliance:
    """EKS8: deletion protection on; NOT_APPLICABLE on an ephemeral cluster.

    On through the cluster's own ``DeletionProtection``, or through a
    ``Custom::ClusterDeletionProtection`` of the stack that references this cluster with
    ``Protect`` true (protection switched on after a verified deploy, so that it never blocks the
    rollback of a failed first deploy).
    """
    if resource_type(node) != CLUSTER or is_ephemeral(node):
        return NOT_APPLICABLE
    own = flag_compliance(properties(node).get("DeletionProtection"))
    if own != NON_COMPLIANT:
        return own
    own_id = logical_id_of(node)
    for resource in stack_resources(node, {DELETION_PROTECTION_RESOURCE_TYPE}).values():
        props = properties(resource)
        if own_id in all_referenced_logical_ids(props) and flag_compliance(props.get(PROTECT_PROPERTY)) == COMPLIANT:
            return COMPLIANT
    return NON_COMPLIANT


@one_run
def cluster_encryption_verified(node: CfnResource) -> NagRuleCompliance:
    """EKS9: the stack holds a verification custom resource for this cluster.

    A verification resource counts for this cluster when it references it (Ref/GetAtt/Sub) or
    references no cluster of the stack at all (e.g. a literal cluster name).
    """
    if resource_type(node) != CLUSTER:
        return NOT_APPLICABLE
    resources = stack_resources(node, {CLUSTER, VERIFICATION_RESOURCE_TYPE})
    clusters = {lid for lid, r in resources.items() if resource_type(r) == CLUSTER}
    own_id = logical_id_of(node)
    for resource in resources.values():
        if resource_type(resource) == VERIFICATION_RESOURCE_TYPE:
            referenced = all_referenced_logical_ids(properties(resource)) & clusters
            if own_id in referenced or not referenced:
                return COMPLIANT
    return NON_COMPLIANT


@one_run
def fargate_pod_execution_role_trust_scoped(node: CfnResource) -> NagRuleCompliance:
    """EKS10: the pod execution role trusts eks-fargate-pods only under an aws:SourceArn condition.

    Every Allow statement for eks-fargate-pods.amazonaws.com must carry aws:SourceArn under
    ArnLike, ArnEquals, StringLike or StringEquals (confused-deputy protection).
    NOT_APPLICABLE when the role is not in the profile's stack.
    """
    if resource_type(node) != FARGATE_PROFILE:
        return NOT_APPLICABLE
    role_id = referenced_logical_id(properties(node).get("PodExecutionRoleArn"))
    role = stack_resources(node, {IAM_ROLE}).get(role_id or "")
    if role is None or resource_type(role) != IAM_ROLE:
        return NOT_APPLICABLE
    trust = [
        s
        for s in policy_statements(properties(role).get("AssumeRolePolicyDocument"))
        if s.get("Effect") == "Allow" and FARGATE_PODS_SERVICE in service_principals(s)
    ]
    if not trust:
        return NON_COMPLIANT
    for statement in trust:
        keys = set(condition_keys(statement))
        if not any((op, "aws:sourcearn") in keys for op in SOURCE_ARN_OPERATORS):
            return NON_COMPLIANT
    return COMPLIANT


RULES: tuple[Rule, ...] = (
    Rule(
        "EKS1",
        cluster_secrets_encrypted_with_customer_key,
        frozenset({CLUSTER}),
        "The EKS cluster does not envelope-encrypt Kubernetes secrets with a customer managed KMS key "
        "referenced by key ARN.",
        "EncryptionConfig must list 'secrets' with Provider.KeyArn the ARN of a customer managed key. "
        "An alias can be repointed to another key (and alias/aws/... is AWS managed, with a key policy you cannot "
        "restrict); without EncryptionConfig secrets are only protected by EKS-managed etcd encryption.",
    ),
    Rule(
        "EKS2",
        cluster_secrets_key_rotation_enabled,
        frozenset({CLUSTER}),
        "The KMS key that encrypts the cluster's secrets does not have automatic rotation enabled.",
        "Rotation limits the data encrypted under one key version. Checked on an AWS::KMS::Key of the same stack "
        "only; for an imported key ARN the rule is not applicable and rotation is verified after deploy.",
    ),
    Rule(
        "EKS3",
        cluster_role_can_use_secrets_key,
        frozenset({CLUSTER}),
        "The cluster role is not granted kms:Encrypt, kms:Decrypt, kms:DescribeKey and kms:ListGrants "
        "on the secrets key.",
        "EKS calls KMS as the cluster role; without these permissions cluster creation fails or secrets become "
        "unreadable. Grant them in the key policy (principal: the cluster role) or, with the account-root "
        "statement kept, in an IAM policy of the role on that key.",
    ),
    Rule(
        "EKS4",
        cluster_endpoint_not_public,
        frozenset({CLUSTER}),
        "The EKS cluster API endpoint is public to the internet (0.0.0.0/0 or ::/0, the default).",
        "Disable EndpointPublicAccess, or restrict PublicAccessCidrs to known networks; when absent, "
        "AWS::EKS::Cluster opens the endpoint to 0.0.0.0/0.",
    ),
    Rule(
        "EKS5",
        cluster_control_plane_logs_enabled,
        frozenset({CLUSTER}),
        "The EKS cluster does not enable all five control-plane log types.",
        "api, audit, authenticator, controllerManager and scheduler logs are the record of who read or changed "
        "secrets and of authentication failures.",
    ),
    Rule(
        "EKS6",
        cluster_access_entries_enabled,
        frozenset({CLUSTER}),
        "The EKS cluster does not use access entries (AccessConfig.AuthenticationMode API or API_AND_CONFIG_MAP).",
        "Access entries are managed through the EKS API and CloudFormation and are audited in CloudTrail; "
        "the aws-auth ConfigMap (CONFIG_MAP, the default) is neither.",
    ),
    Rule(
        "EKS7",
        cluster_creator_not_admin,
        frozenset({CLUSTER}),
        "The EKS cluster grants its creator implicit cluster-admin "
        "(BootstrapClusterCreatorAdminPermissions not false).",
        "The deploying principal (often a CI role) would hold invisible cluster-admin; name administrators with "
        "access entries instead. Absent means true.",
    ),
    Rule(
        "EKS8",
        cluster_deletion_protected,
        frozenset({CLUSTER}),
        "The EKS cluster does not have deletion protection enabled.",
        "Deleting the cluster deletes its secrets. On through DeletionProtection or a "
        f"{DELETION_PROTECTION_RESOURCE_TYPE} with Protect true. Not applicable to resources marked ephemeral "
        f"(metadata '{EPHEMERAL_METADATA_KEY}').",
    ),
    Rule(
        "EKS9",
        cluster_encryption_verified,
        frozenset({CLUSTER}),
        f"The stack has no verification custom resource ({VERIFICATION_RESOURCE_TYPE}) for the EKS cluster.",
        "Configuration is not proof: the verification resource writes and reads a canary secret and checks the key "
        "and its grants after every deploy.",
        NagMessageLevel.WARN,
    ),
    Rule(
        "EKS10",
        fargate_pod_execution_role_trust_scoped,
        frozenset({FARGATE_PROFILE}),
        "The Fargate pod execution role trusts eks-fargate-pods.amazonaws.com without an aws:SourceArn condition.",
        "Without aws:SourceArn (ArnLike/ArnEquals/StringLike/StringEquals on the Fargate profile ARN) any Fargate "
        "profile in the account could use the role (confused deputy). Not applicable when the role is not in the "
        "profile's stack.",
    ),
)
