"""Issue 9's lifecycle outcomes, asserted in the model (model.py) over the synthesized templates.

Configurations: the default app (production posture), the ephemeral app, the composition example
(examples/consumer), and the production teardown variant (``-c deletion_protection=false``).

Every outcome here failed on the templates as they were before issue 9's template changes (checked
when the tests were written: 19 of 22 failed; the issue's note lists which and why).
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

from eks_envelope.validation import EnvelopeConfigError
from tests.lifecycle import scenarios
from tests.lifecycle.configs import CONFIGURATIONS
from tests.lifecycle.model import TEARDOWN_HINT, VERIFICATION_TYPE, Template

def templates_of(name: str) -> list[Template]:
    try:
        return CONFIGURATIONS[name]()
    except EnvelopeConfigError as err:
        pytest.fail(f"configuration {name!r} does not synthesize: {err}")


def _param(name: str, *marks: Any) -> Any:
    return pytest.param(name, marks=list(marks), id=name)


@pytest.mark.parametrize("config", [
    _param("default"), _param("ephemeral"), _param("composition"), _param("teardown"),
])
def test_no_resource_keeps_a_plain_retain_policy(config: str) -> None:
    retained = [
        f"{t.stack_name}/{r.logical_id} ({r.type})"
        for t in templates_of(config) for r in t.resources.values() if r.deletion_policy == "Retain"
    ]
    assert retained == []


def _table(rows: list[scenarios.FailedCreate], keep: Callable[[scenarios.FailedCreate], bool]) -> str:
    lines = []
    for row in rows:
        if keep(row):
            lines.append(
                f"- fail at {row.stack}/{row.failed_at} ({row.resource_type}): {row.status}; "
                f"disallowed survivors {row.disallowed}; broken {row.broken}; "
                f"same names again: {row.names_status} {row.names_reasons[:1]}; first reasons {row.reasons[:2]}"
            )
    return "\n".join(lines)


@pytest.mark.parametrize("config", [
    _param("default"), _param("ephemeral"), _param("composition"), _param("teardown"),
])
def test_failed_first_create_at_any_resource_rolls_back_and_the_names_are_free_again(config: str) -> None:
    rows = scenarios.failed_first_create(templates_of(config))
    assert rows, "no resources"
    assert all(r.clean for r in rows), "\n" + _table(rows, lambda r: not r.clean)


@pytest.mark.parametrize("config", [
    _param("default"), _param("ephemeral"), _param("composition"),
])
def test_make_deploy_after_a_failed_first_create_succeeds(config: str) -> None:
    rows = scenarios.failed_first_create(templates_of(config))
    failed = [r for r in rows if r.redeploy_status != "CREATE_COMPLETE"]
    assert failed == [], "\n" + "\n".join(
        f"- fail at {r.failed_at}: redeploy {r.redeploy_status}: {r.redeploy_reasons[:1]}" for r in failed
    )


@pytest.mark.parametrize("config", [_param("default"), _param("composition")])
def test_production_delete_is_refused_while_protected_with_a_clear_message(config: str) -> None:
    templates = templates_of(config)
    if templates[-1].termination_protection:
        refused = scenarios.plain_delete(templates)
        assert refused.reasons == [
            f"Stack [{templates[-1].stack_name}] cannot be deleted while TerminationProtection is enabled"
        ]
    # Even with termination protection turned off by hand, the protected cluster stays.
    removal = scenarios.plain_delete(templates, lift_termination_protection=True)
    assert removal.status == "DELETE_FAILED"
    assert any(r.startswith("DELETE_FAILED") and TEARDOWN_HINT in r for r in removal.reasons), removal.reasons
    assert removal.cluster.get("status") == "ACTIVE" and removal.cluster.get("protected") is True


def test_teardown_path_removes_everything_but_the_two_keys() -> None:
    removal = scenarios.teardown(templates_of("default"), templates_of("teardown"))
    assert removal.status == "DELETE_COMPLETE", "\n".join(removal.steps + removal.reasons)
    assert len(removal.survivors) == 2 and all("(AWS::KMS::Key) [kept]" in s for s in removal.survivors), removal.survivors
    assert removal.broken == []
    assert removal.redeploy_status == "CREATE_COMPLETE", removal.redeploy_reasons


def test_ephemeral_destroy_leaves_only_the_two_keys_pending_deletion() -> None:
    removal = scenarios.plain_delete(templates_of("ephemeral"))
    assert removal.status == "DELETE_COMPLETE", "\n".join(removal.reasons)
    assert len(removal.survivors) == 2 and all("(AWS::KMS::Key) [pending deletion]" in s for s in removal.survivors)
    assert removal.broken == []
    assert removal.redeploy_status == "CREATE_COMPLETE", removal.redeploy_reasons


@pytest.mark.parametrize("config", [
    _param("default"), _param("ephemeral"), _param("composition"),
])
def test_update_whose_verification_fails_rolls_back_without_reverifying(config: str) -> None:
    status, reasons = scenarios.verification_update_rollback(templates_of(config))
    assert status == "UPDATE_ROLLBACK_COMPLETE", reasons


@pytest.mark.parametrize("config", [
    _param("default"), _param("ephemeral"), _param("composition"),
    _param("teardown"),
])
def test_verification_delete_always_reaches_its_handler(config: str) -> None:
    template = templates_of(config)[-1]
    assert template.of_type(VERIFICATION_TYPE), "no verification resource"
    gaps = scenarios.handler_delete_gaps(template)
    assert gaps == {lid: [] for lid in gaps}
