"""The Kubernetes client: an EKS bearer token and a minimal REST client pinned to the cluster's CA.

``client`` decides what a request means and what to retry; ``transport`` makes one attempt over a kept-alive
TLS connection. The rest of the handler imports the client's names from here (``from .. import kube``).
"""
from .client import (
    CLEANUP_POLICY,
    KINDS,
    MAX_BODY_BYTES,
    TOKEN_PREFIX,
    KubeClient,
    KubeError,
    RetryPolicy,
    make_token,
    pinned_context,
    sts_endpoint,
)

__all__ = ["CLEANUP_POLICY", "KINDS", "MAX_BODY_BYTES", "TOKEN_PREFIX", "KubeClient", "KubeError", "RetryPolicy",
           "make_token", "pinned_context", "sts_endpoint"]
