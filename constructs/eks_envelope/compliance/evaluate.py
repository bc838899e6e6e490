"""Findings without ``Validations``: the pack's rules run on an app, a stack or a synthesized template."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from aws_cdk import Acknowledgment, App, PolicyValidationPluginReport, Stack, Validations
from constructs import IConstruct

from .pack import EnvelopeEncryptionChecks, normalized_acknowledgment


@dataclass(frozen=True)
class Finding:
    """One non-compliant resource: ``rule_id`` e.g. ``EnvelopeEncryption-EKS1``; ``level`` is
    ``"error"`` or ``"warning"``; ``resource_path`` the construct path (for a template: its
    ``aws:cdk:path`` metadata, else the logical id)."""

    rule_id: str
    resource_path: str
    level: str
    description: str


def evaluate(target: IConstruct | Mapping[str, Any]) -> list[Finding]:
    """Run the pack's rules on a construct tree or a synthesized template; return the findings.

    Same rule table and code path as :class:`EnvelopeEncryptionChecks` (``validate_scope``),
    without registering a validation plugin; acknowledgments are honoured (in a template: the
    ``cdk_nag.rules_to_suppress`` metadata written by ``write_suppressions_to_cloud_formation``).
    For an app, call it after ``app.synth()`` so aspects have run; a template additionally sees
    properties set with ``add_property_override``.
    """
    if isinstance(target, Mapping):
        return _evaluate_template(target)
    return _findings(EnvelopeEncryptionChecks().validate_scope(target), rename={})


def _evaluate_template(template: Mapping[str, Any]) -> list[Finding]:
    from aws_cdk import cloudformation_include  # only templates need it: keep synth imports lean

    resources = template.get("Resources") or {}
    with tempfile.TemporaryDirectory(prefix="envelope-eval-") as workdir:
        template_file = Path(workdir) / "template.json"
        template_file.write_text(json.dumps(template))
        app = App(outdir=str(Path(workdir) / "out"))
        stack = Stack(app, "Evaluated")
        included = cloudformation_include.CfnInclude(stack, "Template", template_file=str(template_file))
        rename: dict[str, str] = {}
        for logical_id, resource in resources.items():
            construct = included.get_resource(logical_id)
            metadata = resource.get("Metadata") or {}
            rename[construct.node.path] = metadata.get("aws:cdk:path", logical_id)
            suppressions = (metadata.get("cdk_nag") or {}).get("rules_to_suppress") or []
            acknowledgments = [
                Acknowledgment(id=normalized_acknowledgment(s["id"]), reason=s.get("reason", ""))
                for s in suppressions
                if isinstance(s, dict) and isinstance(s.get("id"), str)
            ]
            if acknowledgments:
                Validations.of(construct).acknowledge(*acknowledgments)
        return _findings(EnvelopeEncryptionChecks().validate_scope(stack), rename=rename)


def _findings(report: PolicyValidationPluginReport, rename: Mapping[str, str]) -> list[Finding]:
    findings = [
        Finding(
            rule_id=violation.rule_name,
            resource_path=rename.get(resource.construct_path or "", resource.construct_path or ""),
            level=violation.severity,
            description=violation.description,
        )
        for violation in report.violations
        for resource in violation.violating_resources
    ]
    return sorted(findings, key=lambda f: (f.resource_path, f.rule_id))
