"""The option space (issue 20): every combination synthesizes what a real deploy accepts, or is refused.

The app's context keys pairwise (tests/option_space.py) plus the library's constructs with non-default
props. Each accepted combination must synthesize with its compliance packs; each refused one must be
refused naming the field. Every template then goes through the service-constraints checker
(scripts/constraints.py), cfn-lint (once, over all of them) and the lifecycle model: a failure injected
at every resource of a first deploy must roll back clean. Everything is synthesized once per session.
"""
from __future__ import annotations

import functools
from itertools import combinations
from typing import Any

import pytest

from stacks.settings import CONTEXT_KEYS
from tests import option_space as space
from tests.helpers import REPO, load_module
from tests.lifecycle import scenarios

APP = [f"app-{i:02d}" for i in range(len(space.app_combinations()))]
REFUSED = [f"refused-{i:02d}" for i in range(len(space.REFUSED))]
LIBRARY = [f"lib-{name}" for name in space.LIBRARY_CASES]
SYNTHESIZED = APP + LIBRARY


@functools.lru_cache(maxsize=None)
def _constraints() -> Any:
    return load_module("constraints", REPO / "scripts" / "constraints.py")


def result(name: str) -> space.Synthesized:
    return space.outcome(name)


def _describe(outcome: space.Synthesized) -> str:
    return " ".join(f"-c {k}={v}" for k, v in outcome.context.items()) or outcome.name


@pytest.fixture(scope="module")
def lint() -> dict[str, list[dict[str, Any]]]:
    if not (space.SCAN_BIN / "cfn-lint").exists():
        pytest.fail("cfn-lint is in the scanners' virtualenv: run `make scan-deps` (`make test` does)")
    return space.cfn_lint({name: result(name) for name in SYNTHESIZED})


# --------------------------------------------------------------------------- the generator
def test_pairwise_covers_every_feasible_pair_of_values() -> None:
    rows = space.app_combinations()
    assert space.uncovered_pairs(rows) == []
    assert len(rows) >= 40, f"{len(rows)} app combinations"
    assert all(space.accepted(row) for row in rows)
    # Each key takes every one of its values somewhere (None: left out).
    for key, values in space.APP_OPTIONS.items():
        assert {row.get(key) for row in rows} == set(values), key
    # And each pair of two values the app accepts together is feasible unless a third key forbids it.
    feasible = space.feasible_pairs()
    for a, b in combinations(space.KEYS, 2):
        assert any(p[0] == a and p[2] == b for p in feasible), (a, b)


def test_every_context_key_and_every_refusal_rule_is_in_the_space() -> None:
    assert set(space.APP_OPTIONS) == set(CONTEXT_KEYS)
    refused_fields = {name for _, name in space.REFUSED}
    assert {rule[-1] for rule in space.REFUSAL_RULES} <= refused_fields
    for context, _ in space.REFUSED:
        assert set(context) <= set(CONTEXT_KEYS)


# --------------------------------------------------------------------------- synthesis or refusal
@pytest.mark.e2e
@pytest.mark.parametrize("name", APP)
def test_accepted_combination_synthesizes_with_its_packs(name: str) -> None:
    outcome = result(name)
    assert not outcome.error, f"{_describe(outcome)} crashed:\n{outcome.error}"
    assert not outcome.problems, f"{_describe(outcome)} was refused:\n" + "\n".join(map(str, outcome.problems))
    assert outcome.templates


@pytest.mark.parametrize("name", REFUSED)
def test_fails_on_a_refused_combination_naming_field_value_and_fix(name: str) -> None:
    outcome = result(name)
    context, field = space.REFUSED[REFUSED.index(name)]
    assert not outcome.error, f"{_describe(outcome)} crashed instead of refusing:\n{outcome.error}"
    assert outcome.problems, f"{_describe(outcome)} synthesized; expected a refusal naming {field}"
    assert field in [p.field for p in outcome.problems], "\n".join(map(str, outcome.problems))
    for problem in outcome.problems:
        assert problem.field in CONTEXT_KEYS and problem.fix, str(problem)
        assert str(problem).startswith(f"-c {problem.field}="), str(problem)


@pytest.mark.e2e
@pytest.mark.parametrize("name", LIBRARY)
def test_library_case_synthesizes_with_every_pack(name: str) -> None:
    outcome = result(name)
    assert not outcome.error, f"{name} crashed:\n{outcome.error}"
    assert not outcome.problems, f"{name} was refused:\n" + "\n".join(map(str, outcome.problems))
    assert outcome.templates


# --------------------------------------------------------------------------- every template
def _templates(name: str) -> list[Any]:
    outcome = result(name)
    if not outcome.templates:
        pytest.fail(f"{name} produced no template (see its synthesis test)")
    return outcome.templates


@pytest.mark.e2e
@pytest.mark.parametrize("name", SYNTHESIZED)
def test_templates_keep_the_service_constraints(name: str) -> None:
    findings = [str(f) for t in _templates(name) for f in _constraints().check_template(t.raw, t.stack_name)]
    assert findings == [], f"{_describe(result(name))}:\n" + "\n".join(findings)


@pytest.mark.e2e
@pytest.mark.parametrize("name", SYNTHESIZED)
def test_failed_first_create_at_any_resource_rolls_back_clean(name: str) -> None:
    rows = scenarios.failed_first_create(_templates(name))
    dirty = [r for r in rows if not r.clean]
    assert dirty == [], f"{_describe(result(name))}:\n" + "\n".join(
        f"- fail at {r.stack}/{r.failed_at} ({r.resource_type}): {r.status}; disallowed {r.disallowed}; "
        f"broken {r.broken}; same names again: {r.names_status}" for r in dirty[:10])


@pytest.mark.e2e
@pytest.mark.parametrize("name", SYNTHESIZED)
def test_cfn_lint_finds_no_error(name: str, lint: dict[str, list[dict[str, Any]]]) -> None:
    errors = [
        f"{stack}: {m['Rule']['Id']} {m.get('Message', '').strip()} ({'/'.join(map(str, m.get('Location', {}).get('Path') or []))})"
        for stack, matches in lint.items() if stack.startswith(f"{name}/") for m in matches
    ]
    _templates(name)
    assert errors == [], "\n".join(errors)
