"""Input validation shared by the constructs and the app: collect every problem, raise once.

Each check is a small function that appends :class:`Problem` entries; callers run all checks
and call :meth:`Problems.raise_if_any`, so a user fixes every mistake in one round trip.
Values that are unresolved CDK tokens are skipped: they are only known at deploy time.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from aws_cdk import Token

#: Kubernetes namespace names are RFC 1123 labels.
_NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: IAM principals that can be named in an EKS access entry: users and roles (with paths).
_PRINCIPAL_ARN_RE = re.compile(
    r"^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}$"
)
_KMS_ARN_RE = re.compile(
    r"^arn:aws(-[a-z]+)*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<kind>key|alias)/(?P<name>.+)$"
)
#: EKS cluster names: 1-100 characters, alphanumerics, hyphens and underscores.
#: EKS's API allows '_' in cluster names, but CloudFormation's AWS::EKS::Cluster refuses it.
_CLUSTER_NAME_RE = re.compile(r"^[0-9A-Za-z][A-Za-z0-9-]{0,99}$")

#: A Fargate profile carries at most five selectors (EKS quota, not adjustable).
MAX_FARGATE_SELECTORS = 5


class EnvelopeConfigError(ValueError):
    """Raised at synth time when props or context values are invalid; lists every problem."""

    def __init__(self, problems: Sequence["Problem"]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} invalid setting(s):\n{lines}")


@dataclass(frozen=True)
class Problem:
    field: str
    value: Any
    fix: str

    def __str__(self) -> str:
        return f"{self.field}={self.value!r}: {self.fix}"


@dataclass
class Problems:
    """An accumulator of validation problems."""

    items: list[Problem] = field(default_factory=list)

    def add(self, field_name: str, value: Any, fix: str) -> None:
        self.items.append(Problem(field_name, value, fix))

    def raise_if_any(self) -> None:
        if self.items:
            raise EnvelopeConfigError(self.items)


def is_token(value: Any) -> bool:
    return isinstance(value, str) and Token.is_unresolved(value)


_VERSION_RE = re.compile(r"^v?(\d+)[.,](\d+)(?:\.\d+)?$")


def _version(text: str) -> tuple[int, int] | None:
    match = _VERSION_RE.match(str(text).strip())
    return (int(match[1]), int(match[2])) if match else None


def _close_choice(value: Any, choices: list[str]) -> str | None:
    """A suggestion only when the value is plausibly a slip for it.

    Versions are compared as numbers, not as text: '1.27' is not a typo of '1.32', but 'v1.36',
    '1,36' and '1.36.2' are slips for '1.36'.
    """
    versions = {_version(c): c for c in choices}
    if None not in versions:
        return versions.get(_version(value))
    close = difflib.get_close_matches(str(value), choices, n=1)
    return close[0] if close else None


def check_choice(problems: Problems, field_name: str, value: str, choices: Iterable[str]) -> None:
    choices = list(choices)
    if value not in choices:
        close = _close_choice(value, choices)
        hint = f" (did you mean {close!r}?)" if close else ""
        asked, known = _version(value), sorted(v for v in map(_version, choices) if v)
        if not close and asked and known and len(known) == len(choices):
            if asked < known[0]:
                hint = f" ({value} is older than the oldest accepted, {choices[0]})"
            elif asked > known[-1]:
                hint = f" ({value} is newer than this aws-cdk-lib knows)"
        problems.add(field_name, value, f"use one of {', '.join(choices)}{hint}")


def check_namespaces(problems: Problems, field_name: str, namespaces: Sequence[str], *, max_count: int) -> None:
    if isinstance(namespaces, str) or not isinstance(namespaces, (list, tuple)):
        problems.add(field_name, namespaces, "give a list of Kubernetes namespace names, e.g. ['serverless']")
        return
    if not namespaces:
        problems.add(field_name, namespaces, "give at least one namespace for your pods, e.g. ['serverless']")
    for ns in namespaces:
        if is_token(ns):
            continue
        if not isinstance(ns, str) or len(ns) > 63 or not _NAMESPACE_RE.match(ns):
            problems.add(
                field_name, ns,
                "a namespace is 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
            )
        elif ns == "kube-system":
            problems.add(field_name, ns, "kube-system is always selected for CoreDNS; remove it from the list")
    dupes = sorted({ns for ns in namespaces if isinstance(ns, str) and list(namespaces).count(ns) > 1})
    if dupes:
        problems.add(field_name, dupes, "list each namespace once")
    if len(namespaces) > max_count:
        problems.add(
            field_name, list(namespaces),
            f"one Fargate profile carries {MAX_FARGATE_SELECTORS} selectors and {MAX_FARGATE_SELECTORS - max_count} "
            f"are taken (kube-system, and the verifier canary when the pod check is on): give at most {max_count} namespaces",
        )


def check_cidrs(problems: Problems, field_name: str, cidrs: Sequence[str], *, allow_anywhere: bool) -> None:
    """CIDR blocks as written, never interpreted: a bare address is refused with its ``/32`` (or ``/128``)
    rather than normalised, so the template says exactly what the user wrote and the fix is theirs."""
    if isinstance(cidrs, str) or not isinstance(cidrs, (list, tuple)):
        problems.add(field_name, cidrs, "give a list of CIDR blocks, e.g. ['203.0.113.0/24']")
        return
    for cidr in cidrs:
        if is_token(cidr):
            continue
        fix = _cidr_problem(cidr)
        if fix:
            problems.add(field_name, cidr, fix)
            continue
        if ipaddress.ip_network(cidr).prefixlen == 0 and not allow_anywhere:
            problems.add(
                field_name, cidr,
                "this opens the Kubernetes API to the whole internet; list your own ranges, or opt in explicitly "
                "with allow_public_endpoint_from_anywhere=True (or, better, the reason, which the compliance report shows)",
            )


def _cidr_problem(cidr: Any) -> str | None:
    """What is wrong with one CIDR block, most specific first; None when it is a valid network."""
    example = "use a CIDR block like '203.0.113.0/24'"
    if not isinstance(cidr, str):
        return example
    address, slash, prefix = cidr.strip().partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{example} ({address!r} is not an IP address)"
    if not slash:
        return f"a single address needs its prefix length: give '{ip}/{ip.max_prefixlen}'"
    if not prefix.isdigit():
        return f"the prefix length after '/' is a number from 0 to {ip.max_prefixlen}, e.g. '{ip}/{ip.max_prefixlen}'"
    if not 0 <= int(prefix) <= ip.max_prefixlen:
        return f"prefix length /{prefix} is out of range: IPv{ip.version} prefixes are /0 to /{ip.max_prefixlen}"
    if cidr != cidr.strip():
        return f"remove the surrounding spaces: {cidr.strip()!r}"
    network = ipaddress.ip_network(cidr, strict=False)
    if network.network_address != ip:
        return f"host bits must be zero: did you mean '{network}'?"
    return None


def is_open_to_anywhere(cidr: str) -> bool:
    """0.0.0.0/0 or ::/0 (and no token: those are unknown until deploy)."""
    try:
        return not is_token(cidr) and ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except (ValueError, TypeError):
        return False


def check_principal_arns(problems: Problems, field_name: str, arns: Sequence[str]) -> None:
    if isinstance(arns, str) or not isinstance(arns, (list, tuple)):
        problems.add(field_name, arns, "give a list of IAM role or user ARNs")
        return
    for arn in arns:
        if is_token(arn):
            continue
        if not isinstance(arn, str) or not _PRINCIPAL_ARN_RE.match(arn):
            problems.add(
                field_name, arn,
                "use an IAM role or user ARN, e.g. 'arn:aws:iam::123456789012:role/PlatformAdmin' "
                "(not an assumed-role session ARN)",
            )


def check_key_arn(problems: Problems, field_name: str, key_arn: str, *, stack_region: str | None) -> None:
    """An existing key must be given as a key ARN in the cluster's region (EKS requires the same region)."""
    if is_token(key_arn):
        return
    match = _KMS_ARN_RE.match(key_arn or "")
    if not match:
        problems.add(field_name, key_arn, "use a KMS key ARN, e.g. 'arn:aws:kms:eu-west-1:123456789012:key/<key-id>'")
        return
    if match["kind"] == "alias":
        problems.add(
            field_name, key_arn,
            "an alias can be re-pointed to another key; give the key ARN it targets "
            "(aws kms describe-key --key-id <alias> --query KeyMetadata.Arn)",
        )
    if stack_region and not Token.is_unresolved(stack_region) and match["region"] != stack_region:
        problems.add(
            field_name, key_arn,
            f"EKS needs a key in the cluster's region {stack_region}; create or replicate the key there",
        )


