"""The library spells no wire name itself: property names and resource types come from ``contract`` (issue 23).

A string spelled on both sides drifts (``CLUSTER_ROLE_KEY_ACTIONS`` did). The names are read from the contract
itself (every key its ``to_properties()`` / ``to_event()`` can write, every resource type), then every string
constant of every library module is compared with them; docstrings are prose and not read. Static (ast), so it
costs no synth.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO
from verifier import contract

LIBRARY = REPO / "constructs" / "eks_envelope"
#: Modules that may spell the names: the contract's own re-export, and the command line (its program name
#: is the package's, which is also the scheduled marker's key).
EXEMPT = {"contract.py", "console.py", "handler.py"}
#: Contract names that are also AWS's own and spelled in the library for that: the CloudWatch dimension
#: ``ClusterName`` of the alarms, EKS's ``EncryptionConfig.Provider.KeyArn`` read by the compliance pack.
#: Every properties dict of ours carries a distinctive name too, so none escapes through these two.
AWS_NAMES = {"ClusterName", "KeyArn"}


def wire_names() -> set[str]:
    """Every name the contract puts on the wire: property keys, the scheduled marker, the resource types."""
    verification = contract.VerificationProperties("c", "k", "r", run_nonce="n", metric_namespace="m")
    names = set(verification.to_properties())
    names |= set(contract.ScheduledVerification(verification).to_event())
    names |= set(contract.ProtectionProperties("c", True).to_properties())
    names |= set(contract.AssociationProperties("c", "k", page_size=contract.DEFAULT_PAGE_SIZE + 1).to_properties())
    names |= {getattr(contract, n) for n in contract.__all__ if n.endswith("_RESOURCE_TYPE")}
    return names


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def spelled(source: str, names: set[str]) -> list[str]:
    """``line N: 'Name'`` for each string constant (docstrings aside) that is one of ``names``."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    return sorted(f"line {node.lineno}: {node.value!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
                  and node.value in names)


def _modules() -> list[pytest.param]:
    params = []
    for module in sorted(LIBRARY.rglob("*.py")):
        name = module.relative_to(LIBRARY).as_posix()
        if name in EXEMPT or name.startswith("_handler/"):
            continue
        params.append(pytest.param(module, id=name))
    return params


def test_the_contract_names_are_read() -> None:
    names = wire_names()
    assert {"PodCheck", "ClusterRoleArn", "Protect", "ReencryptKinds", "RunNonce", "SecretCheck", "PageSize",
            contract.SCHEDULED_EVENT_MARKER, "Custom::EnvelopeEncryptionVerification",
            "Custom::ClusterDeletionProtection", "Custom::EnvelopeEncryptionAssociation"} <= names


@pytest.mark.parametrize("module", _modules())
def test_library_module_spells_no_wire_name(module: Path) -> None:
    assert spelled(module.read_text(), wire_names() - AWS_NAMES) == []


def test_the_check_finds_a_spelled_name_and_skips_prose() -> None:
    source = '"""Sends ``PodCheck``."""\nprops = {"PodCheck": "true", "Protect": x}\ntype = "Custom::ClusterDeletionProtection"\n'
    assert spelled(source, wire_names()) == ["line 2: 'PodCheck'", "line 2: 'Protect'",
                                             "line 3: 'Custom::ClusterDeletionProtection'"]

