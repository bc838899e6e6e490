#!/usr/bin/env python3
"""Architecture picture from the synthesized template: a Graphviz DOT of what matters, not every subnet.

Usage: ``python scripts/diagram.py cdk.out/EksEnvelope.template.json docs/architecture.dot``
(``make diagram`` synthesizes, runs this and renders SVG and PNG with Graphviz ``dot``).

Resources are grouped into a few readable nodes (the keys, the cluster, Fargate, the add-ons, the
access entries, the verifier and its provider, the VPC as a box) and the edges come from the
template itself: ``Ref``/``Fn::GetAtt``/``DependsOn`` between resources of two groups become one
labelled edge when the pair means something (``encrypts secrets``, ``runs pods``, ``verifies``).
A pair with no label is left out, so the picture stays readable at a glance.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda"))  # the wire contract (stdlib only)
from verifier.contract import VERIFIER_HANDLER  # noqa: E402

#: group -> (label, shape, fill colour, inside the VPC box)
GROUPS: dict[str, tuple[str, str, str, bool]] = {
    "secrets_key": ("Secrets key (KMS CMK)", "box", "#fde2b8", False),
    "logs_key": ("Logs key (KMS CMK)", "box", "#fde2b8", False),
    "cluster": ("EKS cluster", "box3d", "#cfe3ff", False),
    "cluster_role": ("Cluster role (IAM)", "note", "#eeeeee", False),
    "control_plane_logs": ("Control-plane log group", "cylinder", "#e6f4d7", False),
    "other_logs": ("Flow, verifier and provider log groups", "cylinder", "#e6f4d7", False),
    "addons": ("Managed add-ons", "component", "#cfe3ff", False),
    "admin_access": ("Admin access entries", "note", "#eeeeee", False),
    "verifier_access": ("Verifier access entry", "note", "#eeeeee", False),
    "pod_role": ("Pod execution role (IAM)", "note", "#eeeeee", False),
    "verification": ("Custom::EnvelopeEncryptionVerification", "hexagon", "#f9d0d0", False),
    "provider": ("Provider framework (Lambda)", "box", "#f9d0d0", True),
    "verifier": ("Verifier Lambda", "box", "#f9d0d0", True),
    "fargate": ("Fargate profile", "box", "#cfe3ff", True),
    "private_subnets": ("Private subnets", "box", "#ffffff", True),
    "public_subnets": ("Public subnets", "box", "#ffffff", True),
    "nat": ("NAT gateway", "box", "#ffffff", True),
    "igw": ("Internet gateway", "box", "#ffffff", True),
}

#: (from group, to group) as found in the template -> (label, draw reversed)
EDGES: dict[tuple[str, str], tuple[str, bool]] = {
    ("cluster", "secrets_key"): ("encrypts secrets\n(KMS v2 key-encryption key)", True),
    ("cluster", "cluster_role"): ("assumes", False),
    ("cluster", "private_subnets"): ("API endpoint ENIs", False),
    ("cluster", "control_plane_logs"): ("5 log types", False),
    ("control_plane_logs", "logs_key"): ("encrypted by", False),
    ("other_logs", "logs_key"): ("encrypted by", False),
    ("fargate", "cluster"): ("runs pods", True),
    ("fargate", "pod_role"): ("pod execution role", False),
    ("fargate", "private_subnets"): ("pods in", False),
    ("addons", "cluster"): ("coredns (on Fargate)", True),
    ("admin_access", "cluster"): ("cluster admin", False),
    ("verifier_access", "cluster"): ("Edit in ns default", False),
    ("verifier_access", "verifier"): ("for", False),
    ("verification", "provider"): ("ServiceToken", False),
    ("provider", "verifier"): ("on_event", False),
    ("verification", "cluster"): ("verifies", False),
    ("verification", "secrets_key"): ("expects this key", False),
    ("verifier", "private_subnets"): ("runs in", False),
    ("private_subnets", "nat"): ("default route", False),
    ("nat", "public_subnets"): ("in", False),
    ("public_subnets", "igw"): ("default route", False),
}


def refs(value: Any) -> Iterator[str]:
    """Logical ids referenced through Ref / Fn::GetAtt / Fn::Sub anywhere inside ``value``."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                yield target
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                for part in str(text).split("${")[1:]:
                    yield part.split("}")[0].split(".")[0]
                yield from refs(inner)
            else:
                yield from refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from refs(inner)


