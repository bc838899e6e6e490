"""The customer managed key that envelope-encrypts the cluster's Kubernetes secrets."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from aws_cdk import (
    Aws,
    CfnRule,
    CfnRuleAssertion,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .acknowledgements import guard_suppress
from .bootstrap import default_deploy_principal
# The key actions of the cluster role and of the principal that creates the cluster: the contract's lists, which
# the handler's association checks too, so the two sides cannot drift apart again.
from .contract import CALLER_KEY_ACTIONS, CLUSTER_ROLE_KEY_ACTIONS
from .props import Props, props_from, typed_props
from .validation import Problems, check_key_arn, check_principal_arns, parse_kms_arn

#: Key administration without any cryptographic use: no Encrypt/Decrypt/GenerateDataKey*/ReEncrypt*,
#: and no CreateGrant (a grant to oneself would be crypto use by the back door).
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)


#: The key lock's statement id and what it denies (see ClusterSecretsKey.lock).
KEY_LOCK_SID = "KeyLockDenyDestructiveActionsExceptBreakGlass"
KEY_LOCK_ACTIONS = ("kms:DisableKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")


def check_break_glass_arns(problems: Problems, arns: Sequence[str]) -> None:
    """The key lock needs at least one valid break-glass role: otherwise nothing could undo it."""
    if isinstance(arns, str) or not arns:
        problems.add(
            "key_lock_break_glass_arns", arns if isinstance(arns, str) else list(arns),
            "name at least one IAM role that may still disable, delete or re-policy the key "
            "(e.g. 'arn:aws:iam::123456789012:role/BreakGlass'); without one the lock has no way back",
        )
        return
    check_principal_arns(problems, "key_lock_break_glass_arns", list(arns))


def _principal_arn(principal: iam.IPrincipal | None) -> str | None:
    """The ARN a key-policy condition can name for ``principal`` (an ARN principal or a role)."""
    if isinstance(principal, iam.ArnPrincipal):
        return principal.arn
    role_arn = getattr(principal, "role_arn", None)
    return role_arn if isinstance(role_arn, str) else None


#: KMS alias names: ``alias/`` and 1-250 letters, digits, ``/``, ``_`` or ``-``; ``alias/aws/`` is AWS's own.
_ALIAS_RE = re.compile(r"^(alias/)?[A-Za-z0-9/_-]{1,250}$")


@typed_props
@dataclass(frozen=True)
class ClusterSecretsKeyProps(Props):
    """The props of :class:`ClusterSecretsKey`, as one frozen object."""

    #: alias name without or with the ``alias/`` prefix. :default: - no alias
    alias: str | None = None
    #: principals that administer (not use) the key. :default: - none beyond the account root
    admins: Sequence[iam.IPrincipal] = ()
    #: principal that creates the cluster.
    #: :default: - the CDK bootstrap CloudFormation execution role of the stack's synthesizer
    deploy_principal: iam.IPrincipal | None = None
    #: what happens to the key when the stack goes.
    #: :default: RETAIN_ON_UPDATE_OR_DELETE (kept on stack delete; removed when the deploy that
    #: created it rolls back, so a failed first deploy leaves nothing behind)
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    #: waiting period before deletion, 7-30 days. :default: 30 days
    pending_window: Duration = Duration.days(30)
    #: the key's description. :default: "Envelope encryption of EKS Kubernetes secrets"
    description: str = "Envelope encryption of EKS Kubernetes secrets"

    def check(self, problems: Problems) -> None:
        alias = self.alias
        if alias and not Token.is_unresolved(alias) and (not _ALIAS_RE.match(alias) or alias.startswith("alias/aws/")):
            problems.add("alias", alias, "1-250 letters, digits, '/', '_' or '-' after an optional 'alias/' "
                                         "(not 'alias/aws/', which AWS reserves), e.g. 'team-a-secrets'")
        if not Token.is_unresolved(self.pending_window.to_string()):
            millis = self.pending_window.to_milliseconds()  # to_days() raises on a fraction
            if millis % 86_400_000 or not 7 <= millis // 86_400_000 <= 30:
                problems.add("pending_window", self.pending_window.to_human_string(),
                             "give whole days from 7 to 30 (KMS's waiting period), e.g. Duration.days(30)")


@typed_props
class ClusterSecretsKey(Construct):
    """A KMS customer managed key and alias for EKS secrets envelope encryption.

    The key policy is deliberate and least privilege:

    - the account root keeps full access (CDK's default statement), so IAM can always recover the
      key — removing it is how teams lock themselves out;
    - ``admins`` administer the key but cannot use it for cryptography;
    - the cluster role gets Encrypt, Decrypt, DescribeKey and ListGrants through its own IAM policy
      (:func:`grant_key_use`), never by name in the key policy: KMS refuses a key policy whose
      principal it cannot see yet, and a role created seconds earlier in the same deploy may not be
      visible (CreateKey/PutKeyPolicy: "principals must exist and be visible");
    - the deploying principal gets CreateGrant and DescribeKey only through EKS in this account and
      region (never with ``kms:GrantIsForAWSResource``, which EKS does not support for CreateCluster);
    - no statement has a ``*`` principal.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, props: ClusterSecretsKeyProps | None = None, **kwargs: Any
    ) -> None:
        """
        :param props: a ClusterSecretsKeyProps, or its fields as keyword arguments (not both); each is documented there.
        """
        super().__init__(scope, construct_id)
        props = props_from(ClusterSecretsKeyProps, props, kwargs, owner=self)
        props.validate()
        alias, admins, deploy_principal = props.alias, props.admins, props.deploy_principal
        #: The KMS key (``AWS::KMS::Key``) that encrypts Kubernetes secrets.
        self.key = kms.Key(
            self,
            "Resource",
            description=props.description,
            enable_key_rotation=True,
            removal_policy=props.removal_policy,
            pending_window=props.pending_window,
        )
        acknowledge_create_grant_control(self.key)
        if admins:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="KeyAdministrationWithoutCryptoUse",
                    principals=list(admins),
                    actions=list(KEY_ADMIN_ACTIONS),
                    resources=["*"],
                )
            )
        deployer = deploy_principal or default_deploy_principal(self)
        #: The principal the key policy lets create the cluster (the CDK execution role by default).
        self.deploy_principal = deployer
        #: Break-glass role ARNs after :meth:`lock`; empty while the key is not locked.
        self.locked_for: tuple[str, ...] = ()
        if deployer is not None:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="DeployerCreatesClusterGrantThroughEks",
                    principals=[deployer],
                    actions=list(CALLER_KEY_ACTIONS),
                    resources=["*"],
                    conditions={
                        "StringEquals": {
                            "kms:CallerAccount": Aws.ACCOUNT_ID,
                            "kms:ViaService": f"eks.{Aws.REGION}.amazonaws.com",
                        }
                    },
                )
            )
        #: The key's alias; None when no alias was asked for.
        self.alias: kms.Alias | None = None
        if alias:
            self.alias = kms.Alias(
                self,
                "Alias",
                alias_name=alias if alias.startswith("alias/") else f"alias/{alias}",
                target_key=self.key,
                # Never kept: a kept alias would collide with the next deploy of the same name.
                removal_policy=RemovalPolicy.DESTROY,
            )

    # ---------------------------------------------------------------------------------------------
    # Key lock (opt-in). Kept in one place: the lock is the only Deny in this key's policy.

    def lock(self, break_glass_arns: Sequence[str]) -> None:
        """Deny ScheduleKeyDeletion, DisableKey and PutKeyPolicy to everyone but the break-glass roles.

        It can never lock the account out: the account-root statement stays (IAM still governs every
        other action), the named break-glass roles keep all three actions, and so does the principal
        that deploys this stack (otherwise the next deploy that touches the key policy, or an ephemeral
        stack's teardown, would fail half-way). An empty ``break_glass_arns`` is refused.
        """
        problems = Problems()
        check_break_glass_arns(problems, break_glass_arns)
        deployer_arn = _principal_arn(self.deploy_principal)
        if deployer_arn is None:
            # KMS's lockout safety check would refuse the policy at deploy time (CloudFormation could no
            # longer PutKeyPolicy): say so at synth instead.
            problems.add(
                "deploy_principal", self.deploy_principal,
                "the key lock exempts the principal that deploys the stack; pass deploy_principal as an ARN "
                "principal or a role (the CDK default synthesizer's execution role is found on its own)",
            )
        problems.raise_if_any()
        exempt = [*break_glass_arns, deployer_arn]
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=KEY_LOCK_SID,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(KEY_LOCK_ACTIONS),
                resources=["*"],
                conditions={"ArnNotLike": {"aws:PrincipalArn": exempt}},
            )
        )
        self.locked_for = tuple(exempt)

    # ---------------------------------------------------------------------------------------------

    @property
    def key_arn(self) -> str:
        return self.key.key_arn

    @property
    def alias_name(self) -> str | None:
        return self.alias.alias_name if self.alias else None

    def grant_cluster_role(self, role: iam.IRole) -> iam.ManagedPolicy:
        """Let the EKS cluster role wrap and unwrap data keys (see :func:`grant_key_use`)."""
        return grant_key_use(self, "ClusterRoleKeyUse", role, self.key.key_arn)

    @staticmethod
    def from_key_arn(scope: Construct, construct_id: str, key_arn: str) -> kms.IKey:
        """Import an existing key by ARN, refusing an alias ARN or a key in another region.

        For an environment-agnostic stack the region is only known at deploy time: a template Rule
        then refuses a deploy into another region before anything is created.
        """
        problems = Problems()
        region = Stack.of(scope).region
        check_key_arn(problems, "key_arn", key_arn, stack_region=region)
        problems.raise_if_any()
        key = kms.Key.from_key_arn(scope, construct_id, key_arn)
        parts = parse_kms_arn(key_arn) if not Token.is_unresolved(key_arn) else None
        if parts and Token.is_unresolved(region):
            CfnRule(
                scope,
                f"{construct_id}SameRegion",
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_equals(Aws.REGION, parts["region"]),
                        assert_description=(
                            f"The secrets key {key_arn} is in {parts['region']}; EKS needs a key in the "
                            "cluster's region. Deploy to that region or give a key from this one."
                        ),
                    )
                ],
            )
        return key


