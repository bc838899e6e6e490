"""One snapshot per configuration, asset hashes normalised: catches unintended template drift.

Update on purpose only (`pytest --snapshot-update`), with the reason in the commit message.
"""
from __future__ import annotations

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
