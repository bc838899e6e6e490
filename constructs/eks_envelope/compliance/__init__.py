"""``EnvelopeEncryption`` — a cdk-nag v3 rule pack for envelope-encrypted EKS on Fargate.

cdk-nag's own EKS/KMS rules see almost nothing of a native ``AWS::EKS::Cluster`` (nothing about
secrets encryption, the key policy or access entries). This pack closes that gap. Register it like
any cdk-nag v3 pack::

    cdk.Validations.of(app).add_plugins(EnvelopeEncryptionChecks(app))

A finding reads ``EnvelopeEncryption-<suffix>`` and is acknowledged on the construct that owns it,
one id at a time::

    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id="EnvelopeEncryption-EKS4", reason="...a reason a reviewer can check"))

The rules are data (:data:`RULES`, one small function per rule under ``rules/<service>.py``),
read by the pack, by :func:`evaluate`, by the README's rule list and by the report's counts. Where a
value is a token a rule cannot know (a parameter, an ``Fn::ImportValue``), the rule gives the
benefit of the doubt (COMPLIANT or NOT_APPLICABLE, as each documents) instead of throwing.

A synth with only WARNING findings passes (cdk-nag 3.0.2's base class would fail it); findings
are printed and written to ``<outdir>/validation-report.json`` either way.
"""
from __future__ import annotations

from .evaluate import Finding, evaluate
from .pack import EnvelopeEncryptionChecks
from .rule import PACK_NAME, Rule
from .rules import RULES

__all__ = ["RULES", "EnvelopeEncryptionChecks", "Finding", "Rule", "evaluate"]
