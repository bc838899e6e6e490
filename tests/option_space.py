"""The option space (issue 20): the app's context keys pairwise, and the library's non-default props.

``APP_OPTIONS`` gives each context key its values (``None``: not given); booleans both ways, every
enum, lists empty/one/many, keys/topics/ARNs given and not given. ``app_combinations()`` covers every
pair of values of every two keys that the app accepts together (allpairspy, with ``accepted`` as
its filter), and ``REFUSED`` lists combinations the app must refuse, with the field it must name.
Everything is synthesized once per session (``synthesized``), in-process, one App per combination.

``python -m tests.option_space`` prints the combinations.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Callable

import aws_cdk as cdk
from allpairspy import AllPairs

from tests.helpers import REPO, cdk_json_context, new_app, new_outdir
from tests.lifecycle.model import Template
from tests.tempdirs import contain_temp_dirs

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin"
ROLE2 = f"arn:aws:iam::{ACCOUNT}:role/OnCall"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/BreakGlass"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN2 = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/5678abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT}:oncall"
PRIVATE_IMAGE = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/busybox:stable"

#: Every context key of the app (stacks/settings.py) with the values tried; None means "not given".
#: Values are strings, as `-c key=value` gives them.
APP_OPTIONS: dict[str, tuple[str | None, ...]] = {
    "verify": (None, "true", "false"),
    "nat_gateways": (None, "0", "1", "2"),
    "monitoring": ("true", "false"),
    "alarm_email": (None, "oncall@example.com"),
    "alarm_topic_arn": (None, TOPIC_ARN),
    "verify_schedule_minutes": (None, "0", "30", "720"),
    "key_lock": (None, "true", "false"),
    "key_lock_break_glass_arns": (None, BREAK_GLASS),
    "existing_key_arn": (None, KEY_ARN),
    "key_admin_arns": (None, "", ROLE, f"{ROLE},{ROLE2}"),
    "kubernetes_version": (None, "1.28", "1.33", "1.34", "1.36"),
    "fargate_namespaces": (None, "apps", "apps,batch,web"),
    "admin_principal_arns": (None, "", ROLE, f"{ROLE},{ROLE2}"),
    "public_access_cidrs": (None, "", "203.0.113.0/24", "203.0.113.0/24,198.51.100.7/32"),
    "allow_public_endpoint_from_anywhere": (None, "false", "true", "Temporary demo endpoint, removed on 2027-01-31 by the platform team"),
    "max_azs": (None, "3"),
    "availability_zones": (None, "eu-west-1a,eu-west-1b", "eu-west-1a,eu-west-1b,eu-west-1c"),
    "support_type": (None, "STANDARD", "EXTENDED"),
    "deletion_protection": (None, "true", "false"),
    "env_name": (None, "pr-42"),
    "ephemeral": (None, "true", "false"),
    "owner": (None, "team-a"),
    "verify_pod": ("true", "false"),
    "verify_cloudtrail": ("true", "false"),
    "verify_every_deploy": ("false", "true"),
    "verify_cloudtrail_required": ("false", "true"),
    "verifier_pod_image": (None, PRIVATE_IMAGE),
    "verifier_reserved_concurrency": (None, "2"),
    "compliance_packs": (None, "none", "all", "EnvelopeEncryption", "AwsSolutions,EnvelopeEncryption,ControlTower"),
    "verify_lookback_hours": (None, "48"),
    "verify_schedule_secret": ("false", "true"),
    "config_rule": (None, "false"),  # "true" is always refused (REFUSED)
    "account_guardrail_key_arns": (None, KEY_ARN),
    "org_guardrail_key_arns": (None, KEY_ARN, f"{KEY_ARN},{KEY_ARN2}"),
}
KEYS = tuple(APP_OPTIONS)


#: Values the app refuses, by design: (what, the keys, predicate over their values, field it names).
#: A predicate sees every one of its keys (None: not given).
REFUSAL_RULES: tuple[tuple[str, tuple[str, ...], Callable[..., bool], str], ...] = (
    ("no NAT with the canary image pulled from the internet", ("nat_gateways", "verify", "verify_pod", "verifier_pod_image"),
     lambda nat, verify, pod, image: nat == "0" and verify != "false" and pod != "false" and image is None, "nat_gateways"),
    ("deletion protection without the verifier to switch it on", ("verify", "deletion_protection"),
     lambda verify, protect: verify == "false" and protect == "true", "deletion_protection"),
    ("key lock without break-glass roles", ("key_lock", "key_lock_break_glass_arns"),
     lambda lock, glass: lock == "true" and not glass, "key_lock_break_glass_arns"),
    ("break-glass roles without the lock", ("key_lock", "key_lock_break_glass_arns"),
     lambda lock, glass: bool(glass) and lock != "true", "key_lock_break_glass_arns"),
    ("key lock on your own key", ("key_lock", "existing_key_arn"), lambda lock, key: lock == "true" and bool(key), "key_lock"),
    ("key admins with your own key", ("key_admin_arns", "existing_key_arn"), lambda admins, key: bool(admins) and bool(key), "key_admin_arns"),
    ("a schedule without the verifier", ("verify", "verify_schedule_minutes"),
     lambda verify, minutes: verify == "false" and minutes not in (None, "0"), "verify_schedule_minutes"),
    ("an alarm e-mail without monitoring", ("monitoring", "alarm_email"), lambda monitoring, email: monitoring == "false" and bool(email), "alarm_email"),
    ("an alarm topic without monitoring", ("monitoring", "alarm_topic_arn"), lambda monitoring, topic: monitoring == "false" and bool(topic), "alarm_email"),
)
_RULES_OF_KEY: dict[str, list[Any]] = {}
for _rule in REFUSAL_RULES:
    for _key in _rule[1]:
        _RULES_OF_KEY.setdefault(_key, []).append(_rule)


def refusals(context: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, field) for each refusal rule whose keys the (partial) context all holds and whose values it meets."""
    return [(what, name) for what, keys, holds, name in REFUSAL_RULES
            if all(k in context for k in keys) and holds(*(context[k] for k in keys))]


