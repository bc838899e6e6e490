"""The bundled app's settings from CDK context (``cdk.json`` or ``-c key=value``), validated all at once.

Values from ``-c`` arrive as strings and values from ``cdk.json`` as JSON; both are accepted.
Context keys that look like ours (``snake_case``) but are unknown are refused with a suggestion,
so a typo never silently falls back to a default. Keys of the CDK itself (``@aws-cdk/...``,
``aws:...``, lookups with ``:``) are left alone.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from eks_envelope.cluster import DEFAULT_KUBERNETES_VERSION
from eks_envelope.support import DEFAULT_SUPPORT_TYPE
from eks_envelope.validation import Problem, Problems, check_choice

from stacks.compliance_packs import COMPLIANCE_PACKS

_OUR_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$|^[a-z]$")
_TOPIC_ARN_RE = re.compile(r"^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
#: Keys the CDK CLI itself writes into the context without a prefix.
_CDK_OWN_KEYS = {"acknowledged-issue-numbers"}



@dataclass(frozen=True)
class AppSettings:
    """Everything the bundled app can be told through context; README's table documents each key."""

    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    fargate_namespaces: tuple[str, ...] = ("serverless",)
    admin_principal_arns: tuple[str, ...] = ()
    key_admin_arns: tuple[str, ...] = ()
    public_access_cidrs: tuple[str, ...] = ()
    allow_public_endpoint_from_anywhere: bool | str = False
    existing_key_arn: str | None = None
    nat_gateways: int = 1
    max_azs: int = 2
    availability_zones: tuple[str, ...] | None = None
    support_type: str = DEFAULT_SUPPORT_TYPE
    deletion_protection: bool | None = None
    env_name: str | None = None
    ephemeral: bool = False
    owner: str | None = None
    verify: bool = True
    verify_pod: bool = True
    verify_cloudtrail: bool = False
    verify_every_deploy: bool = False
    verify_cloudtrail_required: bool = False
    verifier_pod_image: str | None = None
    verifier_reserved_concurrency: int | None = None
    compliance_packs: tuple[str, ...] = COMPLIANCE_PACKS
    # Day 2 (monitoring.py): None for the schedule means hourly, or off when ephemeral.
    monitoring: bool = True
    verify_schedule_minutes: int | None = None
    verify_lookback_hours: int = 24
    verify_schedule_secret: bool = False
    alarm_email: str | None = None
    alarm_topic_arn: str | None = None
    config_rule: bool = False
    account_guardrail_key_arns: tuple[str, ...] = ()
    org_guardrail_key_arns: tuple[str, ...] = ()
    key_lock: bool = False
    key_lock_break_glass_arns: tuple[str, ...] = ()

    @property
    def stack_name(self) -> str:
        return f"EksEnvelope-{self.env_name}" if self.env_name else "EksEnvelope"

    @property
    def cluster_name(self) -> str:
        return f"eks-envelope-{self.env_name}" if self.env_name else "eks-envelope"


#: Spellings of a boolean that are not ours: refused with the fix, never guessed ("no" is not false here).
_OTHER_BOOLEAN_WORDS = frozenset({"yes", "no", "y", "n", "on", "off", "1", "0", "t", "f", "enabled", "disabled", "none", "null"})


def _as_bool(raw: Any) -> bool:
    """true or false: a JSON boolean (cdk.json) or that text (``-c``, where every value is a string)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError("use true or false")


def _as_bool_or_reason(raw: Any) -> bool | str:
    """true/false, or the reason for the opt-in (the construct checks its length)."""
    try:
        return _as_bool(raw)
    except ValueError:
        if isinstance(raw, str) and raw.strip() and raw.strip().lower() not in _OTHER_BOOLEAN_WORDS:
            return raw.strip()
        raise ValueError("use true, false, or the reason a reviewer reads in the compliance report") from None


def _as_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("use a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
        return int(raw)
    raise ValueError("use a whole number")


def _as_list(raw: Any) -> tuple[str, ...]:
    """A JSON list, a JSON list in a string, or a comma-separated string."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            raw = json.loads(text)
        else:
            return tuple(part.strip() for part in text.split(",") if part.strip())
    if isinstance(raw, (list, tuple)) and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    raise ValueError("use a list of strings, or a comma-separated string")


