"""The bundled app's compliance pack registry, registered on the app through cdk-nag v3 Validations.

Pack classes are imported when a pack is selected: an app with `compliance_packs=none` never loads cdk-nag.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from aws_cdk import App, Validations

if TYPE_CHECKING:
    import cdk_nag

#: Pack name (as in context `compliance_packs`) -> "module:class". Every pack copies acknowledgements
#: into the template metadata, so scanners downstream see the audit trail.
PACK_CLASS_PATHS: dict[str, str] = {
    "AwsSolutions": "cdk_nag:AwsSolutionsChecks",
    "HIPAA.Security": "cdk_nag:HIPAASecurityChecks",
    "NIST.800.53.R5": "cdk_nag:NIST80053R5Checks",
    "PCI.DSS.321": "cdk_nag:PCIDSS321Checks",
    "Serverless": "cdk_nag:ServerlessChecks",
    "EnvelopeEncryption": "eks_envelope.compliance:EnvelopeEncryptionChecks",
}

#: Packs that run over the synthesized templates in `make scan` rather than at synth (scripts/scan.py):
#: the AWS Control Tower proactive controls as cfn-guard rules. As a synth-time plugin they would
#: make a synth 1.86x a bare aws_eks_v2 synth (measured then; the bench target is 1.0x: docs/scan.md).
SCAN_PACKS = ("ControlTower",)
#: Every pack name context `compliance_packs` accepts, in order: the synth-time ones, then the scan-time ones.
COMPLIANCE_PACKS: tuple[str, ...] = (*PACK_CLASS_PATHS, *SCAN_PACKS)
#: Where the app records its selection in the cloud assembly, for `make scan` to read.
PACK_SELECTION_FILE = "compliance-packs.json"


def pack_class(name: str) -> type[cdk_nag.NagPack]:
    """The class of the synth-time pack ``name`` (a key of :data:`PACK_CLASS_PATHS`), imported now."""
    module, _, attribute = PACK_CLASS_PATHS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def selected(packs: Sequence[str]) -> dict[str, type[cdk_nag.NagPack]]:
    """The synth-time (cdk-nag) packs among ``packs``, by name."""
    return {name: pack_class(name) for name in packs if name not in SCAN_PACKS}


def record_selection(packs: Sequence[str], assembly_dir: str) -> None:
    """Write the selected packs into the cloud assembly, so `make scan` runs the scan-time ones chosen."""
    (Path(assembly_dir) / PACK_SELECTION_FILE).write_text(json.dumps({"packs": list(packs)}) + "\n")


def register_packs(app: App, packs: Sequence[str]) -> list[cdk_nag.NagPack]:
    """Add the named packs to ``app`` through Validations."""
    plugins = [cls(app, write_suppressions_to_cloud_formation=True) for cls in selected(packs).values()]
    if plugins:
        Validations.of(app).add_plugins(*plugins)
    return plugins
