"""Template leanness and dependency-graph critical path of a synthesized cloud assembly (stdlib only).

Leanness counts every template of the assembly: the stack's own and its nested stacks' templates.
The critical path is computed per template; for the stack's template a nested stack
(AWS::CloudFormation::Stack) is one node, whatever it contains.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SUB_VAR = re.compile(r"\$\{(?!!)([^}]+)\}")


def dir_size(path: Path) -> int:
    """Bytes of every regular file below path (assets, nested templates, manifests)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def _targets(node: Any, resources: set[str], shadowed: frozenset[str] = frozenset()) -> set[str]:
    """Logical ids of resources referenced through Ref, Fn::GetAtt and Fn::Sub ${X} / ${X.Attr}."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                if value in resources:
                    found.add(value)
            elif key == "Fn::GetAtt":
                name = value[0] if isinstance(value, list) and value else value.split(".", 1)[0] if isinstance(value, str) else None
                if isinstance(name, str) and name in resources:
                    found.add(name)
                elif not isinstance(name, str):
                    found |= _targets(value, resources, shadowed)
            elif key == "Fn::Sub":
                if isinstance(value, str):
                    text, variables = value, {}
                elif isinstance(value, list) and value and isinstance(value[0], str):
                    text, variables = value[0], (value[1] if len(value) > 1 and isinstance(value[1], dict) else {})
                else:
                    found |= _targets(value, resources, shadowed)
                    continue
                local = shadowed | frozenset(variables)
                for var in _SUB_VAR.findall(text):
                    name = var.split(".", 1)[0]
                    if name not in local and name in resources:
                        found.add(name)
                found |= _targets(variables, resources, shadowed)
            else:
                found |= _targets(value, resources, shadowed)
    elif isinstance(node, list):
        for item in node:
            found |= _targets(item, resources, shadowed)
    return found


def dependency_graph(template: dict[str, Any]) -> dict[str, set[str]]:
    """logical id -> the resources it waits for (DependsOn + Ref + GetAtt + Sub), same template only."""
    resources = template.get("Resources") or {}
    ids = set(resources)
    graph: dict[str, set[str]] = {}
    for logical_id, body in resources.items():
        deps: set[str] = set()
        depends_on = body.get("DependsOn")
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        deps |= {d for d in depends_on or [] if d in ids}
        for key, value in body.items():
            if key not in ("Type", "Metadata", "DependsOn"):
                deps |= _targets(value, ids)
        deps.discard(logical_id)
        graph[logical_id] = deps
    return graph


def critical_path(graph: dict[str, set[str]]) -> list[str]:
    """The longest chain of waits, first-created first (ties broken by logical id, so stable)."""
    memo: dict[str, list[str]] = {}
    visiting: set[str] = set()

    def longest(node: str) -> list[str]:
        if node in memo:
            return memo[node]
        if node in visiting:  # CloudFormation refuses cycles; never loop here either
            return [node]
        visiting.add(node)
        best: list[str] = []
        for dep in sorted(graph[node]):
            chain = longest(dep)
            if len(chain) > len(best):
                best = chain
        visiting.discard(node)
        memo[node] = best + [node]
        return memo[node]

    best: list[str] = []
    for node in sorted(graph):
        chain = longest(node)
        if len(chain) > len(best):
            best = chain
    return best


@dataclass
class AssemblyStats:
    stack: str
    resources: int = 0  # the stack's own template
    resources_all: int = 0  # including nested templates
    lambda_functions: int = 0
    nested_stacks: int = 0
    state_machines: int = 0
    custom_resources: int = 0
    iam_roles: int = 0
    size_bytes: int = 0
    template_bytes: int = 0
    edges: int = 0
    chain: list[str] = field(default_factory=list)
    chain_types: list[str] = field(default_factory=list)
    types: dict[str, int] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)  # logical ids of the Lambda functions


def assembly_stats(outdir: Path) -> AssemblyStats:
    """Stats of the one stack in a cloud assembly directory (and its nested stacks)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a.get("type") == "aws:cloudformation:stack"]
    if len(stacks) != 1:
        raise SystemExit(f"{outdir}: expected one stack, found {len(stacks)}")
    template_file = stacks[0]["properties"]["templateFile"]
    main = json.loads((outdir / template_file).read_text())
    nested = [p for p in outdir.glob("*.nested.template.json")]
    stats = AssemblyStats(stack=template_file.removesuffix(".template.json"))
    stats.size_bytes = dir_size(outdir)
    stats.template_bytes = sum(p.stat().st_size for p in [outdir / template_file, *nested])
    stats.resources = len(main.get("Resources") or {})
    for template in [main, *(json.loads(p.read_text()) for p in nested)]:
        for logical_id, body in (template.get("Resources") or {}).items():
            rtype = body.get("Type", "")
            if rtype == "AWS::Lambda::Function":
                stats.functions.append(logical_id)
            stats.resources_all += 1
            stats.types[rtype] = stats.types.get(rtype, 0) + 1
            stats.lambda_functions += rtype == "AWS::Lambda::Function"
            stats.nested_stacks += rtype == "AWS::CloudFormation::Stack"
            stats.state_machines += rtype == "AWS::StepFunctions::StateMachine"
            stats.custom_resources += rtype.startswith("Custom::") or rtype == "AWS::CloudFormation::CustomResource"
            stats.iam_roles += rtype == "AWS::IAM::Role"
    graph = dependency_graph(main)
    stats.edges = sum(len(v) for v in graph.values())
    stats.chain = critical_path(graph)
    stats.chain_types = [main["Resources"][c]["Type"] for c in stats.chain]
    return stats


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        s = assembly_stats(Path(arg))
        print(json.dumps(s.__dict__, indent=1))
