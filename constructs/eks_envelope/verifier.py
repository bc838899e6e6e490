"""EnvelopeEncryptionVerifier: a custom resource that proves envelope encryption after each deploy.

It takes what it needs of the cluster (name, role ARN, VPC, security groups), so a cluster built here
and one imported from its attributes are verified alike; ``cluster=`` (an ``eks.Cluster``) still works,
deprecated. Its VPC Lambda, role, logs and Provider come from ``custom_resource.py``; what it tells the
handler is ``contract.VerificationProperties``.
"""
from __future__ import annotations

import datetime
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from aws_cdk import Annotations, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IDependable

from .acknowledgements import acknowledge
from .contract import (
    CANARY_NAMESPACE,
    CLOUDTRAIL_WAIT_SECONDS,
    POD_IMAGE,
    POD_TIMEOUT_SECONDS,
    VERIFICATION_RESOURCE_TYPE,
    VERIFIER_HANDLER,
    VerificationProperties,
)
from .custom_resource import HANDLER_TIMEOUT, CustomResourceBackend, HandlerLogs, Purpose, Reasons, custom_resource
from .props import Props, props_from, typed_props
from .validation import EnvelopeConfigError, Problem, Problems, check_cluster_name, check_principal_arns

__all__ = ["EnvelopeEncryptionVerifier", "EnvelopeEncryptionVerifierProps", "VerifierOptions", "DEFAULT_POD_IMAGE",
           "HANDLER_TIMEOUT", "NAMESPACE_ACCESS_POLICY", "POD_TIMEOUT_SECONDS", "CLOUDTRAIL_WAIT_SECONDS"]

#: The canary pod's image (needs ``sh``, ``sha256sum`` and ``cut``); the contract holds it.
DEFAULT_POD_IMAGE = POD_IMAGE
#: The Kubernetes rights the verifier needs: Secrets and Pods in one namespace, nothing cluster-wide.
NAMESPACE_ACCESS_POLICY = "AmazonEKSEditPolicy"
#: The annotation id of the ``cluster=`` deprecation (``Annotations.acknowledge_warning`` takes it).
CLUSTER_ARGUMENT_DEPRECATED = "eks-envelope:verifier-cluster-argument-deprecated"

_PURPOSE = Purpose(
    description="Envelope-encryption verifier: HTTPS to the EKS API endpoint and AWS APIs",
    endpoint_rule="Envelope-encryption verifier to the Kubernetes API",
    function="Proves EKS secrets are envelope-encrypted with the customer key",
)
_REASONS = Reasons(
    tracing="Runs once per deploy; each stage's timing and call counts go to structured logs and the "
            "custom resource's Summary, so X-Ray would add cost and permissions without new insight.",
    no_reserved_concurrency=(
        "No reserved concurrency by default (VerifierOptions.reserved_concurrency=None): Lambda refuses a "
        "reservation that leaves fewer than 100 unreserved, and new or sandbox accounts have a limit of 10. "
        "The function runs once per deploy (and per scheduled check)."),
    framework_environment="Its only environment variable is USER_ON_EVENT_FUNCTION_ARN, the handler's ARN: nothing "
                          "secret to encrypt with a customer key.",
)


