"""What is kept when a stack goes, and for how long logs are kept: decided here, once.

No plain ``RETAIN`` anywhere: CloudFormation keeps ``RETAIN`` resources when it rolls back a failed first
deploy, which wedges the stack. Keys are kept on stack delete (``RETAIN_ON_UPDATE_OR_DELETE``, which a
failed first deploy still removes) unless the environment is ephemeral; log groups too while deletion
protection is on; everything else (cluster, Fargate profile, add-ons, aliases) goes with the stack.
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs

#: Kept on update or delete, removed when the deploy that created it rolls back.
KEPT = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE


@dataclass(frozen=True)
class Retention:
    """The removal policies and log retention of one envelope-encrypted cluster (or of one of its parts)."""

    #: Destroyable and cheap: keys deleted after 7 days, log groups removed, a week of logs.
    ephemeral: bool = False
    #: EKS deletion protection, resolved (on unless ephemeral or without the verifier that switches it on).
    deletion_protection: bool = False
    #: Retention of every log group.
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR

    @classmethod
    def of(
        cls, *, ephemeral: bool, deletion_protection: bool | None, verify: bool, log_retention: logs.RetentionDays | None
    ) -> Retention:
        """Resolve the props' defaults: protection needs the verifier's handler to switch it on after a
        verified deploy (set at creation it would block the rollback of a failed first deploy)."""
        return cls(
            ephemeral=ephemeral,
            deletion_protection=(not ephemeral and verify) if deletion_protection is None else deletion_protection,
            log_retention=log_retention if log_retention is not None else (
                logs.RetentionDays.ONE_WEEK if ephemeral else logs.RetentionDays.ONE_YEAR),
        )

    @property
    def key_removal(self) -> RemovalPolicy:
        """KMS keys: kept, unless ephemeral."""
        return RemovalPolicy.DESTROY if self.ephemeral else KEPT

    @property
    def key_pending_window(self) -> Duration:
        """How long a deleted key waits: the shortest KMS allows when ephemeral, else the longest."""
        return Duration.days(7) if self.ephemeral else Duration.days(30)

    @property
    def log_removal(self) -> RemovalPolicy:
        """Log groups: kept while deletion protection is on (and not ephemeral); a deliberate teardown removes them."""
        return KEPT if self.deletion_protection and not self.ephemeral else RemovalPolicy.DESTROY

    @property
    def resource_removal(self) -> RemovalPolicy:
        """The cluster, its Fargate profile and add-ons: never kept (deletion protection guards the cluster)."""
        return RemovalPolicy.DESTROY
