"""EnvelopeEncryptionVerifier: a custom resource that proves envelope encryption after each deploy."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Sequence

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct, IDependable

from .contract import CANARY_LABEL_KEY, CANARY_LABEL_VALUE, CANARY_NAMESPACE, VERIFICATION_RESOURCE_TYPE, VERIFIER_HANDLER
from .acknowledgements import acknowledge, checkov_skip
from .handler import asset_dir
from .protection import CUSTOM_RESOURCE_SERVICE_TIMEOUT
from .props import typed_props
from .validation import Problems

#: Leaves a minute of the provider framework's 15 minutes for its own bookkeeping.
HANDLER_TIMEOUT = Duration.minutes(14)
#: How long the pod check waits for the canary pod on Fargate.
POD_TIMEOUT_SECONDS = 300
#: How long the CloudTrail check waits for the cluster role's KMS calls to show up.
CLOUDTRAIL_WAIT_SECONDS = 120
#: The canary pod's image (needs ``sh``, ``sha256sum`` and ``cut``).
DEFAULT_POD_IMAGE = "public.ecr.aws/docker/library/busybox:stable"
#: The Kubernetes rights the verifier needs: Secrets and Pods in one namespace, nothing cluster-wide.
NAMESPACE_ACCESS_POLICY = "AmazonEKSEditPolicy"


@typed_props
@dataclass(frozen=True)
class VerifierOptions:
    """How the post-deploy envelope-encryption verification runs.

    Every default of the verifier is here or in the constants above it (one home); the handler gets
    them all as required resource properties.

    :param pod_check: prove a pod on Fargate reads the canary secret (about a minute per deploy). :default: True
    :param cloudtrail_check: look up KMS calls on the key by the cluster role in CloudTrail (never fails a deploy). :default: False
    :param cloudtrail_required: strict mode: fail the deploy when CloudTrail shows no KMS call by the cluster
        role on the key within the wait (it turns the CloudTrail stage on by itself). :default: False
    :param rerun_on_every_deploy: re-run even when neither the cluster nor the key changed. :default: False
    :param pod_image: image of the canary pod; it needs ``sh``, ``sha256sum`` and ``cut``. :default: :data:`DEFAULT_POD_IMAGE`
    :param reserved_concurrency: reserved concurrency of the verifier's two Lambdas. :default: None —
        none reserved: Lambda refuses any reservation that leaves fewer than 100 unreserved, and new
        or sandbox accounts start with a limit of 10. The compliance findings this causes are
        acknowledged with that reason; set e.g. 2 in accounts with room to spare.
    """

    pod_check: bool = True
    cloudtrail_check: bool = False
    cloudtrail_required: bool = False
    rerun_on_every_deploy: bool = False
    pod_image: str = DEFAULT_POD_IMAGE
    reserved_concurrency: int | None = None

    def __post_init__(self) -> None:
        # Found by the option-space test: -1 reached the template (CloudFormation refuses it) and 0 would
        # throttle every invocation, so the deploy would wait for a verification that never runs.
        concurrency = self.reserved_concurrency
        if concurrency is not None and not Token.is_unresolved(concurrency) and concurrency < 1:
            problems = Problems()
            problems.add("VerifierOptions.reserved_concurrency", concurrency,
                         "give at least 1 (0 stops the verifier from ever running), or None to reserve none")
            problems.raise_if_any()


@typed_props
class EnvelopeEncryptionVerifier(Construct):
    """Runs the envelope-encryption checks on Create and on each Update that changes cluster or key.

    A Lambda in the cluster's private subnets (CDK Provider framework, ``on_event`` only) checks the
    cluster's encryption config and key, writes and reads a canary Secret through the API server,
    optionally reads it from a Fargate pod and looks for KMS calls in CloudTrail. A failed check
    fails the deploy with a reason; Delete always succeeds.

    The same function can also serve ``Custom::ClusterDeletionProtection`` (see ``protection.py``):
    :meth:`serve_deletion_protection` allows it ``eks:UpdateClusterConfig`` on this one cluster.

    Kubernetes rights come from an access entry with ``AmazonEKSEditPolicy`` scoped to the
    ``default`` namespace: never cluster admin, and no kubectl Lambda.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.ICluster,
        key: kms.IKey,
        options: VerifierOptions,
        wait_for: Sequence[IDependable] = (),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        logs_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param cluster: the cluster to verify (its VPC, role and security groups are used): an ``eks.Cluster``,
            or an imported cluster that also carries its ``role``.
        :param key: the key the cluster must envelope-encrypt secrets with.
        :param options: which optional stages run.
        :param wait_for: what must exist first (Fargate profile, add-ons). :default: - the cluster only
        :param log_retention: handler log retention. :default: one year
        :param logs_key: key encrypting the handler's log group. :default: - CloudWatch Logs' own encryption
        :param removal_policy: of the handler's log groups.
            :default: RETAIN_ON_UPDATE_OR_DELETE (kept on stack delete, removed when a first deploy rolls back)
        """
        super().__init__(scope, construct_id)
        vpc = cluster.vpc
        # Strict CloudTrail mode needs the look-up itself.
        uses_cloudtrail = options.cloudtrail_check or options.cloudtrail_required

        #: Security group of the verifier Lambda in the cluster's private subnets (HTTPS out only).
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Envelope-encryption verifier: HTTPS to the EKS API endpoint and AWS APIs",
            allow_all_outbound=True,
        )
        cluster.connections.allow_from(
            self.security_group, ec2.Port.tcp(443), "Envelope-encryption verifier to the Kubernetes API"
        )

        vpc_access = iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
        #: The verifier Lambda's execution role.
        self.role = iam.Role(
            self, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), managed_policies=[vpc_access]
        )
        _acknowledge_vpc_access(self.role)
        statements = [
            iam.PolicyStatement(actions=["eks:DescribeCluster"], resources=[cluster.cluster_arn]),
            # Its own stack's status: an update rollback to a state verified earlier is not re-verified,
            # and a protection resource deleted by a rollback turns protection off instead of refusing.
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[Stack.of(self).stack_id]),
            iam.PolicyStatement(
                actions=["kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:ListGrants"], resources=[key.key_arn]
            ),
        ]
        # EKS's own support calendar for the cluster's version (read-only; the API takes no cluster).
        unscoped = ["eks:DescribeClusterVersions"]
        if uses_cloudtrail:
            unscoped.append("cloudtrail:LookupEvents")
        statements.append(iam.PolicyStatement(actions=unscoped, resources=["*"]))
        # A customer managed policy rather than an inline one (HIPAA/NIST/PCI IAMNoInlinePolicy).
        #: The managed policy with the verifier's AWS permissions (scoped to this cluster and key).
        self.policy = iam.ManagedPolicy(self, "HandlerPolicy", statements=statements, roles=[self.role])
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            f"{' and '.join(unscoped)}: no resource-level permissions (AWS service authorization reference: "
            "no resource type), so only '*' can be granted. Read-only: EKS's support dates for the "
            "cluster's version" + (", and CloudTrail evidence of KMS use." if uses_cloudtrail else "."),
        )

        #: The verifier Lambda's log group.
        self.log_group = logs.LogGroup(
            self,
            "HandlerLogs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=removal_policy,
        )
        private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        #: The verifier Lambda (``on_event`` of the provider).
        self.function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler=VERIFIER_HANDLER,
            code=lambda_.Code.from_asset(str(asset_dir()), exclude=["__pycache__", "*.pyc"]),
            timeout=HANDLER_TIMEOUT,
            memory_size=256,
            # Immutable here: every permission is in the managed policy above, none inline.
            role=self.role.without_policy_updates(),
            vpc=vpc,
            vpc_subnets=private_subnets,
            security_groups=[self.security_group],
            # None by default: reserving any fails in accounts whose concurrency limit is 10.
            reserved_concurrent_executions=options.reserved_concurrency,
            log_group=self.log_group,
            description="Proves EKS secrets are envelope-encrypted with the customer key",
        )
        _acknowledge_sync_custom_resource_lambda(self.function)

        #: The access entry giving the verifier ``AmazonEKSEditPolicy`` in the canary namespace only.
        self.access_entry = eks.AccessEntry(
            self,
            "AccessEntry",
            cluster=cluster,
            principal=self.role.role_arn,
            access_policies=[
                eks.AccessPolicy.from_access_policy_name(
                    NAMESPACE_ACCESS_POLICY,
                    access_scope_type=eks.AccessScopeType.NAMESPACE,
                    namespaces=[CANARY_NAMESPACE],
                )
            ],
        )

        provider_logs = logs.LogGroup(
            self,
            "ProviderLogs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=removal_policy,
        )
        provider_role = iam.Role(
            self, "ProviderRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), managed_policies=[vpc_access]
        )
        _acknowledge_vpc_access(provider_role)
        provider_policy = iam.ManagedPolicy(
            self,
            "ProviderPolicy",
            roles=[provider_role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[provider_logs.log_group_arn]
                ),
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[self.function.function_arn, f"{self.function.function_arn}:*"],
                ),
            ],
        )
        acknowledge(
            provider_policy,
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(self.function.node.default_child)}.Arn>:*]",
            "The CDK Provider framework invokes the verifier handler by ARN and by version/alias (ARN:*); "
            "the wildcard covers only versions of this one function.",
        )
        #: The CDK Provider framework serving the custom resource.
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            log_group=provider_logs,
            framework_on_event_role=provider_role.without_policy_updates(),
            vpc=vpc,
            vpc_subnets=private_subnets,
            security_groups=[self.security_group],
        )
        framework: lambda_.Function = self.provider.node.find_child("framework-onEvent")  # type: ignore[assignment]
        framework_cfn: lambda_.CfnFunction = framework.node.default_child  # type: ignore[assignment]
        if options.reserved_concurrency is not None:
            framework_cfn.reserved_concurrent_executions = options.reserved_concurrency
        framework_cfn.memory_size = 128
        _acknowledge_sync_custom_resource_lambda(framework)
        checkov_skip(
            framework,
            "CKV_AWS_173",
            "Its only environment variable is USER_ON_EVENT_FUNCTION_ARN, the handler's ARN: nothing secret "
            "to encrypt with a customer key.",
        )
        if options.reserved_concurrency is None:
            for function in (self.function, framework):
                _acknowledge_no_reserved_concurrency(function)

        properties = {
            "ClusterName": cluster.cluster_name,
            "KeyArn": key.key_arn,
            "ClusterRoleArn": cluster.role.role_arn,
            "CanaryNamespace": CANARY_NAMESPACE,
            "CanaryLabelKey": CANARY_LABEL_KEY,
            "CanaryLabelValue": CANARY_LABEL_VALUE,
            "PodCheck": str(options.pod_check).lower(),
            "PodImage": options.pod_image,
            # The handler answers an Update sent while the stack is UPDATE_ROLLBACK_IN_PROGRESS without
            # re-verifying (DescribeStacks on its own stack): a rollback never re-fails.
            "RollbackSafe": "true",
            "PodTimeoutSeconds": str(POD_TIMEOUT_SECONDS),
            "CloudTrailCheck": str(uses_cloudtrail).lower(),
            "CloudTrailWaitSeconds": str(CLOUDTRAIL_WAIT_SECONDS),
            # Strict mode: no CloudTrail evidence of the cluster role using the key within the wait fails the deploy.
            "CloudTrailRequired": str(options.cloudtrail_required).lower(),
        }
        if options.rerun_on_every_deploy:
            # A new value each synth makes CloudFormation send an Update on every deploy.
            properties["RunNonce"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        #: What the verification is told; scheduled runs (monitoring.py) send the same, marked scheduled.
        self.properties = dict(properties)
        #: The ``Custom::EnvelopeEncryptionVerification`` custom resource.
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type=VERIFICATION_RESOURCE_TYPE,
            properties=properties,
            service_timeout=CUSTOM_RESOURCE_SERVICE_TIMEOUT,
        )
        # The cluster construct's subtree holds the ingress rules to the API endpoint: depend on all of it.
        self.resource.node.add_dependency(cluster, self.access_entry, *wait_for)
        # Nothing in the template ties the resource to the policies that let the framework invoke
        # the handler and the handler do its work: without these, a stack delete may remove them
        # while the handler's Delete still runs.
        self.resource.node.add_dependency(self.policy, provider_policy, self.role, provider_role)

        self._cluster_arn = cluster.cluster_arn
        #: Token of the resource's ``Verified`` attribute: set once envelope encryption was proven.
        self.verified = self.resource.get_att_string("Verified")
        #: Token of the resource's ``Summary`` attribute: what each stage found.
        self.summary = self.resource.get_att_string("Summary")


    def serve_deletion_protection(self) -> str:
        """Let the handler switch this cluster's deletion protection; returns the service token to use.

        Granted only where a ``Custom::ClusterDeletionProtection`` exists: UpdateClusterConfig is broad
        (it could also open the endpoint), so a verifier on its own never holds it.
        """
        self.policy.add_statements(
            iam.PolicyStatement(actions=["eks:UpdateClusterConfig", "eks:DescribeUpdate"], resources=[self._cluster_arn])
        )
        return self.provider.service_token


def _acknowledge_vpc_access(role: iam.IRole) -> None:
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
        "AWSLambdaVPCAccessExecutionRole is the AWS-maintained policy a Lambda in a VPC needs to manage its "
        "network interfaces and write its logs; EC2 does not scope ENI creation to one function.",
    )


#: Why a custom-resource Lambda needs no dead-letter queue (cdk-nag and checkov alike).
CUSTOM_RESOURCE_DLQ_REASON = (
    "A custom-resource Lambda reports every outcome to CloudFormation (SUCCESS or FAILED with a reason) "
    "and logs it; a dead-letter queue would hold no event that CloudFormation does not already show."
)


def _acknowledge_sync_custom_resource_lambda(function: lambda_.IFunction) -> None:
    """Findings that do not fit a custom-resource Lambda whose every outcome reaches CloudFormation."""
    for finding in ("HIPAA.Security-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ", "Serverless-LambdaDLQ"):
        acknowledge(function, finding, CUSTOM_RESOURCE_DLQ_REASON)
    checkov_skip(function, "CKV_AWS_116", CUSTOM_RESOURCE_DLQ_REASON)
    acknowledge(
        function,
        "Serverless-LambdaTracing",
        "Runs once per deploy; each stage's timing and call counts go to structured logs and the "
        "custom resource's Summary, so X-Ray would add cost and permissions without new insight.",
    )


def _acknowledge_no_reserved_concurrency(function: lambda_.IFunction) -> None:
    reason = (
        "No reserved concurrency by default (VerifierOptions.reserved_concurrency=None): Lambda refuses a "
        "reservation that leaves fewer than 100 unreserved, and new or sandbox accounts have a limit of 10. "
        "The function runs once per deploy (and per scheduled check)."
    )
    for finding in ("HIPAA.Security-LambdaConcurrency", "NIST.800.53.R5-LambdaConcurrency"):
        acknowledge(function, finding, reason)
    checkov_skip(function, "CKV_AWS_115", reason)
