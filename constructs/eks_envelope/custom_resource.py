"""One way to build a custom resource's backend: a VPC Lambda with its role, log group, Kubernetes access and Provider.

EnvelopeEncryptionVerifier and EnvelopeEncryptionForExistingCluster both build theirs here (the shape of
Solutions Constructs' ``buildLambdaFunction``). :class:`CustomResourceBackend` is not a construct: what it
builds are children of its owner, so construct paths and logical ids stay the owner's (a public contract:
renaming one replaces the resource in users' stacks).

What every such backend gets, and why:

- a security group (HTTPS out only) allowed into the cluster's security groups on 443: the handler calls
  the Kubernetes API through the private endpoint;
- an execution role with only ``AWSLambdaVPCAccessExecutionRole`` and a customer managed policy the owner
  fills (no inline policy: HIPAA/NIST/PCI IAMNoInlinePolicy), given to the function without policy updates;
- the function: the handler asset (``handler.asset_dir()``), Python 3.14, 14 minutes (a minute of the
  framework's 15 left for its bookkeeping), 256 MB, in the private subnets, its own log group, reserved
  concurrency only when asked (accounts with a limit of 10 cannot reserve any);
- an EKS access entry with the owner's Kubernetes rights (never cluster admin);
- a CDK Provider (``on_event`` only, no waiter) in the same subnets, with its own log group, 128 MB;
- the compliance findings that do not fit a custom-resource Lambda, acknowledged with the owner's reasons.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from .acknowledgements import acknowledge, acknowledge_each, checkov_skip
from .handler import asset_dir

#: Leaves a minute of the provider framework's 15 minutes for its own bookkeeping.
HANDLER_TIMEOUT = Duration.minutes(14)
#: The Provider framework's Lambda runs at most 15 minutes; a minute more covers its own reply.
#: Without it, a crashed framework holds the stack for CloudFormation's default hour.
CUSTOM_RESOURCE_SERVICE_TIMEOUT = Duration.minutes(16)
#: Why a custom-resource Lambda needs no dead-letter queue (cdk-nag and checkov alike).
CUSTOM_RESOURCE_DLQ_REASON = (
    "A custom-resource Lambda reports every outcome to CloudFormation (SUCCESS or FAILED with a reason) "
    "and logs it; a dead-letter queue would hold no event that CloudFormation does not already show."
)
_VPC_ACCESS = "service-role/AWSLambdaVPCAccessExecutionRole"


@dataclass(frozen=True)
class Purpose:
    """What a backend is for, in the words its resources carry (descriptions are template properties)."""

    #: The security group's description.
    description: str
    #: The ingress rule's description, on each of the cluster's security groups.
    endpoint_rule: str
    #: The function's description.
    function: str


@dataclass(frozen=True)
class Reasons:
    """The owner's words for the findings that do not fit its Lambdas (a reviewer reads them in the template)."""

    #: Serverless-LambdaTracing: why X-Ray adds nothing.
    tracing: str
    #: HIPAA/NIST LambdaConcurrency and CKV_AWS_115, when no concurrency is reserved.
    no_reserved_concurrency: str
    #: CKV_AWS_173 on the framework's Lambda: why its environment needs no customer key.
    framework_environment: str


@dataclass(frozen=True)
class HandlerLogs:
    """The backend's two log groups (handler and framework): retention, key and removal policy."""

    retention: logs.RetentionDays
    key: kms.IKey | None
    removal_policy: RemovalPolicy


