"""EnvelopeEncryptedCluster: EKS on Fargate with secrets envelope-encrypted under a customer key.

Over 400 lines because it is one constructor read top to bottom: resolve defaults, validate every
prop at once, then build in dependency order. The parts with a life of their own live apart: the
keys (key.py), the new VPC (vpc.py), the verifier, monitoring and deletion protection.
"""
from __future__ import annotations

import hashlib
import re
from typing import Sequence

from aws_cdk import Annotations, Aws, Duration, Fn, Names, ReferenceStrength, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from .key import (
    new_logs_key,
    ClusterSecretsKey,
    acknowledge_create_grant_control,
    check_break_glass_arns,
    grant_key_use,
)
from .contract import CANARY_LABEL_KEY, CANARY_LABEL_VALUE, CANARY_NAMESPACE, EPHEMERAL_METADATA_KEY
from .monitoring import EnvelopeEncryptionMonitoring, MonitoringOptions, check_monitoring
from .acknowledgements import MIN_ACKNOWLEDGEMENT_REASON, acknowledge, guard_suppress
from .protection import ClusterDeletionProtection
from .support import DEFAULT_SUPPORT_TYPE, SUPPORT_TYPES, cdk_names, support_warning, version_problem
from .verifier import EnvelopeEncryptionVerifier, VerifierOptions
from .vpc import endpoints_without_nat, new_vpc
from .props import typed_props
from .validation import (
    MAX_FARGATE_SELECTORS,
    Problems,
    check_choice,
    check_cidrs,
    check_availability_zones,
    is_open_to_anywhere,
    check_cluster_name,
    check_int_range,
    check_key_arn,
    check_namespaces,
    check_principal_arns,
)

#: The newest version aws-cdk-lib names and EKS offers in standard support (facts.py holds the
#: dated calendar; any 1.N from 1.28 up is accepted, see support.version_problem).
DEFAULT_KUBERNETES_VERSION = "1.36"

#: Retentions under the year Control Tower's CT.CLOUDWATCH.PR.2 asks of a log group.
_SHORTER_THAN_A_YEAR = frozenset({
    logs.RetentionDays.ONE_DAY, logs.RetentionDays.THREE_DAYS, logs.RetentionDays.FIVE_DAYS,
    logs.RetentionDays.ONE_WEEK, logs.RetentionDays.TWO_WEEKS, logs.RetentionDays.ONE_MONTH,
    logs.RetentionDays.TWO_MONTHS, logs.RetentionDays.THREE_MONTHS, logs.RetentionDays.FOUR_MONTHS,
    logs.RetentionDays.FIVE_MONTHS, logs.RetentionDays.SIX_MONTHS,
})

ALL_LOG_TYPES = (
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
)

#: EKS managed add-ons; CoreDNS runs on Fargate so a node-less cluster resolves DNS. Not vpc-cni and
#: kube-proxy: DaemonSets for EC2 nodes that never schedule on Fargate, where each pod's networking and
#: kube-proxy come with its Fargate node; they only add a version to keep compatible at every cluster
#: upgrade (docs/design/addons.md).
MANAGED_ADDONS = {
    "CoreDns": ("coredns", {"computeType": "Fargate"}),
}