def accepted(context: dict[str, Any]) -> bool:
    return not refusals(context)


def _accepts(row: dict[str, Any], key: str, value: Any) -> bool:
    """Whether ``row`` plus ``key=value`` meets no refusal rule involving ``key`` (the row itself is accepted)."""
    for _, keys, holds, _ in _RULES_OF_KEY.get(key, ()):
        if all(k == key or k in row for k in keys) and holds(*(value if k == key else row[k] for k in keys)):
            return False
    return True


#: Each refusal rule with its keys' positions in KEYS, for allpairspy's filter (it passes a row's first values).
_RULES_BY_POSITION = tuple((tuple(KEYS.index(k) for k in keys), holds) for _, keys, holds, _ in REFUSAL_RULES)


def _accepted_prefix(row: list[Any]) -> bool:
    """``accepted`` for the first ``len(row)`` keys' values, without building a context."""
    return not any(all(i < len(row) for i in positions) and holds(*(row[i] for i in positions))
                   for positions, holds in _RULES_BY_POSITION)


def _as_context(row: list[Any]) -> dict[str, str]:
    return {k: v for k, v in zip(KEYS, row) if v is not None}


@functools.lru_cache(maxsize=None)
def _pairwise() -> tuple[tuple[tuple[str, str], ...], ...]:
    rows = [dict(zip(KEYS, row)) for row in AllPairs([list(v) for v in APP_OPTIONS.values()], filter_func=_accepted_prefix)]
    # allpairspy with a filter can leave pairs out (it fixes early values greedily): one more row per pair left.
    missing = uncovered_pairs(rows)
    while missing:
        rows.append(_complete({missing[0][0]: missing[0][1], missing[0][2]: missing[0][3]}, set(missing)))
        covered = _pairs_of(rows[-1])
        missing = [p for p in missing if p not in covered]
    return tuple(tuple(sorted(_as_context([row[k] for k in KEYS]).items())) for row in rows)