class CustomResourceBackend:
    """A custom resource's backend, built in ``owner``: VPC Lambda, role, policy, logs, access entry, Provider.

    The owner creates its custom resource with :func:`custom_resource` on :attr:`service_token`, depending
    on :attr:`permissions`.
    """

    def __init__(
        self,
        owner: Construct,
        *,
        cluster: eks.ICluster,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        endpoint_security_groups: Sequence[ec2.ISecurityGroup],
        purpose: Purpose,
        function_id: str,
        handler: str,
        kubernetes_access: eks.AccessPolicy,
        permissions: Callable[[iam.IRole], Sequence[iam.PolicyStatement]],
        reserved_concurrency: int | None,
        handler_logs: HandlerLogs,
        reasons: Reasons,
        dedicated_framework_role: bool = True,
    ) -> None:
        """
        :param cluster: the cluster the handler talks to (its name names the access entry).
        :param vpc_subnets: where both Lambdas run (private subnets with egress or VPC endpoints).
        :param endpoint_security_groups: the cluster's security groups: HTTPS from the handler is allowed into each.
        :param purpose: what the handler is for, in the words its security group, ingress rule and function carry.
        :param function_id: the handler function's construct id (part of its logical id).
        :param handler: the handler string, relative to the asset (``contract.VERIFIER_HANDLER`` ...).
        :param kubernetes_access: the handler's Kubernetes rights, as an EKS access policy with its scope.
        :param permissions: the handler's AWS permissions, given its role (a statement may name the role itself).
        :param dedicated_framework_role: the framework's Lambda gets a role of ours with a customer managed
            policy (no inline policy); False keeps the framework's own role (inline policy, findings acknowledged).
        """
        stack = Stack.of(owner)
        #: Security group of the Lambdas (HTTPS out only).
        self.security_group = ec2.SecurityGroup(
            owner, "SecurityGroup", vpc=vpc, allow_all_outbound=True, description=purpose.description)
        ec2.Connections(security_groups=list(endpoint_security_groups)).allow_from(
            self.security_group, ec2.Port.tcp(443), purpose.endpoint_rule)

        vpc_access = iam.ManagedPolicy.from_aws_managed_policy_name(_VPC_ACCESS)
        #: The handler's execution role: VPC access only; its permissions are in :attr:`policy`.
        self.role = iam.Role(owner, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             managed_policies=[vpc_access])
        _acknowledge_vpc_access(self.role)
        # A customer managed policy rather than an inline one (HIPAA/NIST/PCI IAMNoInlinePolicy).
        #: The customer managed policy with the handler's AWS permissions (``permissions``).
        self.policy = iam.ManagedPolicy(owner, "HandlerPolicy", statements=list(permissions(self.role)), roles=[self.role])
        #: The handler's log group.
        self.log_group = _log_group(owner, "HandlerLogs", handler_logs)
        #: The handler Lambda (``on_event`` of the provider).
        self.function = lambda_.Function(
            owner, function_id,
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler=handler,
            code=lambda_.Code.from_asset(str(asset_dir()), exclude=["__pycache__", "*.pyc"]),
            timeout=HANDLER_TIMEOUT,
            memory_size=256,
            # Immutable here: every permission is in the managed policy, none inline.
            role=self.role.without_policy_updates(),
            vpc=vpc, vpc_subnets=vpc_subnets, security_groups=[self.security_group],
            # None by default: reserving any fails in accounts whose concurrency limit is 10.
            reserved_concurrent_executions=reserved_concurrency,
            log_group=self.log_group,
            description=purpose.function,
        )
        _acknowledge_custom_resource_lambda(self.function, reasons)
        #: The access entry giving the handler its Kubernetes rights (``kubernetes_access``).
        self.access_entry = eks.AccessEntry(owner, "AccessEntry", cluster=cluster, principal=self.role.role_arn,
                                            access_policies=[kubernetes_access])

        provider_logs = _log_group(owner, "ProviderLogs", handler_logs)
        #: The roles and policies the custom resource must depend on: a stack delete keeps them until its Delete has run.
        self.permissions: list[IConstruct] = [self.policy, self.role]
        framework_role = None
        if dedicated_framework_role:
            framework_role = self._framework_role(owner, stack, provider_logs)
        #: The CDK Provider framework serving the custom resource (``on_event`` only, no waiter).
        self.provider = cr.Provider(
            owner, "Provider",
            on_event_handler=self.function,
            log_group=provider_logs,
            framework_on_event_role=framework_role,
            vpc=vpc, vpc_subnets=vpc_subnets, security_groups=[self.security_group],
        )
        if not dedicated_framework_role:
            _acknowledge_framework_role(self.provider, self.function)
        framework: lambda_.Function = self.provider.node.find_child("framework-onEvent")  # type: ignore[assignment]
        framework_cfn: lambda_.CfnFunction = framework.node.default_child  # type: ignore[assignment]
        if reserved_concurrency is not None:
            framework_cfn.reserved_concurrent_executions = reserved_concurrency
        framework_cfn.memory_size = 128
        _acknowledge_custom_resource_lambda(framework, reasons)
        checkov_skip(framework, "CKV_AWS_173", reasons.framework_environment)
        if reserved_concurrency is None:
            for function in (self.function, framework):
                _acknowledge_no_reserved_concurrency(function, reasons.no_reserved_concurrency)

    def _framework_role(self, owner: Construct, stack: Stack, provider_logs: logs.ILogGroup) -> iam.IRole:
        """The framework Lambda's role: VPC access plus a customer managed policy (logs, invoke the handler)."""
        role = iam.Role(owner, "ProviderRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(_VPC_ACCESS)])
        _acknowledge_vpc_access(role)
        policy = iam.ManagedPolicy(owner, "ProviderPolicy", roles=[role], statements=[
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[provider_logs.log_group_arn]),
            iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                resources=[self.function.function_arn, f"{self.function.function_arn}:*"]),
        ])
        # In the verifier's words: it is the one owner with a dedicated framework role (templates unchanged).
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(self.function.node.default_child)}.Arn>:*]",
            "The CDK Provider framework invokes the verifier handler by ARN and by version/alias (ARN:*); "
            "the wildcard covers only versions of this one function.",
        )
        self.permissions += [policy, role]
        return role.without_policy_updates()

    @property
    def service_token(self) -> str:
        """The Provider's service token: what a custom resource served by this backend names."""
        return self.provider.service_token


