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
    from .cluster import (
        DEFAULT_KUBERNETES_VERSION,
        SUPPORTED_KUBERNETES_VERSIONS,
        EnvelopeEncryptedCluster,
        VerifierOptions,
    )
    from .existing import EnvelopeEncryptionForExistingCluster
    from .key import ClusterSecretsKey
    from .contract import VERIFICATION_RESOURCE_TYPE
    from .validation import EnvelopeConfigError

#: Public name -> the module defining it.
_EXPORTS = {
    "DEFAULT_KUBERNETES_VERSION": ".cluster",
    "SUPPORTED_KUBERNETES_VERSIONS": ".cluster",
    "EnvelopeEncryptedCluster": ".cluster",
    "VerifierOptions": ".cluster",
    "EnvelopeEncryptionForExistingCluster": ".existing",
    "ClusterSecretsKey": ".key",
    "VERIFICATION_RESOURCE_TYPE": ".contract",
    "EnvelopeConfigError": ".validation",
}

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "SUPPORTED_KUBERNETES_VERSIONS",
    "ClusterSecretsKey",
    "EnvelopeConfigError",
    "EnvelopeEncryptedCluster",
    "EnvelopeEncryptionForExistingCluster",
    "VERIFICATION_RESOURCE_TYPE",
    "VerifierOptions",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
