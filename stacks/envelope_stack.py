"""The bundled app's stack: the library composed from validated settings, plus outputs."""
from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct
from eks_envelope import ClusterSecretsKey, EnvelopeEncryptedCluster, MonitoringOptions, VerifierOptions
from stacks.settings import AppSettings


class EnvelopeEksStack(Stack):
    """One EKS cluster on Fargate with envelope-encrypted secrets and its verifier."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: AppSettings, **kwargs: Any) -> None:
        # Stack tags: CloudFormation propagates them at deploy to every resource, including those
        # CDK's own providers create outside the construct tree. Tags.of() below also writes them
        # into the template, where reviewers and scanners see them.
        tags = {"eks-envelope:environment": settings.env_name} if settings.env_name else {}
        if settings.owner:
            tags["eks-envelope:owner"] = settings.owner
        super().__init__(
            scope,
            construct_id,
            tags=tags,
            # Off for the deliberate teardown too (deletion_protection=false), so `make destroy` can follow.
            termination_protection=not settings.ephemeral and settings.deletion_protection is not False,
            description="EKS on Fargate with secrets envelope-encrypted under a customer managed KMS key",
            **kwargs,
        )
        key: kms.IKey | None = None
        if settings.existing_key_arn:
            key = ClusterSecretsKey.from_key_arn(self, "ExistingSecretsKey", settings.existing_key_arn)

        self.envelope = EnvelopeEncryptedCluster(
            self,
            "Cluster",
            key=key,
            key_admin_arns=settings.key_admin_arns,
            cluster_name=settings.cluster_name,
            kubernetes_version=settings.kubernetes_version,
            fargate_namespaces=settings.fargate_namespaces,
            admin_principal_arns=settings.admin_principal_arns,
            public_access_cidrs=settings.public_access_cidrs,
            allow_public_endpoint_from_anywhere=settings.allow_public_endpoint_from_anywhere,
            max_azs=settings.max_azs,
            availability_zones=settings.availability_zones,
            nat_gateways=settings.nat_gateways,
            support_type=settings.support_type,
            deletion_protection=settings.deletion_protection,
            ephemeral=settings.ephemeral,
            verify=settings.verify,
            verifier_options=VerifierOptions(
                pod_check=settings.verify_pod,
                cloudtrail_check=settings.verify_cloudtrail,
                rerun_on_every_deploy=settings.verify_every_deploy,
                cloudtrail_required=settings.verify_cloudtrail_required,
                reserved_concurrency=settings.verifier_reserved_concurrency,
                **({"pod_image": settings.verifier_pod_image} if settings.verifier_pod_image else {}),
            ),
            monitor=settings.monitoring,
            monitoring=_monitoring_options(settings),
            alarm_email=settings.alarm_email,
            alarm_topic=(
                sns.Topic.from_topic_arn(self, "AlarmTopic", settings.alarm_topic_arn) if settings.alarm_topic_arn else None
            ),
            key_lock=settings.key_lock,
            key_lock_break_glass_arns=settings.key_lock_break_glass_arns,
        )

        for tag_key, tag_value in tags.items():
            Tags.of(self).add(tag_key, tag_value)

        CfnOutput(self, "ClusterName", value=self.envelope.cluster_name, description="EKS cluster name")
        CfnOutput(self, "SecretsKeyArn", value=self.envelope.key_arn, description="KMS key encrypting Kubernetes secrets")
        if self.envelope.key_alias:
            CfnOutput(self, "SecretsKeyAlias", value=self.envelope.key_alias, description="Alias of the secrets key")
        CfnOutput(
            self, "KubeconfigCommand", value=self.envelope.kubeconfig_command,
            description="Run this to point kubectl at the cluster (your principal needs an access entry)",
        )
        if self.envelope.verifier:
            CfnOutput(
                self, "EnvelopeEncryptionVerified", value=self.envelope.verifier.verified,
                description="Set by the verifier after it proved envelope encryption end to end",
            )


def _monitoring_options(settings: AppSettings) -> MonitoringOptions:
    """Context to MonitoringOptions; an unset schedule means hourly, or off in an ephemeral environment."""
    minutes = settings.verify_schedule_minutes
    if minutes is None:
        minutes = 0 if settings.ephemeral or not settings.verify else 60
    return MonitoringOptions(
        schedule=Duration.minutes(minutes) if minutes else None,
        lookback=Duration.hours(settings.verify_lookback_hours),
        secret_roundtrip=settings.verify_schedule_secret,
        config_rule=settings.config_rule,
    )
