"""The steps EnvelopeEncryptedCluster's constructor is made of, in the order it runs them: the build
(key, network, cluster, compute, access) here, the proof and the guards after it in cluster_assurance.py.

Each step takes the validated :class:`ClusterProps`, the :class:`Retention` decided from them and what the
steps before it built, and returns what it builds; every construct is created in ``scope`` (the cluster
construct), so construct ids and paths stay the public contract they are. No step decides a removal
policy: :class:`Retention` does.
"""
from __future__ import annotations

import hashlib
from typing import NamedTuple

from aws_cdk import Annotations, Aws, ReferenceStrength, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from .acknowledgements import acknowledge, guard_suppress
from .cluster_props import ClusterProps
from .contract import CANARY_LABEL_KEY, CANARY_LABEL_VALUE, CANARY_NAMESPACE, EPHEMERAL_METADATA_KEY
from .key import ClusterSecretsKey, acknowledge_create_grant_control, grant_key_use, new_logs_key
from .retention import Retention
from .support import cdk_names, support_warning
from .vpc import endpoints_without_nat, new_vpc

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


# ---------------------------------------------------------------------------------------------
# before building: what the synth says about the props


def announce(scope: Construct, props: ClusterProps) -> None:
    """The synth's warnings (and the note on an acknowledged public endpoint) about these props."""
    support_note = support_warning(props.kubernetes_version, props.support_type)
    if support_note:
        Annotations.of(scope).add_warning_v2("eks-envelope:extended-support", support_note)
    version = props.kubernetes_version
    if not cdk_names(version):
        Annotations.of(scope).add_warning_v2(
            "eks-envelope:version-unknown-to-cdk",
            f"aws-cdk-lib does not name Kubernetes {version} yet: the cluster asks EKS for it "
            f"through KubernetesVersion.of('{version}'), and the deploy fails if EKS does not "
            f"offer it in this region (`aws eks describe-cluster-versions`).",
        )
    if not props.admin_principal_arns:
        Annotations.of(scope).add_warning_v2(
            "eks-envelope:no-admin",
            "No admin_principal_arns: nobody can use kubectl on this cluster (the creator gets no access, "
            "by design). Give your role's ARN (-c admin_principal_arns=arn:aws:iam::<account>:role/<you>) "
            "or add an access entry later.",
        )
    cidrs = ", ".join(props.public_access_cidrs)
    if props.public_from_anywhere:
        # The owner's documented opt-in (it acknowledges EnvelopeEncryption-EKS4): a fact, not a warning.
        Annotations.of(scope).add_info(
            f"The Kubernetes API endpoint is public for {cidrs}, as "
            f"allow_public_endpoint_from_anywhere acknowledges: {props.public_from_anywhere_reason}"
        )
    elif props.public_access_cidrs:
        Annotations.of(scope).add_warning_v2("eks-envelope:public-endpoint", f"The Kubernetes API endpoint is public for {cidrs}.")


# ---------------------------------------------------------------------------------------------
# key


class KeyParts(NamedTuple):
    """The keys and who uses the secrets key."""

    cluster_role: iam.Role
    secrets_key: ClusterSecretsKey | None
    key: kms.IKey
    cluster_role_key_policy: iam.ManagedPolicy
    logs_key: kms.IKey


