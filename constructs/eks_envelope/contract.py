"""Names shared by the constructs, the compliance pack and the verifier handler.

They are part of the public contract: templates, scanners and deployed clusters carry them.
"""
from __future__ import annotations

#: CloudFormation resource metadata key set to ``True`` on resources of an ephemeral environment.
#: The compliance pack relaxes "retained / deletion-protected" rules only where it is present.
EPHEMERAL_METADATA_KEY = "eks-envelope:ephemeral"

#: Resource type of the custom resource that proves envelope encryption after each deploy.
VERIFICATION_RESOURCE_TYPE = "Custom::EnvelopeEncryptionVerification"

#: The verifier works with namespace-scoped rights in a namespace that always exists.
CANARY_NAMESPACE = "default"

#: Only the verifier's canary objects carry this label; a Fargate selector on it runs the canary pod.
CANARY_LABEL_KEY = "eks-envelope.io/canary"
CANARY_LABEL_VALUE = "verifier"

#: Resource type of the custom resource that switches EKS deletion protection on after a verified
#: deploy (and off for a deliberate teardown). The verifier's Lambda serves it.
DELETION_PROTECTION_RESOURCE_TYPE = "Custom::ClusterDeletionProtection"

#: A scheduled verification event carries this key with this value, and no ``RequestType``:
#: the verifier's ``index.on_event`` routes it to ``scheduled.on_schedule``.
SCHEDULED_EVENT_MARKER = "eks-envelope"
SCHEDULED_EVENT_KIND = "scheduled-verification"