def _as_str(raw: Any) -> str:
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        # cdk.json's "kubernetes_version": 1.30 is the number 1.3: never read a number as text.
        raise ValueError(f"use a string: write it in quotes in cdk.json, e.g. {json.dumps(str(raw))}")
    raise ValueError("use a non-empty string")


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "kubernetes_version": _as_str,
    "fargate_namespaces": _as_list,
    "admin_principal_arns": _as_list,
    "key_admin_arns": _as_list,
    "public_access_cidrs": _as_list,
    "allow_public_endpoint_from_anywhere": _as_bool_or_reason,
    "existing_key_arn": _as_str,
    "nat_gateways": _as_int,
    "max_azs": _as_int,
    "availability_zones": _as_list,
    "support_type": _as_str,
    "deletion_protection": _as_bool,
    "env_name": _as_str,
    "ephemeral": _as_bool,
    "owner": _as_str,
    "verify": _as_bool,
    "verify_pod": _as_bool,
    "verify_cloudtrail": _as_bool,
    "verify_every_deploy": _as_bool,
    "verify_cloudtrail_required": _as_bool,
    "verifier_pod_image": _as_str,
    "verifier_reserved_concurrency": _as_int,
    "compliance_packs": _as_list,
    "monitoring": _as_bool,
    "verify_schedule_minutes": _as_int,
    "verify_lookback_hours": _as_int,
    "verify_schedule_secret": _as_bool,
    "alarm_email": _as_str,
    "alarm_topic_arn": _as_str,
    "config_rule": _as_bool,
    "account_guardrail_key_arns": _as_list,
    "org_guardrail_key_arns": _as_list,
    "key_lock": _as_bool,
    "key_lock_break_glass_arns": _as_list,
}
CONTEXT_KEYS = tuple(_PARSERS)