def depends_on(resource: dict[str, Any]) -> list[str]:
    deps = resource.get("DependsOn", [])
    return [deps] if isinstance(deps, str) else list(deps)


def cdk_path(resource: dict[str, Any]) -> str:
    return resource.get("Metadata", {}).get("aws:cdk:path", "")


def principal_services(role: dict[str, Any]) -> set[str]:
    services: set[str] = set()
    for statement in role.get("Properties", {}).get("AssumeRolePolicyDocument", {}).get("Statement", []):
        service = statement.get("Principal", {}).get("Service", [])
        services.update([service] if isinstance(service, str) else service)
    return services


def classify(resources: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Logical id -> group for the resources worth drawing (everything else is left out)."""
    groups: dict[str, str] = {}
    secrets_keys = {
        ref
        for r in resources.values() if r["Type"] == "AWS::EKS::Cluster"
        for ref in refs(r["Properties"].get("EncryptionConfig", []))
    }
    for logical_id, r in resources.items():
        kind, props, path = r["Type"], r.get("Properties", {}), cdk_path(r) or logical_id
        if kind == "AWS::KMS::Key":
            groups[logical_id] = "secrets_key" if logical_id in secrets_keys else "logs_key"
        elif kind == "AWS::EKS::Cluster":
            groups[logical_id] = "cluster"
        elif kind == "AWS::EKS::FargateProfile":
            groups[logical_id] = "fargate"
        elif kind == "AWS::EKS::Addon":
            groups[logical_id] = "addons"
        elif kind == "AWS::EKS::AccessEntry":
            groups[logical_id] = "verifier_access" if "Verifier" in path else "admin_access"
        elif kind == "Custom::EnvelopeEncryptionVerification":
            groups[logical_id] = "verification"
        elif kind == "AWS::Lambda::Function":
            handler = props.get("Handler", "")
            if handler == VERIFIER_HANDLER:
                groups[logical_id] = "verifier"
            elif handler.startswith("framework."):
                groups[logical_id] = "provider"
        elif kind == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName", "")
            groups[logical_id] = "control_plane_logs" if str(name).startswith("/aws/eks/") else "other_logs"
        elif kind == "AWS::IAM::Role":
            services = principal_services(r)
            if "eks.amazonaws.com" in services:
                groups[logical_id] = "cluster_role"
            elif "eks-fargate-pods.amazonaws.com" in services:
                groups[logical_id] = "pod_role"
        elif kind == "AWS::EC2::NatGateway":
            groups[logical_id] = "nat"
        elif kind == "AWS::EC2::InternetGateway":
            groups[logical_id] = "igw"
        elif kind in ("AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::Route"):
            if "PrivateSubnet" in path:
                groups[logical_id] = "private_subnets"
            elif "PublicSubnet" in path:
                groups[logical_id] = "public_subnets"
    # A Lambda's role and security group belong to its function's node.
    for logical_id, r in resources.items():
        if r["Type"] == "AWS::Lambda::Function" and logical_id in groups:
            props = r.get("Properties", {})
            for ref in (*refs(props.get("Role")), *refs(props.get("VpcConfig", {}).get("SecurityGroupIds", []))):
                groups.setdefault(ref, groups[logical_id])
    return groups


def edges(resources: dict[str, dict[str, Any]], groups: dict[str, str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for logical_id, r in resources.items():
        src = groups.get(logical_id)
        if src is None:
            continue
        targets = {*refs(r.get("Properties", {})), *depends_on(r)}
        for target in targets:
            dst = groups.get(target)
            if dst is None or dst == src or (src, dst) not in EDGES:
                continue
            label, reverse = EDGES[(src, dst)]
            found[(dst, src) if reverse else (src, dst)] = label
    return found


def details(resources: dict[str, dict[str, Any]], groups: dict[str, str]) -> dict[str, list[str]]:
    """A second label line per group, from the template (names, counts, retention)."""
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for logical_id, group in groups.items():
        members[group].append(resources[logical_id])
    out: dict[str, list[str]] = defaultdict(list)

    def of_type(group: str, cfn_type: str) -> list[dict[str, Any]]:
        return [r for r in members.get(group, []) if r["Type"] == cfn_type]

    for alias in (r for r in resources.values() if r["Type"] == "AWS::KMS::Alias"):
        name = alias["Properties"].get("AliasName")
        if isinstance(name, str):
            out["secrets_key"].append(name)
    for group in ("secrets_key", "logs_key"):
        for key in of_type(group, "AWS::KMS::Key"):
            policy = key.get("DeletionPolicy", "Delete")
            out[group].append(
                f"rotation {'on' if key['Properties'].get('EnableKeyRotation') else 'off'}, {policy.lower()} on destroy"
            )
    for cluster in of_type("cluster", "AWS::EKS::Cluster"):
        props = cluster["Properties"]
        public = props.get("ResourcesVpcConfig", {}).get("EndpointPublicAccess", True)
        out["cluster"].append(f"{props.get('Name', '')} (Kubernetes {props.get('Version', '?')})")
        out["cluster"].append(f"{'public+private' if public else 'private'} endpoint, auth mode API")
    for profile in of_type("fargate", "AWS::EKS::FargateProfile"):
        namespaces = [s.get("Namespace") for s in profile["Properties"].get("Selectors", [])]
        out["fargate"].append("namespaces: " + ", ".join(str(n) for n in namespaces))
    addons = [r["Properties"].get("AddonName") for r in of_type("addons", "AWS::EKS::Addon")]
    if addons:
        out["addons"].append(", ".join(str(a) for a in addons))
    admins = of_type("admin_access", "AWS::EKS::AccessEntry")
    if admins:
        out["admin_access"].append(f"{len(admins)} principal(s)")
    for group, label in (("private_subnets", "private"), ("public_subnets", "public")):
        count = len(of_type(group, "AWS::EC2::Subnet"))
        if count:
            out[group].append(f"{count} x {label} subnet")
    nats = of_type("nat", "AWS::EC2::NatGateway")
    if len(nats) > 1:
        out["nat"].append(f"{len(nats)} gateways")
    for fn in of_type("verifier", "AWS::Lambda::Function"):
        out["verifier"].append(f"{fn['Properties'].get('Runtime', '')}, timeout {fn['Properties'].get('Timeout', '?')} s")
    for group in ("control_plane_logs", "other_logs"):
        days = sorted({r["Properties"].get("RetentionInDays") for r in of_type(group, "AWS::Logs::LogGroup")} - {None})
        if days:
            out[group].append("retention " + "/".join(str(d) for d in days) + " days")
    return out


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(template: dict[str, Any], title: str) -> str:
    resources = template.get("Resources", {})
    groups = classify(resources)
    present = [g for g in GROUPS if g in set(groups.values())]
    extra = details(resources, groups)
    lines = [
        "digraph architecture {",
        f"  graph [label={quote(title)}, labelloc=t, fontsize=20, fontname=Helvetica, rankdir=TB,"
        " nodesep=0.3, ranksep=0.55, pad=0.3, newrank=true];",
        "  node [fontname=Helvetica, fontsize=11, style=filled, penwidth=1.2];",
        "  edge [fontname=Helvetica, fontsize=9, color=\"#555555\", fontcolor=\"#333333\"];",
    ]

    def node(group: str, indent: str) -> str:
        label, shape, fill, _ = GROUPS[group]
        text = "\n".join([label, *extra.get(group, [])])
        return f"{indent}{group} [label={quote(text)}, shape={shape}, fillcolor={quote(fill)}];"

    inside = [g for g in present if GROUPS[g][3]]
    if inside:
        vpc_label = "VPC (2 AZs, flow logs)" if any(r["Type"] == "AWS::EC2::VPC" for r in resources.values()) else "VPC (yours)"
        lines += ["  subgraph cluster_vpc {", f"    label={quote(vpc_label)}; style=\"rounded,dashed\";"
                  " color=\"#4a7bd0\"; fontcolor=\"#4a7bd0\"; fontsize=13;"]
        lines += [node(g, "    ") for g in inside]
        lines.append("  }")
    lines += [node(g, "  ") for g in present if not GROUPS[g][3]]
    for (src, dst), label in sorted(edges(resources, groups).items()):
        style = ", style=bold, color=\"#c0392b\", fontcolor=\"#c0392b\"" if "encrypts secrets" in label or label == "verifies" else ""
        lines.append(f"  {src} -> {dst} [label={quote(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    template_path, out_path = Path(argv[1]), Path(argv[2])
    template = json.loads(template_path.read_text())
    title = f"{template_path.name.removesuffix('.template.json')}: EKS on Fargate, secrets envelope-encrypted, verified on deploy"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(to_dot(template, title))
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
