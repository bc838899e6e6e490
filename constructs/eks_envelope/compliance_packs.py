"""Registering compliance packs on an app through cdk-nag v3 Validations."""
from __future__ import annotations

from typing import Sequence

import cdk_nag
from aws_cdk import App, Validations

from .compliance import EnvelopeEncryptionChecks

#: Pack name (as in context `compliance_packs`) -> class. Every pack copies acknowledgements into
#: the template metadata, so scanners downstream see the audit trail.
PACK_CLASSES: dict[str, type[cdk_nag.NagPack]] = {
    "AwsSolutions": cdk_nag.AwsSolutionsChecks,
    "HIPAA.Security": cdk_nag.HIPAASecurityChecks,
    "NIST.800.53.R5": cdk_nag.NIST80053R5Checks,
    "PCI.DSS.321": cdk_nag.PCIDSS321Checks,
    "Serverless": cdk_nag.ServerlessChecks,
    "EnvelopeEncryption": EnvelopeEncryptionChecks,
}


def selected(packs: Sequence[str]) -> dict[str, type[cdk_nag.NagPack]]:
    return {name: PACK_CLASSES[name] for name in packs}


def register_packs(app: App, packs: Sequence[str]) -> list[cdk_nag.NagPack]:
    """Add the named packs to ``app`` through Validations."""
    plugins = [pack_class(app, write_suppressions_to_cloud_formation=True) for pack_class in selected(packs).values()]
    if plugins:
        Validations.of(app).add_plugins(*plugins)
    return plugins
