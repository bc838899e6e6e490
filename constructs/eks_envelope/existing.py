"""EnvelopeEncryptionForExistingCluster: put a cluster this stack did not create under a customer key."""
from __future__ import annotations

from typing import Any, Sequence

from aws_cdk import Aws, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from .acknowledgements import acknowledge, checkov_skip
from .key import ClusterSecretsKey, new_logs_key
from .props import typed_props
from .validation import Problems, check_cluster_name
from .protection import CUSTOM_RESOURCE_SERVICE_TIMEOUT
from .verifier import (
    CUSTOM_RESOURCE_DLQ_REASON,
    EnvelopeEncryptionVerifier,
    VerifierOptions,
    _acknowledge_vpc_access,
)
from .contract import ASSOCIATION_HANDLER, ASSOCIATION_RESOURCE_TYPE
from .handler import asset_dir

#: Re-encryption runs inside one on_event invocation; the rest of the 15 minutes is the framework's.
REENCRYPT_TIMEOUT = Duration.minutes(14)
#: The handler re-encrypts with cluster-wide edit rights: it must update Secrets in every namespace.
CLUSTER_ACCESS_POLICY = "AmazonEKSEditPolicy"
_CORE_KINDS = ("secrets", "configmaps")


class _ImportedClusterWithRole:
    """An imported cluster plus the ``role`` EnvelopeEncryptionVerifier reads: ``ICluster`` has none.

    Attribute access (``__jsii_ref__`` included) goes to the imported cluster, so jsii receives the
    imported cluster itself wherever the verifier passes this object on.
    """

    def __init__(self, cluster: eks.ICluster, role: iam.IRole) -> None:
        self._cluster = cluster
        #: The existing cluster's role, which EnvelopeEncryptionVerifier reads (ICluster has none).
        self.role = role

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)


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
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        cluster_role: iam.IRole,
        vpc: ec2.IVpc,
        cluster_security_group_id: str,
        key: kms.IKey | None = None,
        key_alias: str | None = None,
        key_admins: Sequence[iam.IPrincipal] = (),
        reencrypt_kinds: Sequence[str] = ("secrets",),
        complete: bool = False,
        verifier: VerifierOptions | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        logs_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param cluster_name: name of the existing cluster, in this stack's account and region.
        :param cluster_role: the cluster's IAM role (``roleArn`` from DescribeCluster); a new key's
            policy lets it use the key. Use ``iam.Role.from_role_arn`` with the full ARN (path included).
        :param vpc: the cluster's VPC; the handlers run in its private subnets with egress.
        :param cluster_security_group_id: the cluster security group; HTTPS from the handlers is allowed in it.
        :param key: the key to associate. Its policy must let the cluster role Encrypt/Decrypt/DescribeKey and this
            construct's handler role CreateGrant/DescribeKey (the handler checks both and refuses otherwise).
            :default: - a new ``ClusterSecretsKey``, retained, with rotation
        :param key_alias: alias of a new key. :default: - no alias
        :param key_admins: principals that administer (not use) a new key. :default: - the account root only
        :param reencrypt_kinds: kinds rewritten after the association: core plurals (``secrets``, ``configmaps``).
            :default: ("secrets",)
        :param complete: the second deploy: re-encrypt what is stored and verify, once the association is done
            (fails fast, changing nothing, while it runs). :default: False — start the association and return
        :param verifier: options of the verifier that runs with ``complete=True``. :default: - no pod check (an
            adopted cluster may have no Fargate profile for the canary), no CloudTrail check
        :param log_retention: handler log retention. :default: one year
        :param logs_key: key for the log groups. :default: - a new key for logs only (rotation on)
        :param removal_policy: of the log groups and the new logs key. :default: RETAIN_ON_UPDATE_OR_DELETE
        """
        super().__init__(scope, construct_id)
        verifier = verifier or VerifierOptions(pod_check=False)
        kinds = tuple(reencrypt_kinds)

        problems = Problems()
        check_cluster_name(problems, "cluster_name", cluster_name)
        if not kinds or any(k not in _CORE_KINDS for k in kinds):
            problems.add("reencrypt_kinds", kinds, f"give one or more of {', '.join(_CORE_KINDS)} (what AmazonEKSEditPolicy may update)")
        if key is not None and key_alias:
            problems.add("key_alias", key_alias, "leave it out when key is given: the alias belongs to a new key")
        problems.raise_if_any()

        #: The existing cluster, imported from its attributes.
        self.cluster = eks.Cluster.from_cluster_attributes(
            self, "Cluster", cluster_name=cluster_name, vpc=vpc, cluster_security_group_id=cluster_security_group_id
        )
        #: The ClusterSecretsKey created here; None when ``key`` was given.
        self.secrets_key: ClusterSecretsKey | None = None
        if key is None:
            # RetainExceptOnCreate like the default app: the association starts last (it depends on everything
            # else here), so a deploy that fails and removes the key has not associated it.
            self.secrets_key = ClusterSecretsKey(self, "Key", alias=key_alias, admins=list(key_admins),
                                                 removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
            self.secrets_key.grant_cluster_role(cluster_role)
            key = self.secrets_key.key
        #: The KMS key the cluster's secrets are put under: the given ``key`` or ``secrets_key.key``.
        self.key = key

        #: The KMS key encrypting the handler log groups: the given ``logs_key`` or a new one.
        self.logs_key = logs_key or new_logs_key(
            self, RemovalPolicy.DESTROY if removal_policy == RemovalPolicy.DESTROY else RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        logs_key = self.logs_key

        #: Security group of the association Lambdas (HTTPS out only).
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
            description="Envelope-encryption association: HTTPS to the EKS API endpoint and AWS APIs",
        )
        self.cluster.connections.allow_from(self.security_group, ec2.Port.tcp(443), "Key association handler to the Kubernetes API")
        vpc_access = iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
        #: The association Lambdas' execution role.
        self.role = iam.Role(self, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), managed_policies=[vpc_access])
        _acknowledge_vpc_access(self.role)
        cluster_arn = self.cluster.cluster_arn
        #: The managed policy with the association's AWS permissions (this cluster and key only).
        self.policy = iam.ManagedPolicy(self, "HandlerPolicy", roles=[self.role], statements=[
            # The service authorization reference lists the cluster as the resource of all four (updates have no ARN).
            iam.PolicyStatement(actions=["eks:DescribeCluster", "eks:AssociateEncryptionConfig", "eks:ListUpdates", "eks:DescribeUpdate"],
                                resources=[cluster_arn]),
            iam.PolicyStatement(actions=["kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:GetKeyPolicy"], resources=[key.key_arn]),
            iam.PolicyStatement(actions=["kms:CreateGrant"], resources=[key.key_arn],
                                conditions={"StringEquals": {"kms:ViaService": f"eks.{Aws.REGION}.amazonaws.com"}}),
            # The handler checks its own and the cluster role's key permissions before associating.
            iam.PolicyStatement(actions=["iam:SimulatePrincipalPolicy", "iam:GetRole"], resources=[self.role.role_arn, cluster_role.role_arn]),
        ])
        #: The association Lambdas' log group.
        self.log_group = logs.LogGroup(self, "HandlerLogs", retention=log_retention, encryption_key=logs_key, removal_policy=removal_policy)
        private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        code = lambda_.Code.from_asset(str(asset_dir()), exclude=["__pycache__", "*.pyc"])

        def handler(cid: str, entry: str, timeout: Duration, description: str) -> lambda_.Function:
            function = lambda_.Function(
                self, cid, runtime=lambda_.Runtime.PYTHON_3_14, handler=entry, code=code, timeout=timeout, memory_size=256,
                role=self.role.without_policy_updates(), vpc=vpc, vpc_subnets=private_subnets, security_groups=[self.security_group],
                reserved_concurrent_executions=verifier.reserved_concurrency, log_group=self.log_group, description=description,
            )
            _acknowledge_custom_resource_lambda(function, verifier.reserved_concurrency)
            return function

        #: The provider's ``on_event`` Lambda: starts the key association, or (``complete``) re-encrypts after it.
        self.on_event_function = handler("OnEvent", ASSOCIATION_HANDLER, REENCRYPT_TIMEOUT,
                                         "Checks and starts the customer key's association with an existing EKS cluster; "
                                         "rewrites every Secret once it is done")
        #: The access entry giving the association ``AmazonEKSEditPolicy`` cluster-wide (it rewrites Secrets in every namespace).
        self.access_entry = eks.AccessEntry(
            self, "AccessEntry", cluster=self.cluster, principal=self.role.role_arn,
            access_policies=[eks.AccessPolicy.from_access_policy_name(CLUSTER_ACCESS_POLICY, access_scope_type=eks.AccessScopeType.CLUSTER)],
        )

        provider_logs = logs.LogGroup(self, "ProviderLogs", retention=log_retention, encryption_key=logs_key, removal_policy=removal_policy)
        #: The CDK Provider framework serving the association resource: ``on_event`` only, no waiter.
        self.provider = cr.Provider(
            self, "Provider",
            on_event_handler=self.on_event_function,
            log_group=provider_logs,
            vpc=vpc, vpc_subnets=private_subnets, security_groups=[self.security_group],
        )
        _acknowledge_provider(self.provider, verifier.reserved_concurrency, [self.on_event_function])

        #: The ``Custom::EnvelopeEncryptionAssociation`` custom resource.
        self.resource = CustomResource(
            self, "Resource", service_token=self.provider.service_token, resource_type=ASSOCIATION_RESOURCE_TYPE,
            properties={"ClusterName": cluster_name, "KeyArn": key.key_arn, "ReencryptKinds": ",".join(kinds),
                        "Complete": "true" if complete else "false"},
            # The handler returns within minutes (re-encryption: one 14-minute invocation); never an hour.
            service_timeout=CUSTOM_RESOURCE_SERVICE_TIMEOUT,
        )
        # Last of this construct: nothing here can fail after the irreversible call of the same deploy.
        self.resource.node.add_dependency(*[c for c in self.node.children if c is not self.resource])
        #: The verifier that proves the result after ``complete=True``; None before.
        self.verifier: EnvelopeEncryptionVerifier | None = None
        if complete:
            self.verifier = EnvelopeEncryptionVerifier(
                self, "Verifier", cluster=_ImportedClusterWithRole(self.cluster, cluster_role), key=key, options=verifier,
                wait_for=[self.resource], log_retention=log_retention, logs_key=logs_key, removal_policy=removal_policy,
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


def _acknowledge_custom_resource_lambda(function: lambda_.IFunction, reserved_concurrency: int | None) -> None:
    for finding in ("HIPAA.Security-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ", "Serverless-LambdaDLQ"):
        acknowledge(function, finding, CUSTOM_RESOURCE_DLQ_REASON)
    checkov_skip(function, "CKV_AWS_116", CUSTOM_RESOURCE_DLQ_REASON)
    acknowledge(function, "Serverless-LambdaTracing",
                "Runs once per deploy of an adoption; every step's outcome goes to structured logs and the custom "
                "resource's data, so X-Ray would add cost and permissions without new insight.")
    if reserved_concurrency is None:
        reason = ("Reserved concurrency turned off deliberately (VerifierOptions.reserved_concurrency=None): accounts "
                  "with a concurrency limit of 10 cannot reserve any. The function runs once per deploy.")
        for finding in ("HIPAA.Security-LambdaConcurrency", "NIST.800.53.R5-LambdaConcurrency"):
            acknowledge(function, finding, reason)
        checkov_skip(function, "CKV_AWS_115", reason)


def _acknowledge_provider(provider: cr.Provider, reserved_concurrency: int | None, handlers: Sequence[lambda_.Function]) -> None:
    """The framework's own Lambda and role (``on_event`` only, no waiter): findings that do not fit, acknowledged with reasons."""
    stack = Stack.of(provider)
    framework_roles = (
        "The CDK Provider framework writes this policy itself: it lets its onEvent function invoke exactly the "
        "handler it drives, nothing else."
    )
    for finding in ("HIPAA.Security-IAMNoInlinePolicy", "NIST.800.53.R5-IAMNoInlinePolicy", "PCI.DSS.321-IAMNoInlinePolicy"):
        acknowledge(provider, finding, framework_roles)
    for managed in ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"):
        acknowledge(provider, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{managed}]",
                    f"{managed} is the AWS-maintained policy the Provider framework's functions need to write their logs "
                    "and, in a VPC, manage their network interfaces.")
    for function in handlers:
        acknowledge(provider, f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(function.node.default_child)}.Arn>:*]",
                    "The CDK Provider framework invokes its functions by ARN and by version/alias (ARN:*); the "
                    "wildcard covers only versions of that one function.")
    framework = provider.node.find_child("framework-onEvent")
    cfn: lambda_.CfnFunction = framework.node.default_child  # type: ignore[assignment]
    cfn.reserved_concurrent_executions = reserved_concurrency
    cfn.memory_size = 128
    _acknowledge_custom_resource_lambda(framework, reserved_concurrency)
    checkov_skip(framework, "CKV_AWS_173", "Its environment variables are the ARN of the handler it invokes: nothing "
                                           "secret to encrypt with a customer key.")