def grant_key_use(scope: Construct, construct_id: str, role: iam.IRole, key_arn: str) -> iam.ManagedPolicy:
    """The cluster role's use of the secrets key, granted by the role's own (customer managed) policy.

    It relies on the key policy's account-root statement, which delegates the key to IAM; the key
    policy never names the role, so the key can be created before the role is visible to KMS.
    A managed policy, not an inline one (HIPAA/NIST/PCI IAMNoInlinePolicy).
    """
    return iam.ManagedPolicy(
        scope,
        construct_id,
        roles=[role],
        statements=[iam.PolicyStatement(actions=list(CLUSTER_ROLE_KEY_ACTIONS), resources=[key_arn])],
    )


# AWS Control Tower CT.KMS.PR.3 ("limit creation of KMS grants to AWS services"), kept apart from the
# key policy above. Evidence and sources: docs/compliance.md#governed-organizations-aws-control-tower.

#: Control Tower's id for the control, as it appears in findings and hook configuration.
CREATE_GRANT_CONTROL = "CT.KMS.PR.3"

#: Why the secrets key goes without CT.KMS.PR.3's statement.
CREATE_GRANT_CONTROL_EXEMPTION = (
    "EKS creates the cluster role's grant on this key with the credentials of the principal calling CreateCluster "
    "(a forward access session through eks.<region>.amazonaws.com): aws:PrincipalIsAWSService is false for such a "
    "call, and the EKS user guide says kms:GrantIsForAWSResource is not supported for CreateCluster. CT.KMS.PR.3's "
    "deny would refuse that grant and with it the cluster. Exempt the stack from CT.KMS.PR.3 "
    "(docs/compliance.md#governed-organizations-aws-control-tower)."
)