@typed_props
class EnvelopeEncryptedCluster(Construct):
    """An EKS cluster on Fargate whose Kubernetes secrets are envelope-encrypted with a customer key.

    Secure by default: a private API endpoint, all five control-plane log types to an encrypted log
    group, access entries (authentication mode API) with no cluster-creator admin, deletion
    protection, a retained key with rotation, and a verifier that proves envelope encryption after
    every deploy. ``ephemeral=True`` trades retention for a clean, cheap teardown.

    One name per thing: ``key`` is the key that encrypts secrets, whatever its origin;
    ``secrets_key`` is the ClusterSecretsKey construct only when this construct created it;
    ``key_arn`` and ``key_alias`` are conveniences over those two. Every public attribute is
    documented where it is set (``#:``).
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
        availability_zones: Sequence[str] | None = None,
        nat_gateways: int = 1,
        kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
        support_type: str = DEFAULT_SUPPORT_TYPE,
        cluster_name: str | None = None,
        fargate_namespaces: Sequence[str] = ("serverless",),
        admin_principal_arns: Sequence[str] = (),
        public_access_cidrs: Sequence[str] = (),
        allow_public_endpoint_from_anywhere: bool | str = False,
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
        :param availability_zones: AZ names of the new VPC (2 to 6), instead of the first ``max_azs``.
            EKS refuses control-plane subnets in the AZ IDs use1-az3, usw1-az2 and cac1-az3: where
            your account maps a name to one of those, name others here. :default: - the first ``max_azs``
        :param nat_gateways: NAT gateways of the new VPC. 0 gives the new VPC the VPC endpoints Fargate and the
            verifier need instead (ECR, S3, STS, Logs, EKS, KMS, ...; billed per AZ-hour, docs/cost.md); the
            canary pod's image must then be in private ECR. :default: 1
        :param kubernetes_version: e.g. "1.36". :default: the newest in EKS standard support
        :param support_type: the cluster's UpgradePolicy: "STANDARD" (upgraded automatically at the end
            of standard support) or "EXTENDED" (kept, at six times the control-plane price).
            :default: "STANDARD" (EKS's own default would be EXTENDED)
        :param cluster_name: EKS cluster name. :default: - derived from the construct path
        :param fargate_namespaces: namespaces whose pods run on Fargate. :default: ["serverless"]
        :param admin_principal_arns: IAM roles/users given cluster admin through access entries. :default: - none
        :param public_access_cidrs: CIDRs allowed to the public endpoint. :default: - no public endpoint
        :param allow_public_endpoint_from_anywhere: required to accept 0.0.0.0/0: True, or better the reason,
            which acknowledges EnvelopeEncryption-EKS4 in the compliance report. :default: False
        :param deletion_protection: EKS deletion protection, switched on after a verified deploy (never
            in a way that blocks the rollback of a failed first deploy), so it needs verify=True. False is
            also the deliberate teardown of a production stack: protection goes off and the log groups
            become deletable. :default: - on, off when ephemeral or verify=False
        :param ephemeral: destroyable and cheap (key deleted after 7 days, log groups removed). :default: False
        :param log_retention: retention of the log groups. :default: - one year, one week when ephemeral
        :param logs_key: key encrypting the log groups. :default: - a new key for logs only
        :param deploy_principal: principal that creates the cluster. :default: - the CDK CloudFormation execution role
        :param verify: attach the envelope-encryption verifier. :default: True
        :param verifier_options: how the verifier runs. :default: - pod check on, CloudTrail off
        :param monitor: watch the cluster after the deploy (scheduled verification, alarms, key-tamper
            events, one topic). :default: True
        :param monitoring: schedule, look-back, metrics.
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
        # Protection is switched on by the verifier's handler after a verified deploy; set at creation it
        # would block the rollback of a failed first deploy. Without the verifier there is nobody to switch it.
        protection_asked = deletion_protection
        if deletion_protection is None:
            deletion_protection = not ephemeral and bool(verify)
        if log_retention is None:
            log_retention = logs.RetentionDays.ONE_WEEK if ephemeral else logs.RetentionDays.ONE_YEAR
        # No plain RETAIN anywhere: CloudFormation keeps RETAIN resources when it rolls back a failed
        # first deploy, which wedges the stack. Keys are kept on stack delete (RetainExceptOnCreate)
        # unless ephemeral; log groups too while deletion protection is on; everything else goes.
        kept = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        key_removal = RemovalPolicy.DESTROY if ephemeral else kept
        log_removal = kept if deletion_protection and not ephemeral else RemovalPolicy.DESTROY
        removal = RemovalPolicy.DESTROY
        name = cluster_name or Names.unique_resource_name(self, max_length=100, separator="-")
        #: Whether this is an ephemeral environment (destroyable, short retention); from the prop.
        self.ephemeral = ephemeral

        # Validate everything before building anything.
        problems = Problems()
        version_fix = version_problem(kubernetes_version)
        if version_fix:
            problems.add("kubernetes_version", kubernetes_version, version_fix)
        check_choice(problems, "support_type", support_type, SUPPORT_TYPES)
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
            allow_anywhere=bool(allow_public_endpoint_from_anywhere),
        )
        anywhere_reason = _public_from_anywhere_reason(problems, allow_public_endpoint_from_anywhere)
        if vpc is None and availability_zones is not None:
            check_availability_zones(problems, "availability_zones", list(availability_zones))
            max_azs = len(availability_zones)
        elif availability_zones is not None:
            problems.add(
                "availability_zones", list(availability_zones),
                "this shapes a new VPC; with your own vpc=..., choose the subnets' AZs where the VPC is defined",
            )
        if vpc is None:
            check_int_range(problems, "max_azs", max_azs, low=2, high=6)
            # One NAT gateway per AZ at most; bound by max_azs only when max_azs itself is valid.
            azs_valid = isinstance(max_azs, int) and not isinstance(max_azs, bool) and 2 <= max_azs <= 6
            check_int_range(problems, "nat_gateways", nat_gateways, low=0, high=max_azs if azs_valid else 6)
            if nat_gateways == 0 and verify and verifier_options.pod_check and not _pullable_without_nat(verifier_options.pod_image):
                # Without NAT the new VPC reaches AWS through endpoints only: the canary pod's image must
                # come from a private ECR repository (public.ecr.aws is pulled over the internet).
                problems.add(
                    "nat_gateways", nat_gateways,
                    f"without NAT the canary pod's image {verifier_options.pod_image} cannot be pulled (only private "
                    "ECR is reachable through the VPC endpoints): " + _NO_NAT_POD_ADVICE,
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
        if protection_asked is True and not verify:
            problems.add(
                "deletion_protection", protection_asked,
                "deletion protection is switched on by the verifier's handler after a verified deploy, so that a "
                "failed first deploy can still delete the cluster; keep verify=True, or leave deletion_protection "
                "unset and protect the cluster after the deploy (aws eks update-cluster-config --deletion-protection)",
            )
        problems.raise_if_any()

        support_note = support_warning(kubernetes_version, support_type)
        if support_note:
            Annotations.of(self).add_warning_v2("eks-envelope:extended-support", support_note)
        if not cdk_names(kubernetes_version):
            Annotations.of(self).add_warning_v2(
                "eks-envelope:version-unknown-to-cdk",
                f"aws-cdk-lib does not name Kubernetes {kubernetes_version} yet: the cluster asks EKS for it "
                f"through KubernetesVersion.of('{kubernetes_version}'), and the deploy fails if EKS does not "
                f"offer it in this region (`aws eks describe-cluster-versions`).",
            )
        if not admin_principal_arns:
            Annotations.of(self).add_warning_v2(
                "eks-envelope:no-admin",
                "No admin_principal_arns: nobody can use kubectl on this cluster (the creator gets no access, "
                "by design). Give your role's ARN (-c admin_principal_arns=arn:aws:iam::<account>:role/<you>) "
                "or add an access entry later.",
            )
        if anywhere_reason and any(is_open_to_anywhere(c) for c in public_access_cidrs):
            # The owner's documented opt-in (it acknowledges EnvelopeEncryption-EKS4 below): a fact, not a warning.
            Annotations.of(self).add_info(
                f"The Kubernetes API endpoint is public for {', '.join(public_access_cidrs)}, as "
                f"allow_public_endpoint_from_anywhere acknowledges: {anywhere_reason}"
            )
        elif public_access_cidrs:
            Annotations.of(self).add_warning_v2(
                "eks-envelope:public-endpoint",
                f"The Kubernetes API endpoint is public for {', '.join(public_access_cidrs)}.",
            )

        # Build.
        #: The EKS cluster (control-plane) role; it uses the secrets key through ``cluster_role_key_policy``.
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

        #: The ClusterSecretsKey construct created here; None when ``key`` was given (then see ``key``).
        self.secrets_key: ClusterSecretsKey | None = None
        if key is None:
            self.secrets_key = ClusterSecretsKey(
                self,
                "SecretsKey",
                alias=key_alias or f"{name}-secrets",
                admins=[iam.ArnPrincipal(arn) for arn in key_admin_arns],
                deploy_principal=deploy_principal,
                removal_policy=key_removal,
                pending_window=Duration.days(7) if ephemeral else Duration.days(30),
            )
            if key_lock:
                self.secrets_key.lock(key_lock_break_glass_arns)
            key = self.secrets_key.key
        elif isinstance(key, kms.Key):
            # A key of this app now encrypts EKS secrets: CT.KMS.PR.3's statement would break CreateCluster.
            acknowledge_create_grant_control(key)
        if Stack.of(key).node.path != Stack.of(self).node.path:
            # A key from another stack: a weak reference (Fn::GetStackOutput, this app's default) is
            # resolved only while a change set executes, so every change set would plan to replace
            # the cluster, whose EncryptionConfig needs replacement (aws/aws-cdk#38829). Refer to
            # it strongly (Fn::ImportValue), resolved when the change set is made.
            key = kms.Key.from_key_arn(
                self, "SecretsKeyReference", Stack.consume_reference(key.key_arn, ReferenceStrength.STRONG)
            )
        # Through the role's own policy, relying on the key policy's account-root delegation: the key
        # policy never names a role created in the same deploy (KMS may not see it yet).
        #: The managed policy that lets ``cluster_role`` use the secrets key.
        self.cluster_role_key_policy = grant_key_use(self, "ClusterRoleKeyPolicy", self.cluster_role, key.key_arn)
        #: The KMS key encrypting Kubernetes secrets, whichever its origin: the given ``key`` or ``secrets_key.key``.
        self.key = key

        if logs_key is None:
            logs_key = new_logs_key(self, key_removal)
        #: The KMS key encrypting the log groups (and the alarm topic): the given ``logs_key`` or a new one.
        self.logs_key = logs_key
        if ephemeral:
            # Tells the compliance pack that deleting these with the stack is intended.
            for owned_key in (self.secrets_key.key if self.secrets_key else None, logs_key):
                if isinstance(owned_key, kms.Key):
                    owned_key.node.default_child.add_metadata(EPHEMERAL_METADATA_KEY, True)

        endpoints: tuple[str, ...] = ()
        if vpc is None and nat_gateways == 0:
            # No NAT: Fargate and the verifier reach AWS through VPC endpoints (vpc.py; cost: docs/cost.md).
            endpoints = endpoints_without_nat(
                verify=verify,
                cloudtrail_check=verifier_options.cloudtrail_check or verifier_options.cloudtrail_required,
                scheduled=bool(monitor and monitoring is not None and monitoring.schedule is not None),
            )
        #: The cluster's VPC: the given ``vpc`` or a new one (vpc.py).
        self.vpc = vpc or new_vpc(
            self, max_azs, availability_zones, nat_gateways, logs_key, log_retention, log_removal, endpoints
        )

        # EKS writes control-plane logs to this group name; creating it first gives it a retention
        # and encryption that EKS's own auto-created group would not have.
        #: The log group EKS writes the five control-plane log types to.
        self.control_plane_log_group = logs.LogGroup(
            self,
            "ControlPlaneLogs",
            log_group_name=f"/aws/eks/{name}/cluster",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=log_removal,
        )

        endpoint = eks.EndpointAccess.PRIVATE
        if public_access_cidrs:
            endpoint = eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*public_access_cidrs)

        #: The ``aws_eks_v2.Cluster``.
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
        #: The cluster's L1 resource (``AWS::EKS::Cluster``), for escape hatches.
        self.cfn_cluster: eks.CfnCluster = self.cluster.node.default_child  # type: ignore[assignment]
        if anywhere_reason and any(is_open_to_anywhere(c) for c in public_access_cidrs):
            # The opt-in is the owner's decision: it acknowledges our pack's finding, with their reason.
            acknowledge(self.cfn_cluster, "EnvelopeEncryption-EKS4", anywhere_reason)
        if Token.is_unresolved(key.key_arn) and not (isinstance(key, kms.Key) and Stack.of(key) is Stack.of(self)):
            guard_suppress(
                self.cfn_cluster,
                "CT.EKS.PR.2",
                "Secrets are always encrypted with the given customer managed key (this construct enforces it; "
                "EnvelopeEncryption-EKS1 checks it); its ARN reaches the template through a reference from another "
                "stack, which the Guard rule cannot follow: it accepts a literal ARN or a Ref/GetAtt in the same template.",
            )
        # EKS's own default is EXTENDED: a cluster would slide silently into six-times pricing.
        self.cfn_cluster.upgrade_policy = eks.CfnCluster.UpgradePolicyProperty(support_type=support_type)
        self.cfn_cluster.node.add_dependency(self.control_plane_log_group, self.cluster_role_key_policy)
        if ephemeral:
            self.cfn_cluster.add_metadata(EPHEMERAL_METADATA_KEY, True)

        #: The Fargate pod execution role.
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
        #: The Fargate profile selecting ``fargate_namespaces`` (and the verifier's canary pod).
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

        #: The EKS managed add-ons by add-on name (coredns).
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

        #: One access entry with cluster admin per ``admin_principal_arns`` entry.
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

        #: The envelope-encryption verifier; None when ``verify=False``.
        self.verifier: EnvelopeEncryptionVerifier | None = None
        if verify:
            self.verifier = EnvelopeEncryptionVerifier(
                self,
                "Verifier",
                cluster_name=self.cluster.cluster_name,
                cluster_arn=self.cluster.cluster_arn,
                cluster_role_arn=self.cluster.role.role_arn,
                vpc=self.cluster.vpc,
                cluster_security_groups=self.cluster.connections.security_groups,
                key=key,
                options=verifier_options,
                wait_for=[self.cluster, self.fargate_profile, *self.addons.values()],
                log_retention=log_retention,
                logs_key=logs_key,
                removal_policy=log_removal,
            )

        # Before deletion protection: a monitoring resource that fails on a first deploy must still find
        # the cluster deletable on rollback.
        #: The after-deploy monitoring (schedule, alarms, key events); None when ``monitor=False``.
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
                verification=self.verifier.resource if self.verifier else None,
                options=monitoring,
                alarm_email=alarm_email,
                alarm_topic=alarm_topic,
                # The logs key already holds operational telemetry; a third key would be one more to keep.
                topic_key=logs_key if isinstance(logs_key, kms.Key) else None,
                ephemeral=ephemeral,
            )
            if self.verifier is not None and self.monitoring.verifier_attachments:
                self.verifier.resource.node.add_dependency(*self.monitoring.verifier_attachments)

        # Deletion protection: created unprotected, switched on by a resource that runs after a
        # successful verification, so a failed first deploy always rolls back (protection.py).
        #: The custom resource that switches EKS deletion protection on after a verified deploy; None when off.
        self.deletion_protection: ClusterDeletionProtection | None = None
        if self.verifier is not None and (deletion_protection or not ephemeral):
            guarded = [c for c in self.node.children if c is not self.verifier]
            self.deletion_protection = ClusterDeletionProtection(
                self,
                "DeletionProtection",
                cluster_name=self.cluster.cluster_name,
                service_token=self.verifier.serve_deletion_protection(),
                protect=deletion_protection,
                after=[self.verifier.resource, *guarded],
            )
        if not deletion_protection and not ephemeral and not verify:
            # No verifier Lambda to switch protection on after the deploy, and set at creation it would
            # keep a failed first deploy from deleting the cluster (ROLLBACK_FAILED): the cluster goes unprotected.
            acknowledge(
                self.cluster,
                "EnvelopeEncryption-EKS8",
                "verify=False: no handler switches deletion protection on after the deploy, and set at creation it "
                "would block the rollback of a failed first deploy; the synth warns (protection-without-verifier).",
            )
            Annotations.of(self).add_warning_v2(
                "eks-envelope:protection-without-verifier",
                "verify=False: the cluster has no deletion protection (the verifier's handler switches it on after "
                "a verified deploy; set at creation it would block the rollback of a failed first deploy). Keep "
                "verify=True, or protect the cluster after the deploy: aws eks update-cluster-config "
                "--name <cluster> --deletion-protection.",
            )
        elif not deletion_protection and not ephemeral:
            acknowledge(
                self.cluster,
                "EnvelopeEncryption-EKS8",
                "deletion_protection=False on a production stack is the documented, deliberate teardown path "
                "(docs/operations.md#removing-a-production-stack); deploy it only right before destroying the stack.",
            )

        if ephemeral and log_retention in _SHORTER_THAN_A_YEAR:
            # Control Tower CT.CLOUDWATCH.PR.2 asks for a year; an ephemeral environment's logs go with it.
            for log_group in self.node.find_all():
                if isinstance(log_group, logs.CfnLogGroup):
                    guard_suppress(
                        log_group,
                        "CT.CLOUDWATCH.PR.2",
                        "Ephemeral environment: its log groups are deleted with the stack, so a retention of a year "
                        "would keep nothing longer; the short retention only caps the cost while it lives.",
                    )

        # Expose what composers need.
        #: The EKS cluster name (a token).
        self.cluster_name: str = self.cluster.cluster_name
        #: The EKS cluster ARN (a token).
        self.cluster_arn: str = self.cluster.cluster_arn
        #: Convenience: ``key.key_arn``, the ARN of the key encrypting secrets.
        self.key_arn: str = key.key_arn
        #: Convenience: the alias of ``secrets_key``; None when ``key`` was given.
        self.key_alias: str | None = self.secrets_key.alias_name if self.secrets_key else None
        #: The ``aws eks update-kubeconfig`` command for this cluster (a token).
        self.kubeconfig_command: str = Fn.join(
            "", ["aws eks update-kubeconfig --name ", self.cluster.cluster_name, " --region ", Aws.REGION]
        )


#: The fixes for a canary image that cannot be pulled without NAT (the app rewrites them in context spelling).
_NO_NAT_POD_ADVICE = ("give VerifierOptions(pod_image='<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>'), "
                      "or VerifierOptions(pod_check=False), or at least 1 NAT gateway")
_PRIVATE_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


def _pullable_without_nat(image: str) -> bool:
    """An image a Fargate pod can pull through the ECR VPC endpoints: private ECR (or a token we cannot read)."""
    return Token.is_unresolved(image) or bool(_PRIVATE_ECR_IMAGE.match(image))


def _public_from_anywhere_reason(problems: Problems, opt_in: bool | str) -> str | None:
    """The acknowledgement reason the opt-in carries: the owner's own words, or a statement of the opt-in."""
    if isinstance(opt_in, str):
        if len(opt_in.strip()) < MIN_ACKNOWLEDGEMENT_REASON:
            problems.add(
                "allow_public_endpoint_from_anywhere", opt_in,
                f"give True, or the reason a reviewer reads in the compliance report "
                f"(at least {MIN_ACKNOWLEDGEMENT_REASON} characters)",
            )
            return None
        return opt_in.strip()
    if opt_in:
        return ("Opted in with allow_public_endpoint_from_anywhere (no reason given): the API endpoint accepts "
                "connections from any address; each request still needs IAM authentication and an access entry.")
    return None