def _complete(row: dict[str, Any], wanted: set[tuple[str, Any, str, Any]] = frozenset()) -> dict[str, Any] | None:
    """``row`` with every other key set to an accepted value (the one covering most ``wanted`` pairs); None if none is."""
    row = dict(row)
    for key in KEYS:
        if key in row:
            continue
        if not wanted and key not in _RULES_OF_KEY:  # no rule can refuse any of its values: the first one
            row[key] = APP_OPTIONS[key][0]
            continue
        options = [v for v in APP_OPTIONS[key] if _accepts(row, key, v)]
        if not options:
            return None
        row[key] = max(options, key=lambda v: sum(((key, v, k, row[k]) in wanted) or ((k, row[k], key, v) in wanted) for k in row)) \
            if wanted else options[0]
    return row


@functools.lru_cache(maxsize=None)
def feasible_pairs() -> frozenset[tuple[str, Any, str, Any]]:
    """Pairs of values some accepted combination holds: ``nat_gateways=0`` needs ``verify=false``, so it never
    meets ``verify_schedule_minutes=30``, although no rule refuses that pair alone."""
    return frozenset(
        (a, va, b, vb)
        for a, b in combinations(KEYS, 2) for va in APP_OPTIONS[a] for vb in APP_OPTIONS[b]
        if accepted({a: va, b: vb})
        # Only a refusal rule can leave no value for a third key: pairs outside every rule always complete.
        and (a not in _RULES_OF_KEY and b not in _RULES_OF_KEY or _complete({a: va, b: vb}) is not None)
    )


def app_combinations() -> list[dict[str, str]]:
    """Every pair of values of every two keys that some accepted combination holds, in a combination the app accepts."""
    return [dict(row) for row in _pairwise()]


def _pairs_of(row: dict[str, Any]) -> set[tuple[str, Any, str, Any]]:
    return {(a, row.get(a), b, row.get(b)) for a, b in _KEY_PAIRS}


_KEY_PAIRS = tuple(combinations(KEYS, 2))


def uncovered_pairs(rows: list[dict[str, Any]]) -> list[tuple[str, Any, str, Any]]:
    """Feasible pairs of values that no row holds (``None`` or absent = the key not given)."""
    seen = set().union(*map(_pairs_of, rows))
    return sorted((p for p in feasible_pairs() if p not in seen), key=lambda p: (KEYS.index(p[0]), KEYS.index(p[2]), str(p)))


