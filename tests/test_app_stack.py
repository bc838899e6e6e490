"""The bundled app's stack: what it adds around the construct (context to settings is tests/test_first_hour.py)."""
from __future__ import annotations

import json
from typing import Any

from tests.helpers import bundled_template, construct_template


def test_outputs_name_key_alias_and_kubeconfig() -> None:
    outputs = bundled_template().to_json()["Outputs"]
    assert {"ClusterName", "SecretsKeyArn", "SecretsKeyAlias", "KubeconfigCommand"} <= set(outputs)
    command = json.dumps(outputs["KubeconfigCommand"]["Value"])
    assert "aws eks update-kubeconfig --name " in command and "--region " in command


def _without_pack_metadata(resources: dict[str, Any]) -> dict[str, Any]:
    """Resources without the packs' copy of their acknowledgements (Metadata.cdk_nag); CDK's version
    reporting (CDKMetadata) left out, as it lists the construct classes used (the app's CfnOutput too)."""
    out = {}
    for logical_id, resource in resources.items():
        if logical_id == "CDKMetadata":
            continue
        metadata = {k: v for k, v in resource.get("Metadata", {}).items() if k != "cdk_nag"}
        out[logical_id] = {**{k: v for k, v in resource.items() if k != "Metadata"}, **({"Metadata": metadata} if metadata else {})}
    return out


def test_default_app_stack_is_the_construct_with_the_apps_cluster_name() -> None:
    """So the construct tests on a bare stack (tests/test_cluster.py, tests/test_key.py) hold for the app's stack."""
    app = bundled_template().to_json()["Resources"]
    bare = construct_template(cluster_name="eks-envelope").to_json()["Resources"]
    assert _without_pack_metadata(app) == _without_pack_metadata(bare)
