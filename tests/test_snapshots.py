"""One snapshot per configuration, asset hashes normalised: catches unintended template drift.

Update on purpose only (`pytest --snapshot-update`), with the reason in the commit message.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.helpers import consumer_example_assembly, normalised, synth_bundled_app


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_default_app(snapshot_json: Any) -> None:
    (stack,) = synth_bundled_app().stacks
    assert normalised(stack.template) == snapshot_json


def test_composition_with_own_vpc_and_key_from_another_stack(snapshot_json: Any) -> None:
    assembly = consumer_example_assembly()
    templates = {name: normalised(assembly.get_stack_by_name(name).template) for name in ("SharedKey", "TeamCluster")}
    assert templates == snapshot_json


def test_key_from_another_stack_is_referenced_strongly() -> None:
    # A weak reference (Fn::GetStackOutput) resolves only while a change set executes, so every
    # change set would plan to replace the cluster, whose EncryptionConfig needs replacement.
    template = consumer_example_assembly().get_stack_by_name("TeamCluster").template
    (cluster,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::EKS::Cluster"]
    (config,) = cluster["Properties"]["EncryptionConfig"]
    assert list(config["Provider"]["KeyArn"]) == ["Fn::ImportValue"]
    assert "Fn::GetStackOutput" not in json.dumps(template)