#: Combinations the app must refuse, and the context key the refusal names. One per refusal rule, so a
#: rule that stops refusing is seen, plus bad values of each kind.
REFUSED: tuple[tuple[dict[str, str], str], ...] = (
    ({"nat_gateways": "0"}, "nat_gateways"),
    ({"nat_gateways": "0", "verify": "true"}, "nat_gateways"),
    ({"nat_gateways": "0", "verify_pod": "true", "verifier_pod_image": "public.ecr.aws/docker/library/busybox:stable"}, "nat_gateways"),
    ({"config_rule": "true"}, "config_rule"),
    ({"config_rule": "true", "monitoring": "false"}, "config_rule"),
    ({"verify": "false", "deletion_protection": "true"}, "deletion_protection"),
    ({"org_guardrail_key_arns": "arn:aws:kms:eu-west-1:123456789012:alias/eks"}, "org_guardrail_key_arns"),
    ({"key_lock": "true"}, "key_lock_break_glass_arns"),
    ({"key_lock_break_glass_arns": BREAK_GLASS}, "key_lock_break_glass_arns"),
    ({"key_lock": "true", "key_lock_break_glass_arns": BREAK_GLASS, "existing_key_arn": KEY_ARN}, "key_lock"),
    ({"existing_key_arn": KEY_ARN, "key_admin_arns": ROLE}, "key_admin_arns"),
    ({"verify": "false", "verify_schedule_minutes": "30"}, "verify_schedule_minutes"),
    ({"monitoring": "false", "alarm_email": "oncall@example.com"}, "alarm_email"),
    ({"monitoring": "false", "alarm_topic_arn": TOPIC_ARN}, "alarm_email"),
    ({"public_access_cidrs": "0.0.0.0/0"}, "public_access_cidrs"),
    ({"public_access_cidrs": "0.0.0.0/0", "allow_public_endpoint_from_anywhere": "no"}, "allow_public_endpoint_from_anywhere"),
    ({"public_access_cidrs": "10.0.0.0/33"}, "public_access_cidrs"),
    ({"public_access_cidrs": "1.2.3.4"}, "public_access_cidrs"),
    ({"ephemeral": "yes"}, "ephemeral"),
    ({"verify": "0"}, "verify"),
    ({"nat_gateways": "two"}, "nat_gateways"),
    ({"nat_gateways": "3"}, "nat_gateways"),
    ({"max_azs": "1"}, "max_azs"),
    ({"kubernetes_version": "1.27"}, "kubernetes_version"),
    ({"support_type": "LTS"}, "support_type"),
    ({"fargate_namespaces": ""}, "fargate_namespaces"),
    ({"fargate_namespaces": "a,b,c,d"}, "fargate_namespaces"),
    ({"admin_principal_arns": "arn:aws:sts::123456789012:assumed-role/Admin/me"}, "admin_principal_arns"),
    ({"existing_key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/eks"}, "existing_key_arn"),
    ({"availability_zones": "euw1-az1,euw1-az2"}, "availability_zones"),
    ({"env_name": "PR_42"}, "env_name"),
    ({"alarm_topic_arn": "oncall"}, "alarm_topic_arn"),
    ({"alarm_email": "oncall"}, "alarm_email"),
    ({"verify_schedule_minutes": "2"}, "verify_schedule_minutes"),
    ({"verify_lookback_hours": "0"}, "verify_lookback_hours"),
    ({"compliance_packs": "AwsSolution"}, "compliance_packs"),
    ({"verifier_reserved_concurrency": "-1"}, "verifier_reserved_concurrency"),
    ({"verifier_reserved_concurrency": "0"}, "verifier_reserved_concurrency"),
)


# --------------------------------------------------------------------------- synthesis
@dataclass
class Synthesized:
    """One configuration's outcome: its stacks' templates, or the problems it was refused with."""

    name: str
    context: dict[str, str]
    templates: list[Template] = field(default_factory=list)
    problems: list[Any] = field(default_factory=list)
    error: str = ""


def _templates(assembly: cdk.cx_api.CloudAssembly) -> list[Template]:
    return [Template(s.stack_name, s.template, termination_protection=bool(s.termination_protection)) for s in assembly.stacks]


def synthesize_app(name: str, context: dict[str, str]) -> Synthesized:
    """The bundled app with this context, packs included (they fail the synth on a finding)."""
    from app import build_app
    from eks_envelope.validation import EnvelopeConfigError

    result = Synthesized(name, context)
    try:
        result.templates = _templates(build_app(new_app(**context)).synth())
    except EnvelopeConfigError as err:
        result.problems = err.problems
    except Exception as err:  # a crash (jsii, packs): reported as what it is
        result.error = f"{type(err).__name__}: {str(err).strip()[:2000]}"
    return result


# --------------------------------------------------------------------------- library cases
def _app(packs: tuple[str, ...] | None = None, **kwargs: Any) -> cdk.App:
    """An App with cdk.json's context and the synth-time packs registered (every one unless named)."""
    from stacks.compliance_packs import PACK_CLASS_PATHS, register_packs

    app = cdk.App(context=cdk_json_context(), outdir=new_outdir(prefix="cdk-space-"),
                  builtin_cloud_formation_validation=False, **kwargs)
    register_packs(app, list(packs or PACK_CLASS_PATHS))
    return app


def _cluster(stack: cdk.Stack, **props: Any) -> Any:
    from eks_envelope import EnvelopeEncryptedCluster

    return EnvelopeEncryptedCluster(stack, "Cluster", admin_principal_arns=[ROLE], **props)


def _key_from_another_stack() -> cdk.App:
    from eks_envelope import ClusterSecretsKey

    app = _app()
    key_stack = cdk.Stack(app, "KeyStack")
    key = ClusterSecretsKey(key_stack, "SecretsKey", alias="team-secrets")
    _cluster(cdk.Stack(app, "ClusterStack"), key=key.key)
    return app