def build_key(scope: Construct, props: ClusterProps, retention: Retention, name: str) -> KeyParts:
    """The cluster role, the secrets key (new, or the given one) with the role's use of it, and the logs key."""
    cluster_role = iam.Role(
        scope,
        "ClusterRole",
        assumed_by=iam.ServicePrincipal("eks.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")],
    )
    acknowledge(
        cluster_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy]",
        "AmazonEKSClusterPolicy is the AWS-maintained policy EKS requires on the cluster role; "
        "AWS updates it as EKS needs change.",
    )
    secrets_key: ClusterSecretsKey | None = None
    key = props.key
    if key is None:
        secrets_key = ClusterSecretsKey(
            scope,
            "SecretsKey",
            alias=props.key_alias or f"{name}-secrets",
            admins=[iam.ArnPrincipal(arn) for arn in props.key_admin_arns],
            deploy_principal=props.deploy_principal,
            removal_policy=retention.key_removal,
            pending_window=retention.key_pending_window,
        )
        if props.key_lock:
            secrets_key.lock(props.key_lock_break_glass_arns)
        key = secrets_key.key
    elif isinstance(key, kms.Key):
        # A key of this app now encrypts EKS secrets: CT.KMS.PR.3's statement would break CreateCluster.
        acknowledge_create_grant_control(key)
    if Stack.of(key).node.path != Stack.of(scope).node.path:
        # A key from another stack: a weak reference (Fn::GetStackOutput, this app's default) is
        # resolved only while a change set executes, so every change set would plan to replace
        # the cluster, whose EncryptionConfig needs replacement (aws/aws-cdk#38829). Refer to
        # it strongly (Fn::ImportValue), resolved when the change set is made.
        key = kms.Key.from_key_arn(
            scope, "SecretsKeyReference", Stack.consume_reference(key.key_arn, ReferenceStrength.STRONG)
        )
    # Through the role's own policy, relying on the key policy's account-root delegation: the key
    # policy never names a role created in the same deploy (KMS may not see it yet).
    key_policy = grant_key_use(scope, "ClusterRoleKeyPolicy", cluster_role, key.key_arn)
    logs_key = props.logs_key or new_logs_key(scope, retention.key_removal)
    if retention.ephemeral:
        # Tells the compliance pack that deleting these with the stack is intended.
        for owned_key in (secrets_key.key if secrets_key else None, logs_key):
            if isinstance(owned_key, kms.Key):
                owned_key.node.default_child.add_metadata(EPHEMERAL_METADATA_KEY, True)
    return KeyParts(cluster_role, secrets_key, key, key_policy, logs_key)


# ---------------------------------------------------------------------------------------------
# network


def build_network(scope: Construct, props: ClusterProps, retention: Retention, logs_key: kms.IKey) -> ec2.IVpc:
    """The given VPC, or a new one (vpc.py); without NAT, with the VPC endpoints Fargate and the verifier need."""
    if props.vpc is not None:
        return props.vpc
    endpoints: tuple[str, ...] = ()
    if props.nat_gateways == 0:
        # No NAT: Fargate and the verifier reach AWS through VPC endpoints (vpc.py; cost: docs/cost.md).
        options = props.verifier_options_in_effect
        endpoints = endpoints_without_nat(
            verify=props.verify,
            cloudtrail_check=options.cloudtrail_check or options.cloudtrail_required,
            scheduled=props.monitor and props.monitoring_in_effect.schedule is not None,
        )
    return new_vpc(scope, props.new_vpc_azs, props.availability_zones, props.nat_gateways, logs_key,
                   retention.log_retention, retention.log_removal, endpoints)


# ---------------------------------------------------------------------------------------------
# cluster


class ClusterParts(NamedTuple):
    control_plane_log_group: logs.LogGroup
    cluster: eks.Cluster
    cfn_cluster: eks.CfnCluster


def build_cluster(
    scope: Construct, props: ClusterProps, retention: Retention, name: str, keys: KeyParts, vpc: ec2.IVpc
) -> ClusterParts:
    """The control-plane log group, then the cluster: private endpoint, all log types, secrets under the key."""
    # EKS writes control-plane logs to this group name; creating it first gives it a retention
    # and encryption that EKS's own auto-created group would not have.
    log_group = logs.LogGroup(
        scope,
        "ControlPlaneLogs",
        log_group_name=f"/aws/eks/{name}/cluster",
        retention=retention.log_retention,
        encryption_key=keys.logs_key,
        removal_policy=retention.log_removal,
    )
    endpoint = eks.EndpointAccess.PRIVATE
    if props.public_access_cidrs:
        endpoint = eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*props.public_access_cidrs)
    cluster = eks.Cluster(
        scope,
        "Resource",
        cluster_name=name,
        version=eks.KubernetesVersion.of(props.kubernetes_version),
        # A capacity type with zero capacity turns off both Auto Mode and the default node group.
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
        secrets_encryption_key=keys.key,
        role=keys.cluster_role,
        vpc=vpc,
        vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
        endpoint_access=endpoint,
        cluster_logging=list(ALL_LOG_TYPES),
        bootstrap_cluster_creator_admin_permissions=False,
        # Managed add-ons replace the self-managed ones EKS would otherwise install.
        bootstrap_self_managed_addons=False,
        removal_policy=retention.resource_removal,
    )
    cfn_cluster: eks.CfnCluster = cluster.node.default_child  # type: ignore[assignment]
    if props.public_from_anywhere:
        # The opt-in is the owner's decision: it acknowledges our pack's finding, with their reason.
        acknowledge(cfn_cluster, "EnvelopeEncryption-EKS4", props.public_from_anywhere_reason)
    key = keys.key
    if Token.is_unresolved(key.key_arn) and not (isinstance(key, kms.Key) and Stack.of(key) is Stack.of(scope)):
        guard_suppress(
            cfn_cluster,
            "CT.EKS.PR.2",
            "Secrets are always encrypted with the given customer managed key (this construct enforces it; "
            "EnvelopeEncryption-EKS1 checks it); its ARN reaches the template through a reference from another "
            "stack, which the Guard rule cannot follow: it accepts a literal ARN or a Ref/GetAtt in the same template.",
        )
    # EKS's own default is EXTENDED: a cluster would slide silently into six-times pricing.
    cfn_cluster.upgrade_policy = eks.CfnCluster.UpgradePolicyProperty(support_type=props.support_type)
    cfn_cluster.node.add_dependency(log_group, keys.cluster_role_key_policy)
    if retention.ephemeral:
        cfn_cluster.add_metadata(EPHEMERAL_METADATA_KEY, True)
    return ClusterParts(log_group, cluster, cfn_cluster)


