"""The steps of EnvelopeEncryptedCluster's constructor that come after the build: verification (the proof),
monitoring (the proof kept up after the deploy) and protection (deletion protection once proven), in that
order. Like the build steps (cluster_steps.py), each takes the props, the Retention and what was built
before it, and returns what it builds in ``scope``.
"""
from __future__ import annotations

from aws_cdk import Annotations
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from .acknowledgements import acknowledge, guard_suppress
from .cluster_props import ClusterProps
from .cluster_steps import ComputeParts, KeyParts
from .monitoring import EnvelopeEncryptionMonitoring
from .protection import ClusterDeletionProtection
from .retention import Retention
from .verifier import EnvelopeEncryptionVerifier

#: Retentions under the year Control Tower's CT.CLOUDWATCH.PR.2 asks of a log group.
_SHORTER_THAN_A_YEAR = frozenset({
    logs.RetentionDays.ONE_DAY, logs.RetentionDays.THREE_DAYS, logs.RetentionDays.FIVE_DAYS,
    logs.RetentionDays.ONE_WEEK, logs.RetentionDays.TWO_WEEKS, logs.RetentionDays.ONE_MONTH,
    logs.RetentionDays.TWO_MONTHS, logs.RetentionDays.THREE_MONTHS, logs.RetentionDays.FOUR_MONTHS,
    logs.RetentionDays.FIVE_MONTHS, logs.RetentionDays.SIX_MONTHS,
})

# ---------------------------------------------------------------------------------------------
# verification


def build_verification(
    scope: Construct, props: ClusterProps, retention: Retention, cluster: eks.Cluster, keys: KeyParts, compute: ComputeParts
) -> EnvelopeEncryptionVerifier | None:
    """The verifier, once the Fargate profile and the add-ons exist; None when ``verify=False``."""
    if not props.verify:
        return None
    return EnvelopeEncryptionVerifier(
        scope,
        "Verifier",
        cluster_name=cluster.cluster_name,
        cluster_arn=cluster.cluster_arn,
        cluster_role_arn=cluster.role.role_arn,
        vpc=cluster.vpc,
        cluster_security_groups=cluster.connections.security_groups,
        key=keys.key,
        options=props.verifier_options_in_effect,
        wait_for=[cluster, compute.fargate_profile, *compute.addons.values()],
        log_retention=retention.log_retention,
        logs_key=keys.logs_key,
        removal_policy=retention.log_removal,
    )


def build_monitoring(
    scope: Construct, props: ClusterProps, cluster: eks.Cluster, keys: KeyParts, verifier: EnvelopeEncryptionVerifier | None
) -> EnvelopeEncryptionMonitoring | None:
    """Scheduled verification, alarms and key-tamper rules; None when ``monitor=False``. Built before deletion
    protection: a monitoring resource that fails on a first deploy must still find the cluster deletable."""
    if not props.monitor:
        return None
    monitoring = EnvelopeEncryptionMonitoring(
        scope,
        "Monitoring",
        cluster_name=cluster.cluster_name,
        cluster_role_arn=keys.cluster_role.role_arn,
        key=keys.key,
        key_alias=keys.secrets_key.alias_name if keys.secrets_key else None,
        verifier_function=verifier.function if verifier else None,
        verifier_role=verifier.role if verifier else None,
        verification_properties=verifier.verification_properties if verifier else None,
        verification=verifier.resource if verifier else None,
        options=props.monitoring_in_effect,
        alarm_email=props.alarm_email,
        alarm_topic=props.alarm_topic,
        # The logs key already holds operational telemetry; a third key would be one more to keep.
        topic_key=keys.logs_key if isinstance(keys.logs_key, kms.Key) else None,
        ephemeral=props.ephemeral,
    )
    if verifier is not None and monitoring.verifier_attachments:
        verifier.resource.node.add_dependency(*monitoring.verifier_attachments)
    return monitoring


# ---------------------------------------------------------------------------------------------
# protection


def build_protection(
    scope: Construct, props: ClusterProps, retention: Retention, cluster: eks.Cluster, verifier: EnvelopeEncryptionVerifier | None
) -> ClusterDeletionProtection | None:
    """Deletion protection, created unprotected and switched on by a resource that runs after a successful
    verification (protection.py), so a failed first deploy always rolls back; and what an ephemeral stack lets go."""
    protection: ClusterDeletionProtection | None = None
    protect = retention.deletion_protection
    if verifier is not None and (protect or not props.ephemeral):
        guarded = [c for c in scope.node.children if c is not verifier]
        protection = ClusterDeletionProtection(
            scope,
            "DeletionProtection",
            cluster_name=cluster.cluster_name,
            service_token=verifier.serve_deletion_protection(),
            protect=protect,
            after=[verifier.resource, *guarded],
        )
    if not protect and not props.ephemeral and not props.verify:
        # No verifier Lambda to switch protection on after the deploy, and set at creation it would
        # keep a failed first deploy from deleting the cluster (ROLLBACK_FAILED): the cluster goes unprotected.
        acknowledge(
            cluster,
            "EnvelopeEncryption-EKS8",
            "verify=False: no handler switches deletion protection on after the deploy, and set at creation it "
            "would block the rollback of a failed first deploy; the synth warns (protection-without-verifier).",
        )
        Annotations.of(scope).add_warning_v2(
            "eks-envelope:protection-without-verifier",
            "verify=False: the cluster has no deletion protection (the verifier's handler switches it on after "
            "a verified deploy; set at creation it would block the rollback of a failed first deploy). Keep "
            "verify=True, or protect the cluster after the deploy: aws eks update-cluster-config "
            "--name <cluster> --deletion-protection.",
        )
    elif not protect and not props.ephemeral:
        acknowledge(
            cluster,
            "EnvelopeEncryption-EKS8",
            "deletion_protection=False on a production stack is the documented, deliberate teardown path "
            "(docs/operations.md#removing-a-production-stack); deploy it only right before destroying the stack.",
        )
    if retention.ephemeral and retention.log_retention in _SHORTER_THAN_A_YEAR:
        # Control Tower CT.CLOUDWATCH.PR.2 asks for a year; an ephemeral environment's logs go with it.
        for log_group in scope.node.find_all():
            if isinstance(log_group, logs.CfnLogGroup):
                guard_suppress(
                    log_group,
                    "CT.CLOUDWATCH.PR.2",
                    "Ephemeral environment: its log groups are deleted with the stack, so a retention of a year "
                    "would keep nothing longer; the short retention only caps the cost while it lives.",
                )
    return protection