def _own_vpc() -> cdk.App:
    from aws_cdk import aws_ec2 as ec2

    # The HIPAA, NIST and PCI packs would judge the user's own VPC (its public subnets' route to the internet,
    # its default security group), which is theirs to make compliant: the construct's packs run here.
    app = _app(packs=("EnvelopeEncryption", "AwsSolutions", "Serverless"))
    stack = cdk.Stack(app, "OwnVpc")
    key = cdk.aws_kms.Key(stack, "FlowLogsKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
    key.grant_encrypt_decrypt(cdk.aws_iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
    flow_logs = cdk.aws_logs.LogGroup(stack, "FlowLogs", retention=cdk.aws_logs.RetentionDays.ONE_YEAR, encryption_key=key,
                                      removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
    vpc = ec2.Vpc(stack, "Network", max_azs=2, nat_gateways=1, restrict_default_security_group=False,
                  flow_logs={"All": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))})
    _cluster(stack, vpc=vpc)
    return app


def _qualifier_on_stack() -> cdk.App:
    app = _app()
    _cluster(cdk.Stack(app, "Team1", synthesizer=cdk.DefaultStackSynthesizer(qualifier="team1")))
    return app


def _qualifier_on_app() -> cdk.App:
    app = _app(default_stack_synthesizer=cdk.DefaultStackSynthesizer(qualifier="team1"))
    _cluster(cdk.Stack(app, "Team1Default"))
    return app


def _existing_cluster(complete: bool = False) -> cdk.App:
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam
    from eks_envelope import EnvelopeEncryptionForExistingCluster

    app = _app()
    stack = cdk.Stack(app, "Adopt")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
        private_subnet_ids=["subnet-0aaa", "subnet-0bbb"], private_subnet_route_table_ids=["rtb-0aaa", "rtb-0bbb"])
    EnvelopeEncryptionForExistingCluster(
        stack, "Adopt", cluster_name="prod", vpc=vpc, cluster_security_group_id="sg-0123456789abcdef0",
        cluster_role=iam.Role.from_role_arn(stack, "ClusterRole", f"arn:aws:iam::{ACCOUNT}:role/eks-prod", mutable=False),
        complete=complete)
    return app


def _monitoring_options() -> cdk.App:
    from aws_cdk import aws_sns as sns
    from eks_envelope import MonitoringOptions, VerifierOptions

    app = _app()
    stack = cdk.Stack(app, "Watched")
    topic = sns.Topic(stack, "OnCall", enforce_ssl=True,
                      master_key=cdk.aws_kms.Key(stack, "TopicKey", enable_key_rotation=True,
                                                 removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE))
    _cluster(
        stack,
        verifier_options=VerifierOptions(pod_check=False, cloudtrail_required=True, reserved_concurrency=2),
        monitoring=MonitoringOptions(schedule=cdk.Duration.minutes(15), lookback=cdk.Duration.hours(6),
                                     secret_roundtrip=True, metric_namespace="Team1/Eks"),
        alarm_topic=topic,
        alarm_email="oncall@example.com",
    )
    return app


def _ephemeral_without_verifier() -> cdk.App:
    app = _app()
    _cluster(cdk.Stack(app, "Scratch"), ephemeral=True, verify=False, monitor=False, nat_gateways=1)
    return app


def _guardrails() -> cdk.App:
    from eks_envelope import OrganizationSecretsEncryptionGuardrail, SecretsEncryptionGuardrail

    app = _app()
    SecretsEncryptionGuardrail(cdk.Stack(app, "AccountGuardrail"), "Guardrail", key_arns=[KEY_ARN],
                               rule="EKS_SECRETS_ENCRYPTED", maximum_execution_frequency="Twelve_Hours")
    OrganizationSecretsEncryptionGuardrail(cdk.Stack(app, "OrgGuardrail"), "Guardrail", key_arns=[KEY_ARN, KEY_ARN2],
                                           excluded_accounts=["210987654321"])
    return app