def check_cluster_name(problems: Problems, field_name: str, name: str | None) -> None:
    if name is None or is_token(name):
        return
    if not _CLUSTER_NAME_RE.match(name):
        fix = "1-100 letters, digits or '-', starting with a letter or digit"
        if "_" in name:
            fix += " (CloudFormation refuses '_' in cluster names)"
        suggestion = _valid_cluster_name(name)
        if suggestion:
            fix += f": try {suggestion!r}"
        problems.add(field_name, name, fix)


def _valid_cluster_name(name: str) -> str | None:
    """The nearest valid cluster name: other characters become '-', runs of '-' one, no '-' at the ends."""
    candidate = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", name)).strip("-")[:100].rstrip("-")
    return candidate if _CLUSTER_NAME_RE.match(candidate) else None


_AZ_NAME_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_AZ_ID_RE = re.compile(r"^[a-z]{3,5}\d-az\d+$")


def check_availability_zones(problems: Problems, field_name: str, zones: list[str]) -> None:
    """2-6 distinct AZ names (``eu-west-1a``), not AZ IDs (``euw1-az1``): CDK's VPC takes names."""
    if not 2 <= len(zones) <= 6 or len(set(zones)) != len(zones):
        problems.add(field_name, zones, "give 2 to 6 distinct availability zone names, e.g. eu-west-1a,eu-west-1b")
    for zone in zones:
        if is_token(zone):
            continue
        if _AZ_ID_RE.match(zone):
            problems.add(
                field_name, zone,
                "that is an AZ ID; give the AZ name it maps to in your account "
                "(aws ec2 describe-availability-zones --query 'AvailabilityZones[].[ZoneName,ZoneId]')",
            )
        elif not _AZ_NAME_RE.match(zone):
            problems.add(field_name, zone, "not an availability zone name; expected e.g. eu-west-1a")


def check_int_range(problems: Problems, field_name: str, value: Any, *, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(field_name, value, f"give a whole number from {low} to {high}")
    elif not low <= value <= high:
        problems.add(field_name, value, f"give a whole number from {low} to {high}")


def parse_kms_arn(arn: str) -> dict[str, str] | None:
    match = _KMS_ARN_RE.match(arn or "")
    return match.groupdict() if match else None