def custom_resource(owner: Construct, *, service_token: str, resource_type: str,
                    properties: Mapping[str, str]) -> CustomResource:
    """The owner's custom resource (id ``Resource``): the contract's type and properties, answered within 16 minutes."""
    return CustomResource(owner, "Resource", service_token=service_token, resource_type=resource_type,
                          properties=dict(properties), service_timeout=CUSTOM_RESOURCE_SERVICE_TIMEOUT)


def _log_group(owner: Construct, construct_id: str, settings: HandlerLogs) -> logs.LogGroup:
    return logs.LogGroup(owner, construct_id, retention=settings.retention, encryption_key=settings.key,
                         removal_policy=settings.removal_policy)


def _acknowledge_vpc_access(role: iam.IRole) -> None:
    acknowledge(
        role,
        f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{_VPC_ACCESS}]",
        "AWSLambdaVPCAccessExecutionRole is the AWS-maintained policy a Lambda in a VPC needs to manage its "
        "network interfaces and write its logs; EC2 does not scope ENI creation to one function.",
    )


def _acknowledge_custom_resource_lambda(function: lambda_.IFunction, reasons: Reasons) -> None:
    """Findings that do not fit a custom-resource Lambda whose every outcome reaches CloudFormation."""
    acknowledge_each(function, {
        **{finding: CUSTOM_RESOURCE_DLQ_REASON
           for finding in ("HIPAA.Security-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ", "Serverless-LambdaDLQ")},
        "Serverless-LambdaTracing": reasons.tracing,
    })
    checkov_skip(function, "CKV_AWS_116", CUSTOM_RESOURCE_DLQ_REASON)


def _acknowledge_no_reserved_concurrency(function: lambda_.IFunction, reason: str) -> None:
    acknowledge_each(function, {finding: reason for finding in ("HIPAA.Security-LambdaConcurrency",
                                                                "NIST.800.53.R5-LambdaConcurrency")})
    checkov_skip(function, "CKV_AWS_115", reason)


def _acknowledge_framework_role(provider: cr.Provider, handler: lambda_.IFunction) -> None:
    """The framework's own role (inline policy, AWS managed policies): findings that do not fit, with reasons."""
    acknowledge_each(provider, {
        **{finding: "The CDK Provider framework writes this policy itself: it lets its onEvent function "
                    "invoke exactly the handler it drives, nothing else."
           for finding in ("HIPAA.Security-IAMNoInlinePolicy", "NIST.800.53.R5-IAMNoInlinePolicy",
                           "PCI.DSS.321-IAMNoInlinePolicy")},
        **{f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{managed}]":
           f"{managed} is the AWS-maintained policy the Provider framework's functions need to write their logs "
           "and, in a VPC, manage their network interfaces."
           for managed in ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole")},
        f"AwsSolutions-IAM5[Resource::<{Stack.of(provider).get_logical_id(handler.node.default_child)}.Arn>:*]":
            "The CDK Provider framework invokes its functions by ARN and by version/alias (ARN:*); the "
            "wildcard covers only versions of that one function.",
    })