def _as_typed(value: Any) -> str:
    """A value in the spelling ``-c key=value`` takes: true/false, JSON lists, text as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))
    return str(value)


class ContextProblem(Problem):
    """A problem with a context value, shown as the user types it: ``-c nat_gateways=0: ...``."""

    def __str__(self) -> str:
        return f"-c {self.field}={_as_typed(self.value)}: {self.fix}"


#: Construct props the app fills from a context key of another name.
_PROP_TO_CONTEXT_KEY = {"key": "existing_key_arn", "key_arn": "existing_key_arn", "key_alias/key_admin_arns": "key_admin_arns",
                        "monitoring.schedule": "verify_schedule_minutes",
                        "monitoring.lookback (hours)": "verify_lookback_hours",
                        "alarm_email/alarm_topic": "alarm_email", "monitoring.config_rule": "config_rule",
                        "VerifierOptions.reserved_concurrency": "verifier_reserved_concurrency"}
#: Advice about construct props the app does not expose, in the app's terms.
_PROP_ADVICE_IN_APP_TERMS = {
    "VerifierOptions(pod_image='": "-c verifier_pod_image='",
    "VerifierOptions(pod_check=False)": "-c verify_pod=false",
    "<repo>:<tag>')": "<repo>:<tag>'",
    "or None to turn the schedule off": "or 0 to turn the schedule off",
    "Drop it and add SecretsEncryptionGuardrail (account) or OrganizationSecretsEncryptionGuardrail with all approved keys":
        "Drop it and add the guardrail stack with all approved keys: -c account_guardrail_key_arns=<key ARNs> or "
        "-c org_guardrail_key_arns=<key ARNs>",
    "or set schedule=None": "or set -c verify_schedule_minutes=0",
    "set monitor=True (context monitoring=true)": "set -c monitoring=true",
}
_PY_BOOL_SETTING = re.compile(r"\b([a-z][a-z0-9_]*)=(True|False)\b")


def as_context_problems(problems: list[Problem]) -> list[Problem]:
    """The constructs' problems about props the app set from context, in context spelling.

    ``nat_gateways=0: ... set verify=False`` becomes ``-c nat_gateways=0: ... set -c verify=false``;
    a prop fed by a differently named key (``key`` from ``existing_key_arn``) takes the key's name.
    """
    translated: list[Problem] = []
    for problem in problems:
        key = _PROP_TO_CONTEXT_KEY.get(problem.field, problem.field)
        if key not in _PARSERS or isinstance(problem, ContextProblem):
            translated.append(problem)
            continue
        fix = problem.fix
        for prop_advice, app_advice in _PROP_ADVICE_IN_APP_TERMS.items():
            fix = fix.replace(prop_advice, app_advice)
        fix = _PY_BOOL_SETTING.sub(
            lambda m: f"-c {m[1]}={m[2].lower()}" if m[1] in _PARSERS else m[0], fix)
        translated.append(ContextProblem(key, problem.value, fix))
    return translated


def settings_from_context(context: Mapping[str, Any], problems: Problems | None = None) -> AppSettings:
    """Parse and check every context value of ours.

    Values that the constructs validate themselves (namespaces, CIDRs, ARNs, counts) are checked
    there, with the same messages; here we check types, unknown keys and app-only values. Given
    ``problems``, they are collected there (a bad value falls back to its default, so the
    constructs can report theirs too) and the caller raises; otherwise EnvelopeConfigError is raised.
    """
    collect_only = problems is not None
    problems = problems if problems is not None else Problems()
    values: dict[str, Any] = {}
    for key, raw in context.items():
        if not _OUR_KEY_RE.match(key) or key in _CDK_OWN_KEYS:
            continue
        if key not in _PARSERS:
            close = difflib.get_close_matches(key, CONTEXT_KEYS, n=1)
            hint = f"did you mean -c {close[0]}={_as_typed(raw)}? " if close else ""
            problems.items.append(ContextProblem(
                key, raw, f"not a setting of this app; {hint}Known keys: {', '.join(CONTEXT_KEYS)}"))
            continue
        if raw is None:
            continue
        try:
            values[key] = _PARSERS[key](raw)
        except (ValueError, json.JSONDecodeError) as err:
            problems.items.append(ContextProblem(key, raw, str(err)))

    env_name = values.get("env_name")
    if env_name is not None and not _ENV_NAME_RE.match(env_name):
        problems.items.append(ContextProblem(
            "env_name", env_name,
            "1-24 lowercase letters, digits or '-', starting with a letter and not ending with '-' (e.g. pr-42)",
        ))
    topic_arn = values.get("alarm_topic_arn")
    if topic_arn is not None and not _TOPIC_ARN_RE.match(topic_arn):
        problems.items.append(ContextProblem(
            "alarm_topic_arn", topic_arn,
            "give an SNS topic ARN in this account and region, e.g. arn:aws:sns:eu-west-1:123456789012:oncall",
        ))
    if values.get("config_rule") is True:
        # The construct refuses it too (monitoring.config_rule); said here so monitoring=false cannot hide it.
        problems.items.append(ContextProblem(
            "config_rule", True,
            "a per-cluster AWS Config rule cannot deploy (a periodic rule takes no scope, and unscoped it judges every "
            "cluster of the account against this one key): drop it and add the guardrail stack with all approved keys, "
            "-c account_guardrail_key_arns=<key ARNs> or -c org_guardrail_key_arns=<key ARNs> (docs/guardrail.md)",
        ))
    pack_problems = Problems()
    for pack in values.get("compliance_packs", ()):
        if pack.lower() not in ("all", "none"):
            check_choice(pack_problems, "compliance_packs", pack, COMPLIANCE_PACKS)
    problems.items.extend(ContextProblem(p.field, p.value, p.fix) for p in pack_problems.items)
    if problems.items:
        # Keep only what parsed and passed: the rest falls back to defaults while problems are collected.
        bad = {p.field for p in problems.items}
        values = {k: v for k, v in values.items() if k not in bad}
    if not collect_only:
        problems.raise_if_any()

    packs = values.get("compliance_packs")
    if packs is not None:
        lowered = [p.lower() for p in packs]
        values["compliance_packs"] = (
            COMPLIANCE_PACKS if "all" in lowered else () if "none" in lowered else tuple(packs)
        )
    return AppSettings(**values)
