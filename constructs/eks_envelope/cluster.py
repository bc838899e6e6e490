"""EnvelopeEncryptedCluster: EKS on Fargate with secrets envelope-encrypted under a customer key.

The constructor reads as its steps: props (cluster_props.py), what is kept when the stack goes
(retention.py), then key, network, cluster, compute and access (cluster_steps.py), verification,
monitoring and protection (cluster_assurance.py). The parts with a life of their own live apart: the
keys (key.py), the new VPC (vpc.py), the verifier, monitoring and deletion protection.
"""
from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Fn, Names, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import cluster_assurance as assurance
from . import cluster_steps as steps
from .cluster_props import DEFAULT_KUBERNETES_VERSION, ClusterProps
from .cluster_steps import ALL_LOG_TYPES, MANAGED_ADDONS
from .key import ClusterSecretsKey
from .monitoring import EnvelopeEncryptionMonitoring
from .props import props_from, typed_props
from .protection import ClusterDeletionProtection
from .retention import Retention
from .verifier import EnvelopeEncryptionVerifier

__all__ = ["ALL_LOG_TYPES", "DEFAULT_KUBERNETES_VERSION", "MANAGED_ADDONS", "ClusterProps", "EnvelopeEncryptedCluster"]


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

    def __init__(self, scope: Construct, construct_id: str, *, props: ClusterProps | None = None, **kwargs: Any) -> None:
        """
        :param props: a ClusterProps; or, as keyword arguments, its fields (``key=..., verify=False``), not both.
            Each prop, its default and its documentation: :class:`~eks_envelope.cluster_props.ClusterProps`.
        """
        super().__init__(scope, construct_id)
        # Resolve defaults, validate every prop at once (also a given key's region), then build in order.
        props = props_from(ClusterProps, props, kwargs, owner=self)
        props.validate(stack_region=Stack.of(self).region)
        #: The props in effect: ``props``, or the keyword arguments as a ClusterProps.
        self.props = props
        #: Whether this is an ephemeral environment (destroyable, short retention); from the prop.
        self.ephemeral = props.ephemeral
        #: Every removal policy and the log retention, decided once from ephemeral, deletion_protection and verify.
        self.retention = Retention.of(ephemeral=props.ephemeral, deletion_protection=props.deletion_protection,
                                      verify=props.verify, log_retention=props.log_retention)
        name = props.cluster_name or Names.unique_resource_name(self, max_length=100, separator="-")
        steps.announce(self, props)

        keys = steps.build_key(self, props, self.retention, name)
        #: The EKS cluster (control-plane) role; it uses the secrets key through ``cluster_role_key_policy``.
        self.cluster_role: iam.Role = keys.cluster_role
        #: The ClusterSecretsKey construct created here; None when ``key`` was given (then see ``key``).
        self.secrets_key: ClusterSecretsKey | None = keys.secrets_key
        #: The managed policy that lets ``cluster_role`` use the secrets key.
        self.cluster_role_key_policy: iam.ManagedPolicy = keys.cluster_role_key_policy
        #: The KMS key encrypting Kubernetes secrets, whichever its origin: the given ``key`` or ``secrets_key.key``.
        self.key: kms.IKey = keys.key
        #: The KMS key encrypting the log groups (and the alarm topic): the given ``logs_key`` or a new one.
        self.logs_key: kms.IKey = keys.logs_key

        #: The cluster's VPC: the given ``vpc`` or a new one (vpc.py).
        self.vpc: ec2.IVpc = steps.build_network(self, props, self.retention, keys.logs_key)

        built = steps.build_cluster(self, props, self.retention, name, keys, self.vpc)
        #: The log group EKS writes the five control-plane log types to.
        self.control_plane_log_group: logs.LogGroup = built.control_plane_log_group
        #: The ``aws_eks_v2.Cluster``.
        self.cluster: eks.Cluster = built.cluster
        #: The cluster's L1 resource (``AWS::EKS::Cluster``), for escape hatches.
        self.cfn_cluster: eks.CfnCluster = built.cfn_cluster

        compute = steps.build_compute(self, props, self.retention, name, self.cluster, self.vpc)
        #: The Fargate pod execution role.
        self.pod_execution_role: iam.Role = compute.pod_execution_role
        #: The Fargate profile selecting ``fargate_namespaces`` (and the verifier's canary pod).
        self.fargate_profile: eks.FargateProfile = compute.fargate_profile
        #: The EKS managed add-ons by add-on name (coredns).
        self.addons: dict[str, eks.Addon] = compute.addons

        #: One access entry with cluster admin per ``admin_principal_arns`` entry.
        self.admin_access_entries: list[eks.AccessEntry] = steps.build_access(self, props, self.cluster)

        #: The envelope-encryption verifier; None when ``verify=False``.
        self.verifier: EnvelopeEncryptionVerifier | None = assurance.build_verification(
            self, props, self.retention, self.cluster, keys, compute)

        #: The after-deploy monitoring (schedule, alarms, key events); None when ``monitor=False``.
        self.monitoring: EnvelopeEncryptionMonitoring | None = assurance.build_monitoring(
            self, props, self.cluster, keys, self.verifier)

        #: The custom resource that switches EKS deletion protection on after a verified deploy; None when off.
        self.deletion_protection: ClusterDeletionProtection | None = assurance.build_protection(
            self, props, self.retention, self.cluster, self.verifier)

        # Expose what composers need.
        #: The EKS cluster name (a token).
        self.cluster_name: str = self.cluster.cluster_name
        #: The EKS cluster ARN (a token).
        self.cluster_arn: str = self.cluster.cluster_arn
        #: Convenience: ``key.key_arn``, the ARN of the key encrypting secrets.
        self.key_arn: str = self.key.key_arn
        #: Convenience: the alias of ``secrets_key``; None when ``key`` was given.
        self.key_alias: str | None = self.secrets_key.alias_name if self.secrets_key else None
        #: The ``aws eks update-kubeconfig`` command for this cluster (a token).
        self.kubeconfig_command: str = Fn.join(
            "", ["aws eks update-kubeconfig --name ", self.cluster.cluster_name, " --region ", Aws.REGION]
        )
