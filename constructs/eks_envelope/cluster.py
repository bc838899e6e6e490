"""EnvelopeEncryptedCluster: EKS on Fargate with secrets envelope-encrypted under a customer key."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from aws_cdk import Annotations, Aws, Duration, Fn, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from .key import CLUSTER_ROLE_KEY_ACTIONS, ClusterSecretsKey, check_break_glass_arns
from .monitoring import EnvelopeEncryptionMonitoring, MonitoringOptions, check_monitoring
from .markers import CANARY_LABEL_KEY, CANARY_LABEL_VALUE, CANARY_NAMESPACE, EPHEMERAL_METADATA_KEY
from .nag import acknowledge, checkov_skip
from .verifier import EnvelopeEncryptionVerifier
from .validation import (
    MAX_FARGATE_SELECTORS,
    Problems,
    check_choice,
    check_cidrs,
    check_cluster_name,
    check_int_range,
    check_key_arn,
    check_namespaces,
    check_principal_arns,
)

#: Every Kubernetes version this aws-cdk-lib knows, from 1.28 on (all API data envelope-encrypted).
KNOWN_KUBERNETES_VERSIONS = tuple(
    sorted(
        (name[1:].replace("_", ".") for name in dir(eks.KubernetesVersion) if name.startswith("V1_")),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
)
SUPPORTED_KUBERNETES_VERSIONS = tuple(v for v in KNOWN_KUBERNETES_VERSIONS if int(v.split(".")[1]) >= 28)
#: Newest version this aws-cdk-lib knows and EKS offers in standard support (checked 2026-11-28).
DEFAULT_KUBERNETES_VERSION = "1.36"
#: Versions older than these are in EKS extended support (six times the control-plane price).
STANDARD_SUPPORT_VERSIONS = ("1.34", "1.35", "1.36")

ALL_LOG_TYPES = (
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
)

#: EKS managed add-ons; CoreDNS runs on Fargate so a node-less cluster resolves DNS.
MANAGED_ADDONS = {
    "VpcCni": ("vpc-cni", None),
    "KubeProxy": ("kube-proxy", None),
    "CoreDns": ("coredns", {"computeType": "Fargate"}),
}


@dataclass(frozen=True)
class VerifierOptions:
    """How the post-deploy envelope-encryption verification runs.

    :param pod_check: prove a pod on Fargate reads the canary secret (about a minute per deploy).
    :param cloudtrail_check: look up KMS calls on the key by the cluster role in CloudTrail (never fails a deploy).
    :param rerun_on_every_deploy: re-run even when neither the cluster nor the key changed.
    :param pod_image: image of the canary pod; it needs ``sh``, ``sha256sum`` and ``cut``.
    :param reserved_concurrency: reserved concurrency of the verifier's two Lambdas; ``None`` reserves
        none (needed in accounts whose Lambda concurrency limit is 10, where any reservation fails).
    """

    pod_check: bool = True
    cloudtrail_check: bool = False
    rerun_on_every_deploy: bool = False
    pod_image: str = "public.ecr.aws/docker/library/busybox:stable"
    reserved_concurrency: int | None = 2


class EnvelopeEncryptedCluster(Construct):
    """An EKS cluster on Fargate whose Kubernetes secrets are envelope-encrypted with a customer key.

    Secure by default: a private API endpoint, all five control-plane log types to an encrypted log
    group, access entries (authentication mode API) with no cluster-creator admin, deletion
    protection, a retained key with rotation, and a verifier that proves envelope encryption after
    every deploy. ``ephemeral=True`` trades retention for a clean, cheap teardown.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey | None = None,
        key_alias: str | None = None,
        key_admin_arns: Sequence[str] = (),
        vpc: ec2.IVpc | None = None,
        max_azs: int = 2,
        nat_gateways: int = 1,
        kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
        cluster_name: str | None = None,
        fargate_namespaces: Sequence[str] = ("serverless",),
        admin_principal_arns: Sequence[str] = (),
        public_access_cidrs: Sequence[str] = (),
        allow_public_endpoint_from_anywhere: bool = False,
        deletion_protection: bool | None = None,
        ephemeral: bool = False,
        log_retention: logs.RetentionDays | None = None,
        logs_key: kms.IKey | None = None,
        deploy_principal: iam.IPrincipal | None = None,
        verify: bool = True,
        verifier_options: VerifierOptions | None = None,
        monitor: bool = True,
        monitoring: MonitoringOptions | None = None,
        alarm_email: str | None = None,
        alarm_topic: sns.ITopic | None = None,
        key_lock: bool = False,
        key_lock_break_glass_arns: Sequence[str] = (),
    ) -> None:
        """
        :param key: the secrets key. :default: - a new ClusterSecretsKey with rotation, retained
        :param key_alias: alias of the new key. :default: - ``alias/<cluster name>-secrets``
        :param key_admin_arns: IAM ARNs that administer (not use) the new key. :default: - none
        :param vpc: the VPC. :default: - a new VPC: public + private subnets, ``max_azs`` AZs, flow logs
        :param max_azs: AZs of the new VPC (EKS needs 2). :default: 2
        :param nat_gateways: NAT gateways of the new VPC. :default: 1
        :param kubernetes_version: e.g. "1.36". :default: the newest in EKS standard support
        :param cluster_name: EKS cluster name. :default: - derived from the construct path
        :param fargate_namespaces: namespaces whose pods run on Fargate. :default: ["serverless"]
        :param admin_principal_arns: IAM roles/users given cluster admin through access entries. :default: - none
        :param public_access_cidrs: CIDRs allowed to the public endpoint. :default: - no public endpoint
        :param allow_public_endpoint_from_anywhere: required to accept 0.0.0.0/0. :default: False
        :param deletion_protection: EKS deletion protection. :default: - on, off when ephemeral
        :param ephemeral: destroyable and cheap (key deleted after 7 days, log groups removed). :default: False
        :param log_retention: retention of the log groups. :default: - one year, one week when ephemeral
        :param logs_key: key encrypting the log groups. :default: - a new key for logs only
        :param deploy_principal: principal that creates the cluster. :default: - the CDK CloudFormation execution role
        :param verify: attach the envelope-encryption verifier. :default: True
        :param verifier_options: how the verifier runs. :default: - pod check on, CloudTrail off
        :param monitor: watch the cluster after the deploy (scheduled verification, alarms, key-tamper
            events, one topic). :default: True
        :param monitoring: schedule, look-back, metrics, Config rule.
            :default: - hourly verification (off when ephemeral or verify=False), 24 h look-back
        :param alarm_email: e-mail address subscribed to the alarm topic. :default: - none
        :param alarm_topic: your topic for every alarm and key event. :default: - a new KMS-encrypted topic
        :param key_lock: deny ScheduleKeyDeletion, DisableKey and PutKeyPolicy on the new key to all but
            the break-glass roles (and the deploying principal). :default: False
        :param key_lock_break_glass_arns: IAM role ARNs that keep those actions; required with key_lock. :default: - none
        """
        super().__init__(scope, construct_id)
        # Resolve defaults.
        verifier_options = verifier_options or VerifierOptions()
        if deletion_protection is None:
            deletion_protection = not ephemeral
        if log_retention is None:
            log_retention = logs.RetentionDays.ONE_WEEK if ephemeral else logs.RetentionDays.ONE_YEAR
        removal = RemovalPolicy.DESTROY if ephemeral else RemovalPolicy.RETAIN
        name = cluster_name or Names.unique_resource_name(self, max_length=100, separator="-")
        self.ephemeral = ephemeral

        # Validate everything before building anything.
        problems = Problems()
        check_choice(problems, "kubernetes_version", kubernetes_version, SUPPORTED_KUBERNETES_VERSIONS)
        check_cluster_name(problems, "cluster_name", cluster_name)
        canary_selectors = 1 if verify and verifier_options.pod_check else 0
        check_namespaces(
            problems, "fargate_namespaces", list(fargate_namespaces),
            max_count=MAX_FARGATE_SELECTORS - 1 - canary_selectors,
        )
        check_principal_arns(problems, "admin_principal_arns", list(admin_principal_arns))
        check_principal_arns(problems, "key_admin_arns", list(key_admin_arns))
        check_cidrs(
            problems, "public_access_cidrs", list(public_access_cidrs),
            allow_anywhere=allow_public_endpoint_from_anywhere,
        )
        if vpc is None:
            check_int_range(problems, "max_azs", max_azs, low=2, high=6)
            # One NAT gateway per AZ at most; bound by max_azs only when max_azs itself is valid.
            azs_valid = isinstance(max_azs, int) and not isinstance(max_azs, bool) and 2 <= max_azs <= 6
            check_int_range(problems, "nat_gateways", nat_gateways, low=0, high=max_azs if azs_valid else 6)
            if nat_gateways == 0 and verify:
                # The new VPC has no endpoints: without NAT the verifier cannot reach EKS/KMS and
                # Fargate cannot pull the canary image, so the deploy would hang until the Lambda timeout.
                problems.add(
                    "nat_gateways", nat_gateways,
                    "the verifier and Fargate need outbound access from the private subnets: give at least 1, "
                    "or bring a VPC with endpoints (vpc=...), or set verify=False",
                )
        if key is not None:
            if key_alias or key_admin_arns:
                problems.add(
                    "key_alias/key_admin_arns", key_alias or list(key_admin_arns),
                    "these shape a new key; with your own key, manage its alias and admins where the key is defined",
                )
            # A key given as an ARN string (Key.from_key_arn) is checked for alias and region.
            if not Token.is_unresolved(key.key_arn):
                check_key_arn(problems, "key", key.key_arn, stack_region=Stack.of(self).region)
        if monitor:
            monitoring = monitoring or MonitoringOptions(
                schedule=None if ephemeral or not verify else Duration.hours(1)
            )
            check_monitoring(problems, monitoring, alarm_email=alarm_email, alarm_topic=alarm_topic, verify=verify)
        elif alarm_email or alarm_topic:
            problems.add("alarm_email/alarm_topic", alarm_email or alarm_topic, "alarms need monitoring: set monitor=True (context monitoring=true)")
        if key_lock and key is not None:
            problems.add("key_lock", key_lock, "lock your own key where its policy is defined; key_lock shapes a new key")
        elif key_lock:
            check_break_glass_arns(problems, key_lock_break_glass_arns)
        if key_lock_break_glass_arns and not key_lock:
            problems.add("key_lock_break_glass_arns", list(key_lock_break_glass_arns), "set key_lock=True too, or drop them")
        problems.raise_if_any()

        if kubernetes_version not in STANDARD_SUPPORT_VERSIONS:
            Annotations.of(self).add_warning_v2(
                "eks-envelope:extended-support",
                f"Kubernetes {kubernetes_version} is past EKS standard support: the control plane costs six "
                f"times more in extended support. Plan an upgrade to {DEFAULT_KUBERNETES_VERSION}.",
            )
        if public_access_cidrs:
            Annotations.of(self).add_warning_v2(
                "eks-envelope:public-endpoint",
                f"The Kubernetes API endpoint is public for {', '.join(public_access_cidrs)}.",
            )

        # Build.
        self.cluster_role = iam.Role(
            self,
            "ClusterRole",
            assumed_by=iam.ServicePrincipal("eks.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")],
        )
        acknowledge(
            self.cluster_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy]",
            "AmazonEKSClusterPolicy is the AWS-maintained policy EKS requires on the cluster role; "
            "AWS updates it as EKS needs change.",
        )

        self.secrets_key: ClusterSecretsKey | None = None
        if key is None:
            self.secrets_key = ClusterSecretsKey(
                self,
                "SecretsKey",
                alias=key_alias or f"{name}-secrets",
                admins=[iam.ArnPrincipal(arn) for arn in key_admin_arns],
                deploy_principal=deploy_principal,
                removal_policy=removal,
                pending_window=Duration.days(7) if ephemeral else Duration.days(30),
            )
            self.secrets_key.grant_cluster_role(self.cluster_role)
            if key_lock:
                self.secrets_key.lock(key_lock_break_glass_arns)
            key = self.secrets_key.key
        else:
            # A key we do not own: its policy must delegate to IAM (the account-root statement).
            iam.ManagedPolicy(
                self,
                "ClusterRoleKeyPolicy",
                roles=[self.cluster_role],
                statements=[iam.PolicyStatement(actions=list(CLUSTER_ROLE_KEY_ACTIONS), resources=[key.key_arn])],
            )
        self.key = key

        if logs_key is None:
            logs_key = _logs_key(self, removal)
        self.logs_key = logs_key
        if ephemeral:
            # Tells the compliance pack that deleting these with the stack is intended.
            for owned_key in (self.secrets_key.key if self.secrets_key else None, logs_key):
                if isinstance(owned_key, kms.Key):
                    owned_key.node.default_child.add_metadata(EPHEMERAL_METADATA_KEY, True)

        self.vpc = vpc or self._new_vpc(max_azs, nat_gateways, logs_key, log_retention, removal)

        # EKS writes control-plane logs to this group name; creating it first gives it a retention
        # and encryption that EKS's own auto-created group would not have.
        self.control_plane_log_group = logs.LogGroup(
            self,
            "ControlPlaneLogs",
            log_group_name=f"/aws/eks/{name}/cluster",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=removal,
        )

        endpoint = eks.EndpointAccess.PRIVATE
        if public_access_cidrs:
            endpoint = eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*public_access_cidrs)

        self.cluster = eks.Cluster(
            self,
            "Resource",
            cluster_name=name,
            version=eks.KubernetesVersion.of(kubernetes_version),
            # A capacity type with zero capacity turns off both Auto Mode and the default node group.
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            default_capacity=0,
            secrets_encryption_key=key,
            role=self.cluster_role,
            vpc=self.vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            endpoint_access=endpoint,
            cluster_logging=list(ALL_LOG_TYPES),
            bootstrap_cluster_creator_admin_permissions=False,
            # Managed add-ons below replace the self-managed ones EKS would otherwise install.
            bootstrap_self_managed_addons=False,
            removal_policy=removal,
        )
        self.cfn_cluster: eks.CfnCluster = self.cluster.node.default_child  # type: ignore[assignment]
        self.cfn_cluster.deletion_protection = deletion_protection
        self.cfn_cluster.node.add_dependency(self.control_plane_log_group)
        if ephemeral:
            self.cfn_cluster.add_metadata(EPHEMERAL_METADATA_KEY, True)

        self.pod_execution_role = iam.Role(
            self,
            "PodExecutionRole",
            assumed_by=iam.ServicePrincipal(
                "eks-fargate-pods.amazonaws.com",
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{Aws.PARTITION}:eks:{Aws.REGION}:{Aws.ACCOUNT_ID}:fargateprofile/{name}/*"
                        )
                    }
                },
            ),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSFargatePodExecutionRolePolicy")
            ],
        )
        acknowledge(
            self.pod_execution_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSFargatePodExecutionRolePolicy]",
            "AmazonEKSFargatePodExecutionRolePolicy is the AWS-maintained policy Fargate needs to pull images "
            "from ECR; trust is limited to this cluster's Fargate profiles by aws:SourceArn.",
        )

        selectors = [eks.Selector(namespace=ns) for ns in fargate_namespaces]
        selectors.append(eks.Selector(namespace="kube-system"))
        if canary_selectors:
            selectors.append(
                eks.Selector(namespace=CANARY_NAMESPACE, labels={CANARY_LABEL_KEY: CANARY_LABEL_VALUE})
            )
        self.fargate_profile = eks.FargateProfile(
            self,
            "FargateProfile",
            cluster=self.cluster,
            selectors=selectors,
            pod_execution_role=self.pod_execution_role,
            vpc=self.vpc,
            subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            removal_policy=removal,
        )

        self.addons: dict[str, eks.Addon] = {}
        for addon_id, (addon_name, configuration) in MANAGED_ADDONS.items():
            addon = eks.Addon(
                self,
                addon_id,
                cluster=self.cluster,
                addon_name=addon_name,
                configuration_values=configuration,
                removal_policy=removal,
            )
            # CoreDNS pods only schedule once kube-system has a Fargate profile.
            addon.node.add_dependency(self.fargate_profile)
            self.addons[addon_name] = addon

        self.admin_access_entries = [
            eks.AccessEntry(
                self,
                # Ids from the ARN, not the list position: reordering must not replace entries.
                f"Admin{hashlib.sha256(arn.encode()).hexdigest()[:8]}",
                cluster=self.cluster,
                principal=arn,
                access_policies=[
                    eks.AccessPolicy.from_access_policy_name(
                        "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
                    )
                ],
            )
            for arn in admin_principal_arns
        ]

        self.verifier: EnvelopeEncryptionVerifier | None = None
        if verify:
            self.verifier = EnvelopeEncryptionVerifier(
                self,
                "Verifier",
                cluster=self.cluster,
                key=key,
                options=verifier_options,
                wait_for=[self.fargate_profile, *self.addons.values()],
                log_retention=log_retention,
                logs_key=logs_key,
                removal_policy=removal,
            )

        self.monitoring: EnvelopeEncryptionMonitoring | None = None
        if monitor:
            self.monitoring = EnvelopeEncryptionMonitoring(
                self,
                "Monitoring",
                cluster_name=self.cluster.cluster_name,
                cluster_role_arn=self.cluster_role.role_arn,
                key=key,
                key_alias=self.secrets_key.alias_name if self.secrets_key else None,
                verifier_function=self.verifier.function if self.verifier else None,
                verifier_role=self.verifier.role if self.verifier else None,
                verifier_properties=self.verifier.properties if self.verifier else None,
                options=monitoring,
                alarm_email=alarm_email,
                alarm_topic=alarm_topic,
                ephemeral=ephemeral,
            )

        # Expose what composers need.
        self.cluster_name: str = self.cluster.cluster_name
        self.cluster_arn: str = self.cluster.cluster_arn
        self.key_arn: str = key.key_arn
        self.key_alias: str | None = self.secrets_key.alias_name if self.secrets_key else None
        self.kubeconfig_command: str = Fn.join(
            "", ["aws eks update-kubeconfig --name ", self.cluster.cluster_name, " --region ", Aws.REGION]
        )

    def _new_vpc(
        self,
        max_azs: int,
        nat_gateways: int,
        logs_key: kms.IKey,
        retention: logs.RetentionDays,
        removal: RemovalPolicy,
    ) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                # Public subnets hold the NAT gateways (with their own Elastic IPs): nothing placed
                # there gets a public address by accident.
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False
                ),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19
                ),
            ],
        )
        _skip_checkov_on_default_sg_provider(self)
        for subnet in vpc.public_subnets:
            for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(
                    subnet.node.find_child("DefaultRoute"),
                    f"{pack}-VPCNoUnrestrictedRouteToIGW",
                    "The public subnets exist for the NAT gateway's route to the internet; workloads and the "
                    "API endpoint sit in private subnets, which route to the NAT gateway, never to the IGW.",
                )
        flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=retention, encryption_key=logs_key, removal_policy=removal
        )
        flow_log_role = iam.Role(
            self, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com")
        )
        iam.ManagedPolicy(
            self,
            "FlowLogPolicy",
            roles=[flow_log_role],
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogGroups",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[flow_log_group.log_group_arn],
                )
            ],
        )
        vpc.add_flow_log(
            "FlowLog",
            # Immutable: CDK would otherwise add an inline policy next to the managed one.
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, flow_log_role.without_policy_updates()),
        )
        return vpc


def _logs_key(scope: Construct, removal: RemovalPolicy) -> kms.Key:
    """A key for this construct's log groups only, so reading logs never implies reading secrets."""
    key = kms.Key(
        scope,
        "LogsKey",
        description="Encrypts the EKS control-plane, VPC flow and verifier log groups",
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
    return key


def _skip_checkov_on_default_sg_provider(scope: Construct) -> None:
    """CDK's own provider that strips the VPC default security group's rules (a stack singleton).

    Keeping it is worth more than the three checks it misses: it closes the default security group.
    """
    provider = Stack.of(scope).node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    if provider is None:
        return
    handler = provider.node.find_child("Handler")
    for check_id, reason in (
        ("CKV_AWS_115", "CDK's provider that closes the VPC default security group runs only during deploys, "
                        "invoked by CloudFormation; there is no load for a concurrency limit to cap."),
        ("CKV_AWS_116", "CDK's default-security-group provider is invoked only by CloudFormation, which records "
                        "every failure; a dead-letter queue would have no consumer."),
        ("CKV_AWS_117", "CDK's default-security-group provider calls only the EC2 API; inside the VPC it would "
                        "depend on the NAT gateway of the very VPC it is configuring."),
    ):
        checkov_skip(handler, check_id, reason)