@typed_props
@dataclass(frozen=True)
class VerifierOptions:
    """How the post-deploy envelope-encryption verification runs.

    Every default of the verifier is here or in the wire contract (``contract.VerificationProperties``:
    pod timeout, CloudTrail wait, canary labels); the handler gets them all as required resource properties.

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
@dataclass(frozen=True)
class EnvelopeEncryptionVerifierProps(Props):
    """The props of :class:`EnvelopeEncryptionVerifier`, as one frozen object."""

    #: the cluster to verify.
    cluster_name: str
    #: the cluster's IAM role: the key must grant it, and CloudTrail shows its KMS calls.
    cluster_role_arn: str
    #: the key the cluster must envelope-encrypt secrets with.
    key: kms.IKey
    #: the cluster's VPC; the verifier's Lambdas run in ``vpc_subnets`` of it.
    vpc: ec2.IVpc
    #: the security groups guarding the cluster's API endpoint (``cluster.connections.security_groups``);
    #: HTTPS from the verifier is allowed into each.
    cluster_security_groups: Sequence[ec2.ISecurityGroup]
    #: which optional stages run. :default: - ``VerifierOptions()``: pod check on, CloudTrail off
    options: VerifierOptions = VerifierOptions()
    #: the cluster's ARN (the verifier's IAM policy names it).
    #: :default: - formatted from ``cluster_name`` in this stack's account and region
    cluster_arn: str | None = None
    #: where the verifier's Lambdas run. :default: - the VPC's private subnets with egress
    vpc_subnets: ec2.SubnetSelection | None = None
    #: what must exist first (the cluster, its Fargate profile, add-ons). :default: - nothing else
    wait_for: Sequence[IDependable] = ()
    #: handler log retention. :default: one year
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    #: key encrypting the handler's log groups. :default: - CloudWatch Logs' own encryption
    logs_key: kms.IKey | None = None
    #: of the handler's log groups.
    #: :default: RETAIN_ON_UPDATE_OR_DELETE (kept on stack delete, removed when a first deploy rolls back)
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE

    def check(self, problems: Problems) -> None:
        check_cluster_name(problems, "cluster_name", self.cluster_name)
        check_principal_arns(problems, "cluster_role_arn", [self.cluster_role_arn])
        if not self.cluster_security_groups:
            problems.add("cluster_security_groups", self.cluster_security_groups,
                         "give the cluster's security groups (cluster.connections.security_groups): without one the "
                         "verifier cannot reach the Kubernetes API endpoint")


@typed_props
class EnvelopeEncryptionVerifier(Construct):
    """Runs the envelope-encryption checks on Create and on each Update that changes cluster or key.

    A Lambda in the cluster's private subnets (CDK Provider framework, ``on_event`` only) checks the
    cluster's encryption config and key, writes and reads a canary Secret through the API server,
    optionally reads it from a Fargate pod and looks for KMS calls in CloudTrail. A failed check
    fails the deploy with a reason; Delete always succeeds.

    The same function can also serve ``ClusterDeletionProtection`` (see ``protection.py``):
    :meth:`serve_deletion_protection` allows it ``eks:UpdateClusterConfig`` on this one cluster.

    Kubernetes rights come from an access entry with ``AmazonEKSEditPolicy`` scoped to the
    ``default`` namespace: never cluster admin, and no kubectl Lambda.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: EnvelopeEncryptionVerifierProps | None = None,
        cluster: eks.ICluster | None = None,
        **kwargs: Any,
    ) -> None:
        """
        :param props: an EnvelopeEncryptionVerifierProps, or its fields as keyword arguments (not both); each is
            documented there.
        :param cluster: deprecated: give ``cluster_name``, ``cluster_role_arn``, ``vpc`` and
            ``cluster_security_groups`` instead (and ``cluster_arn``, ``wait_for=[cluster, ...]`` to keep the
            template as it was). Read for what the keyword arguments leave out; an imported cluster has no role.
            Not with ``props``. :default: - none
        """
        super().__init__(scope, construct_id)
        if cluster is not None:
            kwargs = self._read_deprecated_cluster(cluster, props, kwargs)
        props = props_from(EnvelopeEncryptionVerifierProps, props, kwargs, owner=self, missing_fixes=_MISSING_FIXES)
        props.validate()
        #: The props in effect: ``props``, or the keyword arguments as an EnvelopeEncryptionVerifierProps.
        self.props = props
        options = props.options
        # Strict CloudTrail mode needs the look-up itself.
        uses_cloudtrail = options.cloudtrail_check or options.cloudtrail_required
        # EKS's own support calendar for the cluster's version (read-only; the API takes no cluster).
        unscoped = ["eks:DescribeClusterVersions", *(["cloudtrail:LookupEvents"] if uses_cloudtrail else [])]

        # The access entry names the cluster; an import by name is all it reads (no resource, no lookup).
        named = eks.Cluster.from_cluster_attributes(self, "Cluster", cluster_name=props.cluster_name)
        self._cluster_arn = props.cluster_arn or named.cluster_arn
        backend = CustomResourceBackend(
            self, cluster=named, vpc=props.vpc,
            vpc_subnets=props.vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            endpoint_security_groups=props.cluster_security_groups, purpose=_PURPOSE, function_id="Handler",
            handler=VERIFIER_HANDLER,
            kubernetes_access=eks.AccessPolicy.from_access_policy_name(
                NAMESPACE_ACCESS_POLICY, access_scope_type=eks.AccessScopeType.NAMESPACE, namespaces=[CANARY_NAMESPACE]),
            permissions=lambda _role: self._permissions(props.key, unscoped),
            reserved_concurrency=options.reserved_concurrency,
            handler_logs=HandlerLogs(props.log_retention, props.logs_key, props.removal_policy),
            reasons=_REASONS,
        )
        #: Security group of the verifier Lambda in the cluster's private subnets (HTTPS out only).
        self.security_group = backend.security_group
        #: The verifier Lambda's execution role.
        self.role = backend.role
        #: The managed policy with the verifier's AWS permissions (scoped to this cluster and key).
        self.policy = backend.policy
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            f"{' and '.join(unscoped)}: no resource-level permissions (AWS service authorization reference: "
            "no resource type), so only '*' can be granted. Read-only: EKS's support dates for the "
            "cluster's version" + (", and CloudTrail evidence of KMS use." if uses_cloudtrail else "."),
        )
        #: The verifier Lambda's log group.
        self.log_group = backend.log_group
        #: The verifier Lambda (``on_event`` of the provider).
        self.function = backend.function
        #: The access entry giving the verifier ``AmazonEKSEditPolicy`` in the canary namespace only.
        self.access_entry = backend.access_entry
        #: The CDK Provider framework serving the custom resource.
        self.provider = backend.provider

        #: The contract object sent to the handler; scheduled runs (monitoring) send the same, marked scheduled.
        self.verification_properties = VerificationProperties(
            cluster_name=props.cluster_name,
            key_arn=props.key.key_arn,
            cluster_role_arn=props.cluster_role_arn,
            pod_check=options.pod_check,
            pod_image=options.pod_image,
            cloudtrail_check=uses_cloudtrail,
            cloudtrail_required=options.cloudtrail_required,
            # A new value each synth makes CloudFormation send an Update on every deploy.
            run_nonce=datetime.datetime.now(datetime.timezone.utc).isoformat() if options.rerun_on_every_deploy else None,
        )
        #: What the verification is told, as CloudFormation properties (``verification_properties.to_properties()``).
        self.properties = self.verification_properties.to_properties()
        #: The ``Custom::EnvelopeEncryptionVerification`` custom resource.
        self.resource = custom_resource(self, service_token=backend.service_token,
                                        resource_type=VERIFICATION_RESOURCE_TYPE, properties=self.properties)
        # The ingress rules to the API endpoint live under the cluster's security groups: depend on them too.
        self.resource.node.add_dependency(*props.cluster_security_groups, self.access_entry, *props.wait_for)
        # Nothing in the template ties the resource to the policies that let the framework invoke
        # the handler and the handler do its work: without these, a stack delete may remove them
        # while the handler's Delete still runs.
        self.resource.node.add_dependency(*backend.permissions)

        #: Token of the resource's ``Verified`` attribute: set once envelope encryption was proven.
        self.verified = self.resource.get_att_string("Verified")
        #: Token of the resource's ``Summary`` attribute: what each stage found.
        self.summary = self.resource.get_att_string("Summary")

    def serve_deletion_protection(self) -> str:
        """Let the handler switch this cluster's deletion protection; returns the service token to use.

        Granted only where a ``ClusterDeletionProtection`` exists: UpdateClusterConfig is broad
        (it could also open the endpoint), so a verifier on its own never holds it.
        """
        self.policy.add_statements(
            iam.PolicyStatement(actions=["eks:UpdateClusterConfig", "eks:DescribeUpdate"], resources=[self._cluster_arn])
        )
        return self.provider.service_token

    def _permissions(self, key: kms.IKey, unscoped: list[str]) -> list[iam.PolicyStatement]:
        """The handler's AWS permissions: this cluster, this key, its own stack; '*' only where AWS has no resource."""
        return [
            iam.PolicyStatement(actions=["eks:DescribeCluster"], resources=[self._cluster_arn]),
            # Its own stack's status: an update rollback to a state verified earlier is not re-verified,
            # and a protection resource deleted by a rollback turns protection off instead of refusing.
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[Stack.of(self).stack_id]),
            iam.PolicyStatement(
                actions=["kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:ListGrants"], resources=[key.key_arn]
            ),
            iam.PolicyStatement(actions=unscoped, resources=["*"]),
        ]

    def _read_deprecated_cluster(self, cluster: eks.ICluster, props: EnvelopeEncryptionVerifierProps | None,
                                 given: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments with what ``cluster=`` gave before it was deprecated; those given explicitly win."""
        message = (
            "EnvelopeEncryptionVerifier(cluster=...) is deprecated: give cluster_name, cluster_role_arn, vpc and "
            "cluster_security_groups instead, e.g. cluster_name=c.cluster_name, cluster_role_arn=c.role.role_arn, "
            "vpc=c.vpc, cluster_security_groups=c.connections.security_groups, cluster_arn=c.cluster_arn, "
            "wait_for=[c, ...] (the same template). cluster= will be removed in the next major version."
        )
        warnings.warn(message, DeprecationWarning, stacklevel=_callers_level())
        Annotations.of(self).add_warning_v2(CLUSTER_ARGUMENT_DEPRECATED, message)
        if props is not None:
            raise EnvelopeConfigError([Problem(
                "cluster", cluster.node.path,
                "give either props=EnvelopeEncryptionVerifierProps(...) or the deprecated cluster=, not both: "
                "the props object holds the cluster's name, role ARN, VPC and security groups")])
        try:
            role = cluster.role  # type: ignore[attr-defined]  # an eks.Cluster has one; an imported ICluster not
        except Exception:
            role = None
        read = {
            "cluster_name": cluster.cluster_name,
            "cluster_arn": cluster.cluster_arn,
            "cluster_role_arn": role.role_arn if role is not None else None,
            "vpc": cluster.vpc,
            "cluster_security_groups": cluster.connections.security_groups,
        }
        filled = {name: value for name, value in read.items() if given.get(name) is None and value is not None}
        # Before: the resource depended on the whole cluster construct (its ingress rules included).
        return {**given, **filled, "wait_for": (cluster, *given.get("wait_for", ()))}


def _callers_level() -> int:
    """The ``stacklevel`` of the first frame outside this package and jsii: the line that passed ``cluster=``."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE_DIR) or "jsii" in Path(frame.f_code.co_filename).parts):
        frame, level = frame.f_back, level + 1
    return level


_PACKAGE_DIR = str(Path(__file__).resolve().parent)

#: What each required prop needs when neither a keyword argument nor the deprecated ``cluster=`` gives it.
_MISSING_FIXES = {
    "cluster_name": "give the cluster's name (cluster.cluster_name)",
    "cluster_role_arn": "give the cluster role's ARN (cluster.role.role_arn; for a cluster built elsewhere, "
                        "roleArn of aws eks describe-cluster)",
    "vpc": "give the cluster's VPC: the verifier's Lambdas run in its private subnets",
    "cluster_security_groups": "give the cluster's security groups (cluster.connections.security_groups): HTTPS "
                               "from the verifier is allowed into each",
}