def deny_create_grant_except_for_aws_services() -> iam.PolicyStatement:
    """CT.KMS.PR.3's statement: only AWS services create grants on the key.

    Deny ``kms:CreateGrant`` to everyone unless an AWS service integrated with KMS asks on a caller's
    behalf (``kms:GrantIsForAWSResource``) or a service principal asks itself
    (``aws:PrincipalIsAWSService``). For keys whose grants only AWS services create (the logs key);
    never on an EKS secrets key, whose grant EKS creates with the caller's credentials.
    """
    return iam.PolicyStatement(
        sid="CreateGrantOnlyByAwsServices",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["kms:CreateGrant"],
        resources=["*"],
        conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
    )


def acknowledge_create_grant_control(key: kms.Key) -> None:
    """Record, on an EKS secrets key, why it does not carry CT.KMS.PR.3's statement."""
    guard_suppress(key, CREATE_GRANT_CONTROL, CREATE_GRANT_CONTROL_EXEMPTION)


def new_logs_key(scope: Construct, removal: RemovalPolicy) -> kms.Key:
    """A key for this construct's log groups only, so reading logs never implies reading secrets."""
    key = kms.Key(
        scope,
        "LogsKey",
        description="Encrypts the EKS control-plane, VPC flow and verifier log groups and the alarm topic",
        enable_key_rotation=True,
        removal_policy=removal,
        pending_window=Duration.days(7) if removal == RemovalPolicy.DESTROY else Duration.days(30),
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
    )
    # Control Tower CT.KMS.PR.3: only AWS services use this key (CloudWatch Logs; SNS for the alarm topic),
    # and none of them creates grants on it.
    key.add_to_resource_policy(deny_create_grant_except_for_aws_services())
    return key