#: Library cases: the constructs composed with their non-default props, as a user composes them.
LIBRARY_CASES: dict[str, Callable[[], cdk.App]] = {
    "key-from-another-stack": _key_from_another_stack,
    "own-vpc": _own_vpc,
    "qualifier-on-stack": _qualifier_on_stack,
    "qualifier-as-app-default": _qualifier_on_app,
    "existing-cluster": _existing_cluster,
    "existing-cluster-complete": functools.partial(_existing_cluster, complete=True),
    "guardrails": _guardrails,
    "monitoring-options": _monitoring_options,
    "ephemeral-without-verifier": _ephemeral_without_verifier,
}


def synthesize_library(name: str) -> Synthesized:
    """A library case (a key of ``LIBRARY_CASES``), synthesized with every pack; named ``lib-<name>``."""
    from eks_envelope.validation import EnvelopeConfigError

    result = Synthesized(f"lib-{name}", {})
    try:
        result.templates = _templates(LIBRARY_CASES[name]().synth())
    except EnvelopeConfigError as err:
        result.problems = err.problems
    except Exception as err:
        result.error = f"{type(err).__name__}: {str(err).strip()[:2000]}"
    return result


def names() -> list[str]:
    """``app-NN``, ``refused-NN`` and ``lib-<case>``: every configuration of the space."""
    return ([f"app-{i:02d}" for i in range(len(app_combinations()))] + [f"refused-{i:02d}" for i in range(len(REFUSED))]
            + [f"lib-{name}" for name in LIBRARY_CASES])


@functools.lru_cache(maxsize=None)
def outcome(name: str) -> Synthesized:
    """One configuration (a name of ``names()``), synthesized once: a refused one costs no synth, so the fast
    tier checks the refusals while the e2e tier synthesizes the accepted ones."""
    kind, _, rest = name.partition("-")
    if kind == "app":
        return synthesize_app(name, app_combinations()[int(rest)])
    if kind == "refused":
        return synthesize_app(name, REFUSED[int(rest)][0])
    return synthesize_library(rest)


def synthesized() -> dict[str, Synthesized]:
    """Every app combination, every refused combination and every library case, synthesized once."""
    return {name: outcome(name) for name in names()}


# --------------------------------------------------------------------------- cfn-lint
SCAN_BIN = REPO / ".venv-scan" / "bin"


def cfn_lint(results: dict[str, Synthesized]) -> dict[str, list[dict[str, Any]]]:
    """cfn-lint once over every template (its own virtualenv: `make scan-deps`); errors by ``config/stack``."""
    folder = Path(tempfile.mkdtemp(prefix="option-space-", dir=contain_temp_dirs()))
    names: dict[str, str] = {}
    for result in results.values():
        for template in result.templates:
            path = folder / f"{result.name}--{template.stack_name}.template.json"
            path.write_text(json.dumps(template.raw))
            names[str(path)] = f"{result.name}/{template.stack_name}"
    if not names:
        return {}
    # About a CPU second per template: one cfn-lint per core, each over its share of the templates.
    paths = sorted(names)
    shares = [paths[i::min(4, os.cpu_count() or 1)] for i in range(min(4, os.cpu_count() or 1))]
    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        reports = list(pool.map(_cfn_lint, [s for s in shares if s]))
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in names.values()}
    for match in (m for report in reports for m in report):
        if match.get("Level") == "Error":
            found[names[match["Filename"]]].append(match)
    return found


def _cfn_lint(paths: list[str]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(SCAN_BIN / "cfn-lint"), "--format", "json", "--non-zero-exit-code", "none", "--", *paths],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cfn-lint exited {proc.returncode}: {proc.stderr.strip()[:2000]}")
    return json.loads(proc.stdout or "[]")


if __name__ == "__main__":
    rows = app_combinations()
    for index, row in enumerate(rows):
        print(f"app-{index:02d}", " ".join(f"{k}={v}" for k, v in row.items()))
    print(f"{len(rows)} app combinations, {len(uncovered_pairs(rows))} uncovered pairs, {len(REFUSED)} refused, "
          f"{len(LIBRARY_CASES)} library cases")
