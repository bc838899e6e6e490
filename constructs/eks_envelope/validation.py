"""Input validation shared by the constructs and the app: collect every problem, raise once.

Each check is a small function that appends :class:`Problem` entries; callers run all checks
and call :meth:`Problems.raise_if_any`, so a user fixes every mistake in one round trip.
Values that are unresolved CDK tokens are skipped: they are only known at deploy time.
"""
from __future__ import annotations

import collections.abc
import difflib
import enum
import functools
import inspect
import ipaddress
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence, TypeVar

from aws_cdk import Duration, Token

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


# --------------------------------------------------------------------------- typed props
# A construct written in Python gets none of jsii's argument checks: ``ephemeral="false"`` is truthy and
# deletes the keys, ``public_access_cidrs="203.0.113.0/24"`` is read one character at a time. One
# decorator reads each constructor's annotations and checks every argument's type before any value
# is read; each constructor then checks values as before.

_Class = TypeVar("_Class", bound=type)
#: Constructor arguments that are not props.
_NOT_PROPS = frozenset({"self", "scope", "construct_id"})


def typed_props(cls: _Class) -> _Class:
    """Class decorator: check every argument of ``cls.__init__`` against its annotation, first.

    Every mismatch is collected (field, value received, fix) and raised once as
    :class:`EnvelopeConfigError`, before the constructor runs. On a dataclass (put it above
    ``@dataclass``), fields are named ``<Class>.<field>``. Unresolved tokens pass: a string token is a
    ``str``, a number token a ``float`` standing for an ``int``.
    """
    init = cls.__init__
    signature = inspect.signature(init)
    owner = f"{cls.__name__}." if hasattr(cls, "__dataclass_fields__") else ""

    @functools.wraps(init)
    def checked_init(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return init(self, *args, **kwargs)  # a missing or unknown argument: Python's own message
        hints = _type_hints(cls, init)
        problems = Problems()
        for name, value in bound.arguments.items():
            if name not in _NOT_PROPS and name in hints:
                for suffix, bad, fix in type_problems(value, hints[name]):
                    problems.add(f"{owner}{name}{suffix}", bad, fix)
        problems.raise_if_any()
        return init(self, *args, **kwargs)

    cls.__init__ = checked_init  # type: ignore[method-assign]
    return cls


@functools.lru_cache(maxsize=None)
def _type_hints(cls: type, init: Callable[..., Any]) -> dict[str, Any]:
    # Annotations are strings (``from __future__ import annotations``): resolved once, in their module.
    return typing.get_type_hints(cls if hasattr(cls, "__dataclass_fields__") else init)


def type_problems(value: Any, hint: Any, path: str = "") -> list[tuple[str, Any, str]]:
    """``(path suffix, value, fix)`` for each part of ``value`` that is not of type ``hint``; [] when it is.

    Understood: bool (strictly: no strings, no numbers), int (not bool), float, str, Optional/unions,
    sequences (a bare string is refused), mappings, enums, classes and jsii interfaces (``kms.IKey``,
    ``ec2.IVpc``...: what the object implements, as jsii knows it). Anything else passes unchecked.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return []
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None:
            return [] if len(options) < len(args) else [(path, value, f"give {_describe(hint)}")]
        results = [type_problems(value, option, path) for option in options]
        if any(not r for r in results):
            return []
        if len(options) == 1:
            return results[0]
        return [(path, value, f"give {' or '.join(_describe(o) for o in options)}")]
    if origin in (collections.abc.Sequence, collections.abc.Iterable, list, tuple):
        item = args[0] if args else Any
        if isinstance(value, str) and item is str:
            return [(path, value, f"pass a list, e.g. [{value!r}], not a bare string (read one character at a time)")]
        if not isinstance(value, (list, tuple)):
            return [(path, value, f"give a list of {_describe(item)}")]
        return [p for i, v in enumerate(value) for p in type_problems(v, item, f"{path}[{i}]")]
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, collections.abc.Mapping):
            return [(path, value, f"give a dict of {_describe(args[0]) if args else 'keys'} to {_describe(args[1]) if args else 'values'}")]
        key_hint, value_hint = args or (Any, Any)
        return [p for k, v in value.items()
                for p in (*type_problems(k, key_hint, f"{path}[{k!r}]"), *type_problems(v, value_hint, f"{path}[{k!r}]"))]
    if hint is bool:
        if isinstance(value, bool):
            return []
        if isinstance(value, str):
            return [(path, value, f"give True or False, not the string {value!r} (Python reads any non-empty string as true)")]
        return [(path, value, "give True or False")]
    if hint is int:
        if (isinstance(value, int) and not isinstance(value, bool)) or _is_number_token(value):
            return []
        if isinstance(value, bool):
            return [(path, value, "give a whole number, not True or False")]
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return [(path, value, f"give the number {int(value)}, not the string {value!r}")]
        if isinstance(value, float) and value.is_integer():
            return [(path, value, f"give a whole number: {int(value)}")]
        return [(path, value, "give a whole number (int)")]
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [(path, value, "give a number")]
    if hint is str:
        if isinstance(value, str):
            return []
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [(path, value, f"pass a string like {str(value)!r}")]
        return [(path, value, "give a string")]
    if isinstance(hint, type):
        return [] if _is_instance(value, hint) else [(path, value, _type_fix(value, hint))]
    return []


def _is_number_token(value: Any) -> bool:
    return isinstance(value, float) and Token.is_unresolved(value)


def _is_instance(value: Any, hint: type) -> bool:
    if not getattr(hint, "_is_protocol", False) and isinstance(value, hint):
        return True
    fqn = vars(hint).get("__jsii_type__")
    return isinstance(fqn, str) and fqn in _jsii_types(value)


def _jsii_types(value: Any) -> set[str]:
    """The jsii type names ``value`` is or implements: its classes, their interfaces and their parents.

    An imported resource (``Key.from_key_arn``) is a jsii dynamic proxy whose ``_delegates`` are
    interface proxies; a Python wrapper that forwards attributes to one is read through it too.
    """
    classes = list(type(value).__mro__)
    for delegate in _attribute(value, "_delegates", ()):
        classes.extend(type(delegate).__mro__)
    interfaces = [i for c in classes for i in vars(c).get("__jsii_ifaces__", ())]
    interfaces.extend(_attribute(value, "__jsii_ifaces__", ()))
    names = {vars(c).get("__jsii_type__") for c in (*classes, *(m for i in interfaces for m in i.__mro__))}
    return {n for n in names if isinstance(n, str)}


def _attribute(value: Any, name: str, default: Any) -> Any:
    try:
        found = getattr(value, name, default)
    except Exception:  # a jsii object may answer an unknown attribute with a kernel error
        return default
    return found if isinstance(found, (list, tuple)) else default


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "None"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (collections.abc.Sequence, collections.abc.Iterable, list, tuple):
        return f"a list of {_describe(args[0]) if args else 'values'}"
    if origin is not None:
        return _describe(origin)
    names = {bool: "True or False", int: "a whole number", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    return _type_name(hint) if isinstance(hint, type) else str(hint)


def _type_name(cls: type) -> str:
    """``aws_kms.IKey`` for aws-cdk-lib types, ``eks_envelope.VerifierOptions`` for ours."""
    module = cls.__module__
    if module.startswith("aws_cdk."):
        module = module[len("aws_cdk."):]
    elif module.startswith("eks_envelope"):
        module = "eks_envelope"
    return f"{module}.{cls.__qualname__}" if module not in ("builtins",) else cls.__qualname__


def _type_fix(value: Any, hint: type) -> str:
    fix = f"give {'an' if _type_name(hint)[0] in 'aeiouAEIOU' else 'a'} {_type_name(hint)}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        example = next(iter(hint.__members__))
        return f"{fix}, e.g. {hint.__qualname__}.{example}"
    if hint is Duration and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{fix}, e.g. Duration.minutes({value:g}) (a bare number has no unit)"
    importer = _importer_for(hint) if isinstance(value, str) else None
    if importer:
        return f"{fix}; for an ARN or name use {importer}(scope, id, ...)"
    return fix


def _importer_for(hint: type) -> str | None:
    """``aws_kms.Key.from_key_arn`` for ``aws_kms.IKey``: how a user turns a string into the interface."""
    name = hint.__name__
    implementation = getattr(sys.modules.get(hint.__module__), name[1:] if re.match(r"^I[A-Z]", name) else name, None)
    importers = [m for m in dir(implementation) if m.startswith("from_")] if implementation is not None else []
    preferred = [m for m in importers if m.endswith("_arn")] or importers
    return f"{_type_name(implementation)}.{preferred[0]}" if preferred else None