# ---------------------------------------------------------------------------------------------
# compute


class ComputeParts(NamedTuple):
    pod_execution_role: iam.Role
    fargate_profile: eks.FargateProfile
    addons: dict[str, eks.Addon]


def build_compute(
    scope: Construct, props: ClusterProps, retention: Retention, name: str, cluster: eks.Cluster, vpc: ec2.IVpc
) -> ComputeParts:
    """Fargate: the pod execution role, one profile for the namespaces, kube-system and the canary, the add-ons."""
    pod_execution_role = iam.Role(
        scope,
        "PodExecutionRole",
        assumed_by=iam.ServicePrincipal(
            "eks-fargate-pods.amazonaws.com",
            conditions={
                "ArnLike": {
                    "aws:SourceArn": f"arn:{Aws.PARTITION}:eks:{Aws.REGION}:{Aws.ACCOUNT_ID}:fargateprofile/{name}/*"
                }
            },
        ),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSFargatePodExecutionRolePolicy")],
    )
    acknowledge(
        pod_execution_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSFargatePodExecutionRolePolicy]",
        "AmazonEKSFargatePodExecutionRolePolicy is the AWS-maintained policy Fargate needs to pull images "
        "from ECR; trust is limited to this cluster's Fargate profiles by aws:SourceArn.",
    )
    selectors = [eks.Selector(namespace=ns) for ns in props.fargate_namespaces]
    selectors.append(eks.Selector(namespace="kube-system"))
    if props.canary_selectors:
        selectors.append(eks.Selector(namespace=CANARY_NAMESPACE, labels={CANARY_LABEL_KEY: CANARY_LABEL_VALUE}))
    fargate_profile = eks.FargateProfile(
        scope,
        "FargateProfile",
        cluster=cluster,
        selectors=selectors,
        pod_execution_role=pod_execution_role,
        vpc=vpc,
        subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        removal_policy=retention.resource_removal,
    )
    addons: dict[str, eks.Addon] = {}
    for addon_id, (addon_name, configuration) in MANAGED_ADDONS.items():
        addon = eks.Addon(scope, addon_id, cluster=cluster, addon_name=addon_name, configuration_values=configuration,
                          removal_policy=retention.resource_removal)
        # CoreDNS pods only schedule once kube-system has a Fargate profile.
        addon.node.add_dependency(fargate_profile)
        addons[addon_name] = addon
    return ComputeParts(pod_execution_role, fargate_profile, addons)


# ---------------------------------------------------------------------------------------------
# access


def build_access(scope: Construct, props: ClusterProps, cluster: eks.Cluster) -> list[eks.AccessEntry]:
    """One access entry with cluster admin per ``admin_principal_arns`` entry."""
    return [
        eks.AccessEntry(
            scope,
            # Ids from the ARN, not the list position: reordering must not replace entries.
            f"Admin{hashlib.sha256(arn.encode()).hexdigest()[:8]}",
            cluster=cluster,
            principal=arn,
            access_policies=[
                eks.AccessPolicy.from_access_policy_name("AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER)
            ],
        )
        for arn in props.admin_principal_arns
    ]
