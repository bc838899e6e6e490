"""The configurations issue 9 asserts lifecycle outcomes for, synthesized once each per session."""
from __future__ import annotations

from typing import Any

from tests.helpers import consumer_example_assembly, synth_bundled_app
from tests.lifecycle.model import Template

#: Same context as tests/test_environments.py, so the synthesized assembly is shared.
EPHEMERAL = {"env_name": "pr-42", "ephemeral": "true"}
#: The documented production teardown (README "Removing a production stack").
TEARDOWN = {"deletion_protection": "false"}
COMPOSITION_STACKS = ("SharedKey", "TeamCluster")


def _templates(assembly: Any, names: tuple[str, ...] | None = None) -> list[Template]:
    stacks = [assembly.get_stack_by_name(n) for n in names] if names else list(assembly.stacks)
    return [Template(s.stack_name, s.template, termination_protection=bool(s.termination_protection)) for s in stacks]


def bundled(**context: str) -> list[Template]:
    return _templates(synth_bundled_app(**context))


def composition() -> list[Template]:
    """examples/consumer/consumer_app.py: a key stack, then a cluster stack importing the key (the assembly the
    Control Tower tests scan: one synth per session)."""
    return _templates(consumer_example_assembly(), COMPOSITION_STACKS)


CONFIGURATIONS = {
    "default": lambda: bundled(),
    "ephemeral": lambda: bundled(**EPHEMERAL),
    "composition": composition,
    "teardown": lambda: bundled(**TEARDOWN),
}
