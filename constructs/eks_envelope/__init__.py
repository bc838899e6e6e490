"""eks_envelope: EKS on Fargate with Kubernetes secrets envelope-encrypted under your own KMS key."""
from __future__ import annotations

from .cluster import (
    DEFAULT_KUBERNETES_VERSION,
    SUPPORTED_KUBERNETES_VERSIONS,
    EnvelopeEncryptedCluster,
    VerifierOptions,
)
from .existing import EnvelopeEncryptionForExistingCluster  # noqa: F401 - opt-in: not in the default app
from .key import ClusterSecretsKey
from .markers import VERIFICATION_RESOURCE_TYPE
from .validation import EnvelopeConfigError

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "SUPPORTED_KUBERNETES_VERSIONS",
    "ClusterSecretsKey",
    "EnvelopeConfigError",
    "EnvelopeEncryptedCluster",
    "VERIFICATION_RESOURCE_TYPE",
    "VerifierOptions",
]
