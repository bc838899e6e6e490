"""EnvelopeEncryptionForExistingCluster: put a cluster this stack did not create under a customer key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from .contract import ASSOCIATION_HANDLER, ASSOCIATION_RESOURCE_TYPE, DEFAULT_REENCRYPT_KINDS, AssociationProperties
from .custom_resource import CustomResourceBackend, HandlerLogs, Purpose, Reasons, custom_resource
from .key import ClusterSecretsKey, new_logs_key
from .props import Props, props_from, typed_props
from .validation import Problems, check_cluster_name
from .verifier import EnvelopeEncryptionVerifier, VerifierOptions

#: The handler re-encrypts with cluster-wide edit rights: it must update Secrets in every namespace.
CLUSTER_ACCESS_POLICY = "AmazonEKSEditPolicy"
_CORE_KINDS = ("secrets", "configmaps")

_PURPOSE = Purpose(
    description="Envelope-encryption association: HTTPS to the EKS API endpoint and AWS APIs",
    endpoint_rule="Key association handler to the Kubernetes API",
    function="Checks and starts the customer key's association with an existing EKS cluster; "
             "rewrites every Secret once it is done",
)
_REASONS = Reasons(
    tracing="Runs once per deploy of an adoption; every step's outcome goes to structured logs and the custom "
            "resource's data, so X-Ray would add cost and permissions without new insight.",
    no_reserved_concurrency="Reserved concurrency turned off deliberately (VerifierOptions.reserved_concurrency=None): "
                            "accounts with a concurrency limit of 10 cannot reserve any. The function runs once per deploy.",
    framework_environment="Its environment variables are the ARN of the handler it invokes: nothing secret to encrypt "
                          "with a customer key.",
)


@typed_props
@dataclass(frozen=True)
class EnvelopeEncryptionForExistingClusterProps(Props):
    """The props of :class:`EnvelopeEncryptionForExistingCluster`, as one frozen object."""

    #: name of the existing cluster, in this stack's account and region.
    cluster_name: str
    #: the cluster's IAM role (``roleArn`` from DescribeCluster); a new key's policy lets it use the key.
    #: Use ``iam.Role.from_role_arn`` with the full ARN (path included).
    cluster_role: iam.IRole
    #: the cluster's VPC; the handlers run in its private subnets with egress.
    vpc: ec2.IVpc
    #: the cluster security group; HTTPS from the handlers is allowed in it.
    cluster_security_group_id: str
    #: the key to associate. Its policy must let the cluster role Encrypt/Decrypt/DescribeKey and this
    #: construct's handler role CreateGrant/DescribeKey (the handler checks both and refuses otherwise).
    #: :default: - a new ``ClusterSecretsKey``, retained, with rotation
    key: kms.IKey | None = None
    #: alias of a new key. :default: - no alias
    key_alias: str | None = None
    #: principals that administer (not use) a new key. :default: - the account root only
    key_admins: Sequence[iam.IPrincipal] = ()
    #: kinds rewritten after the association: core plurals (``secrets``, ``configmaps``). :default: ("secrets",)
    reencrypt_kinds: Sequence[str] = DEFAULT_REENCRYPT_KINDS
    #: the second deploy: re-encrypt what is stored and verify, once the association is done (fails fast,
    #: changing nothing, while it runs). :default: False — start the association and return
    complete: bool = False
    #: options of the verifier that runs with ``complete=True``. :default: - no pod check (an adopted cluster
    #: may have no Fargate profile for the canary), no CloudTrail check
    verifier: VerifierOptions | None = None
    #: handler log retention. :default: one year
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    #: key for the log groups. :default: - a new key for logs only (rotation on)
    logs_key: kms.IKey | None = None
    #: of the log groups and the new logs key. :default: RETAIN_ON_UPDATE_OR_DELETE
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE

    def check(self, problems: Problems) -> None:
        kinds = self.reencrypt_kinds
        check_cluster_name(problems, "cluster_name", self.cluster_name)
        if not kinds or any(k not in _CORE_KINDS for k in kinds):
            problems.add("reencrypt_kinds", kinds,
                         f"give one or more of {', '.join(_CORE_KINDS)} (what AmazonEKSEditPolicy may update)")
        if self.key is not None and self.key_alias:
            problems.add("key_alias", self.key_alias, "leave it out when key is given: the alias belongs to a new key")


@typed_props
class EnvelopeEncryptionForExistingCluster(Construct):
    """Associate a customer KMS key with an existing EKS cluster, then (a later deploy) re-encrypt and verify.

    Two deploys, because CloudFormation gives a custom resource at most 3600 s and EKS's association is
    irreversible and takes 45-52 minutes: no deploy waits for it (one that timed out would roll back
    while EKS went on associating). docs/existing-clusters.md tells what you see at each step.

    1. ``complete=False`` (default): the custom resource checks everything, starts AssociateEncryptionConfig
       (or finds the one running) and returns within minutes with ``status`` ``ASSOCIATING``, the
       ``update_id`` and the ``next_steps``. It is the last resource of this construct to be created, so
       nothing of it can fail after the irreversible call.
    2. ``complete=True``, once ``aws eks describe-update`` says Successful: the handler rewrites every Secret
       so it is stored again under the key (one invocation of up to 14 minutes), returns ``ASSOCIATED``,
       and ``EnvelopeEncryptionVerifier`` proves the result. While the update still runs, this deploy fails
       fast having changed nothing (CloudFormation rolls the property back). ``eks-envelope encrypt-existing``
       does the same from a workstation.

    What it adds to a stack (a deliberate cost: keep it out of stacks that do not adopt a cluster; a stack
    of its own is best, so nothing else of the deploy can fail after the association started):

    - without ``key``: a ``ClusterSecretsKey`` (KMS key, rotation on, kept on update and delete,
      ``RetainExceptOnCreate``: removed only if the deploy that created it fails, which is before the
      association starts) — 1 ``AWS::KMS::Key`` (+ 1 ``AWS::KMS::Alias`` with ``key_alias``);
    - the association: 1 handler Lambda (``associate.on_event``) with its role, a customer managed policy,
      a security group with an ingress rule on the cluster's security group, a log group and an EKS access
      entry (``AmazonEKSEditPolicy``, cluster scope: re-encryption updates Secrets in every namespace);
    - a CDK Provider without ``is_complete``: 1 framework Lambda (onEvent), its role and log group, and
      no state machine (no waiter);
    - without ``logs_key``: a KMS key for the log groups only (rotation on);
    - the custom resource ``Custom::EnvelopeEncryptionAssociation`` (``ServiceTimeout`` 16 minutes);
    - with ``complete=True``: ``EnvelopeEncryptionVerifier`` (2 Lambdas, its role, security group, access
      entry scoped to ``default``, the ``Custom::EnvelopeEncryptionVerification`` resource), run after it.

    What cannot be undone: once associated, EKS can neither dissociate nor change the key. Deleting
    this construct (or the stack) leaves the cluster encrypting secrets with the key; Delete does
    nothing and logs so. The key is therefore kept on delete: deleting or disabling it makes every
    secret unreadable.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, props: EnvelopeEncryptionForExistingClusterProps | None = None,
        **kwargs: Any,
    ) -> None:
        """
        :param props: an EnvelopeEncryptionForExistingClusterProps, or its fields as keyword arguments (not both);
            each is documented there.
        """
        super().__init__(scope, construct_id)
        props = props_from(EnvelopeEncryptionForExistingClusterProps, props, kwargs, owner=self)
        props.validate()
        #: The props in effect: ``props``, or the keyword arguments as an EnvelopeEncryptionForExistingClusterProps.
        self.props = props
        options = props.verifier or VerifierOptions(pod_check=False)

        #: The existing cluster, imported from its attributes.
        self.cluster = eks.Cluster.from_cluster_attributes(
            self, "Cluster", cluster_name=props.cluster_name, vpc=props.vpc,
            cluster_security_group_id=props.cluster_security_group_id)
        #: The ClusterSecretsKey created here; None when ``key`` was given.
        self.secrets_key: ClusterSecretsKey | None = None
        key = props.key
        if key is None:
            # RetainExceptOnCreate like the default app: the association starts last (it depends on everything
            # else here), so a deploy that fails and removes the key has not associated it.
            self.secrets_key = ClusterSecretsKey(self, "Key", alias=props.key_alias, admins=list(props.key_admins),
                                                 removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
            self.secrets_key.grant_cluster_role(props.cluster_role)
            key = self.secrets_key.key
        #: The KMS key the cluster's secrets are put under: the given ``key`` or ``secrets_key.key``.
        self.key = key
        #: The KMS key encrypting the handler log groups: the given ``logs_key`` or a new one.
        self.logs_key = props.logs_key or new_logs_key(
            self, RemovalPolicy.DESTROY if props.removal_policy == RemovalPolicy.DESTROY else RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)

        backend = CustomResourceBackend(
            self, cluster=self.cluster, vpc=props.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            endpoint_security_groups=self.cluster.connections.security_groups, purpose=_PURPOSE, function_id="OnEvent",
            handler=ASSOCIATION_HANDLER,
            kubernetes_access=eks.AccessPolicy.from_access_policy_name(CLUSTER_ACCESS_POLICY,
                                                                       access_scope_type=eks.AccessScopeType.CLUSTER),
            permissions=lambda role: self._permissions(key, props.cluster_role, role),
            reserved_concurrency=options.reserved_concurrency,
            handler_logs=HandlerLogs(props.log_retention, self.logs_key, props.removal_policy),
            reasons=_REASONS,
            # Kept as it was: a role of ours would replace the framework's role in deployed stacks.
            dedicated_framework_role=False,
        )
        #: Security group of the association Lambdas (HTTPS out only).
        self.security_group = backend.security_group
        #: The association Lambdas' execution role.
        self.role = backend.role
        #: The managed policy with the association's AWS permissions (this cluster and key only).
        self.policy = backend.policy
        #: The association Lambdas' log group.
        self.log_group = backend.log_group
        #: The provider's ``on_event`` Lambda: starts the key association, or (``complete``) re-encrypts after it.
        self.on_event_function = backend.function
        #: The access entry giving the association ``AmazonEKSEditPolicy`` cluster-wide (it rewrites Secrets in every namespace).
        self.access_entry = backend.access_entry
        #: The CDK Provider framework serving the association resource: ``on_event`` only, no waiter.
        self.provider = backend.provider

        #: The ``Custom::EnvelopeEncryptionAssociation`` custom resource.
        self.resource = custom_resource(
            self, service_token=backend.service_token, resource_type=ASSOCIATION_RESOURCE_TYPE,
            properties=AssociationProperties(cluster_name=props.cluster_name, key_arn=key.key_arn,
                                             reencrypt_kinds=tuple(props.reencrypt_kinds), complete=props.complete).to_properties(),
        )
        # Last of this construct: nothing here can fail after the irreversible call of the same deploy.
        self.resource.node.add_dependency(*[c for c in self.node.children if c is not self.resource])
        #: The verifier that proves the result after ``complete=True``; None before.
        self.verifier: EnvelopeEncryptionVerifier | None = None
        if props.complete:
            self.verifier = EnvelopeEncryptionVerifier(
                self, "Verifier", cluster_name=props.cluster_name, cluster_arn=self.cluster.cluster_arn,
                cluster_role_arn=props.cluster_role.role_arn, vpc=props.vpc,
                cluster_security_groups=self.cluster.connections.security_groups, key=key, options=options,
                wait_for=[self.resource], log_retention=props.log_retention, logs_key=self.logs_key,
                removal_policy=props.removal_policy,
            )
        #: Token: the verifier's ``Verified`` attribute; None before ``complete=True``.
        self.verified = self.verifier.verified if self.verifier else None
        #: Token of the association's ``Status``: ``ASSOCIATING`` (update running) or ``ASSOCIATED``.
        self.status = self.resource.get_att_string("Status")
        #: Token of the association's EKS update id (DescribeUpdate); empty once associated.
        self.update_id = self.resource.get_att_string("UpdateId")
        #: Token of what to do next (follow the update, then deploy with complete=True).
        self.next_steps = self.resource.get_att_string("Next")
        #: Token of the association's ``Reencrypted`` attribute: a summary of what was re-encrypted.
        self.reencrypted = self.resource.get_att_string("Reencrypted")

    def _permissions(self, key: kms.IKey, cluster_role: iam.IRole, own_role: iam.IRole) -> list[iam.PolicyStatement]:
        """The association's AWS permissions: this cluster and this key only."""
        return [
            # The service authorization reference lists the cluster as the resource of all four (updates have no ARN).
            iam.PolicyStatement(actions=["eks:DescribeCluster", "eks:AssociateEncryptionConfig", "eks:ListUpdates", "eks:DescribeUpdate"],
                                resources=[self.cluster.cluster_arn]),
            iam.PolicyStatement(actions=["kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:GetKeyPolicy"], resources=[key.key_arn]),
            iam.PolicyStatement(actions=["kms:CreateGrant"], resources=[key.key_arn],
                                conditions={"StringEquals": {"kms:ViaService": f"eks.{Aws.REGION}.amazonaws.com"}}),
            # The handler checks its own and the cluster role's key permissions before associating.
            iam.PolicyStatement(actions=["iam:SimulatePrincipalPolicy", "iam:GetRole"], resources=[own_role.role_arn, cluster_role.role_arn]),
        ]
