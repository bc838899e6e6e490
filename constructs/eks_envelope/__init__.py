"""eks_envelope: EKS on Fargate with Kubernetes secrets envelope-encrypted under your own KMS key.

The constructs load on first use, so ``eks_envelope.__version__`` and the ``eks-envelope`` command
(``eks_envelope.console``) start without aws-cdk-lib's jsii runtime and its Node.js.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: The package version; pyproject.toml reads it from here (single source).
__version__ = "0.1.0"

if TYPE_CHECKING:
    from .cluster import EnvelopeEncryptedCluster
    from .cluster_props import ClusterProps
    from .compliance import EnvelopeEncryptionChecks, evaluate
    from .existing import EnvelopeEncryptionForExistingCluster, EnvelopeEncryptionForExistingClusterProps
    from .guardrail import (
        OrganizationSecretsEncryptionGuardrail,
        OrganizationSecretsEncryptionGuardrailProps,
        SecretsEncryptionGuardrail,
        SecretsEncryptionGuardrailProps,
    )
    from .key import ClusterSecretsKey, ClusterSecretsKeyProps
    from .monitoring import EnvelopeEncryptionMonitoring, MonitoringOptions, MonitoringProps
    from .protection import ClusterDeletionProtection, ClusterDeletionProtectionProps
    from .validation import EnvelopeConfigError
    from .verifier import EnvelopeEncryptionVerifier, EnvelopeEncryptionVerifierProps, VerifierOptions

#: Public name -> the module defining it. Everything else stays importable from its module
#: (e.g. ``eks_envelope.cluster.DEFAULT_KUBERNETES_VERSION``, ``eks_envelope.contract``) but is not
#: part of the top-level surface.
_EXPORTS = {
    "EnvelopeEncryptedCluster": ".cluster",
    "ClusterProps": ".cluster_props",
    "EnvelopeEncryptionChecks": ".compliance",
    "evaluate": ".compliance",
    "EnvelopeEncryptionForExistingCluster": ".existing",
    "EnvelopeEncryptionForExistingClusterProps": ".existing",
    "SecretsEncryptionGuardrail": ".guardrail",
    "OrganizationSecretsEncryptionGuardrail": ".guardrail",
    "SecretsEncryptionGuardrailProps": ".guardrail",
    "OrganizationSecretsEncryptionGuardrailProps": ".guardrail",
    "ClusterSecretsKey": ".key",
    "ClusterSecretsKeyProps": ".key",
    "EnvelopeEncryptionMonitoring": ".monitoring",
    "MonitoringOptions": ".monitoring",
    "MonitoringProps": ".monitoring",
    "ClusterDeletionProtection": ".protection",
    "ClusterDeletionProtectionProps": ".protection",
    "EnvelopeConfigError": ".validation",
    "EnvelopeEncryptionVerifier": ".verifier",
    "EnvelopeEncryptionVerifierProps": ".verifier",
    "VerifierOptions": ".verifier",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
