#!/usr/bin/env python3
"""Service constraints: what AWS refuses only at deploy, and cfn-lint, checkov, cdk-nag and Guard do not know.

Each rule is a small pure function over one synthesized template (a dict) that returns
``(logical id, message)`` for each violation; its docstring names the AWS page or issue it rests on.
The option-space test (tests/test_option_space.py) runs every rule on every template it synthesizes,
and `make scan` runs them on cdk.out/ (one line, beside the scanners). Standard library only, so the
scanners' virtualenv and the test suite both load it.

    python scripts/constraints.py cdk.out     # exit 1 on a violation, one line per finding
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

#: CloudFormation waits at most this long for a custom resource's answer (ServiceTimeout 1-3600, default 3600).
CUSTOM_RESOURCE_MAX_SECONDS = 3600
#: AWS Config managed rules whose trigger type is Periodic (AWS Config developer guide, each rule's page).
PERIODIC_MANAGED_RULES = frozenset({
    "EKS_SECRETS_ENCRYPTED",
    "EKS_CLUSTER_SECRETS_ENCRYPTED",
    "EKS_ENDPOINT_NO_PUBLIC_ACCESS",
    "CLOUD_TRAIL_ENABLED",
    "IAM_PASSWORD_POLICY",
    "ROOT_ACCOUNT_MFA_ENABLED",
    "ACCESS_KEYS_ROTATED",
})
#: VPC endpoint services a Fargate pod needs to start in private subnets without NAT (ECR, its S3 layers, STS).
FARGATE_ENDPOINTS = frozenset({"ecr.api", "ecr.dkr", "s3", "sts"})
#: What the verifier handler calls besides what its role's policies show (STS for the token, Logs, S3 for the
#: custom-resource response through the Provider framework).
VERIFIER_ENDPOINTS = frozenset({"eks", "kms", "sts", "logs", "s3"})
#: IAM action prefixes whose endpoint has another name.
_ENDPOINT_OF_PREFIX = {"cloudwatch": "monitoring"}
#: Actions the Lambda service itself uses on a function's behalf (logs, ENIs, traces): no endpoint needed.
_SERVICE_SIDE_ACTION = re.compile(r"^(logs:(CreateLogGroup|CreateLogStream|PutLogEvents)|ec2:.*NetworkInterface.*|xray:Put.*)$")
_BOOTSTRAP_ROLE = re.compile(r"cdk-([a-z0-9]+)-(cfn-exec|deploy|file-publishing|image-publishing|lookup)-role")
_BOOTSTRAP_PARAMETER = re.compile(r"^/cdk-bootstrap/([a-z0-9]+)/version$")
_CUSTOM = re.compile(r"^(Custom::.+|AWS::CloudFormation::CustomResource)$")


@dataclass(frozen=True)
class Finding:
    rule: str
    template: str
    logical_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.template}/{self.logical_id}: {self.message}"


Violation = tuple[str, str]
Rule = Callable[[dict[str, Any]], list[Violation]]


# --------------------------------------------------------------------------- template helpers
def _resources(template: dict[str, Any], *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for lid, body in (template.get("Resources") or {}).items():
        if not types or body.get("Type") in types:
            yield lid, body


def _text(value: Any) -> str:
    """A value flattened to text: Fn::Join/Fn::Sub pieces joined, every other intrinsic as ``{...}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(v) for v in value)
    if isinstance(value, dict) and len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
        (key, arg), = value.items()
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return _text(arg[0]).join(_text(v) for v in arg[1]) if isinstance(arg[1], list) else "{...}"
        if key == "Fn::Sub":
            return _text(arg[0] if isinstance(arg, list) else arg)
        if key == "Ref":
            return "${" + str(arg) + "}"
        return "{" + key + "}"
    if isinstance(value, dict):
        return json.dumps({k: _text(v) for k, v in value.items()})
    return str(value)


def _ref_target(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            target = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
            return target if isinstance(target, str) else None
    return None


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def bootstrap_qualifier(template: dict[str, Any]) -> str | None:
    """The qualifier of the bootstrap the template was synthesized for (its BootstrapVersion parameter)."""
    default = ((template.get("Parameters") or {}).get("BootstrapVersion") or {}).get("Default")
    match = _BOOTSTRAP_PARAMETER.match(default) if isinstance(default, str) else None
    return match[1] if match else None


def waiter_seconds(state_machine: dict[str, Any]) -> float | None:
    """How long a Provider framework waiter retries before it gives up: its tasks' retry schedules summed.

    The waiter's definition is one Fn::Join with the task ARNs spliced in; each Retry waits
    ``IntervalSeconds * BackoffRate**i`` (capped by ``MaxDelaySeconds``) before attempt ``i + 1``.
    """
    definition = _text((state_machine.get("Properties") or {}).get("DefinitionString"))
    try:
        states = json.loads(definition).get("States") or {}
    except (json.JSONDecodeError, AttributeError):
        return None
    total = 0.0
    for state in states.values():
        for retry in state.get("Retry") or ():
            interval, backoff = float(retry.get("IntervalSeconds", 1)), float(retry.get("BackoffRate", 2))
            cap = float(retry.get("MaxDelaySeconds", float("inf")))
            total += sum(min(interval * backoff**i, cap) for i in range(int(retry.get("MaxAttempts", 3))))
    return total


# --------------------------------------------------------------------------- rules
def periodic_config_rules_have_no_scope(template: dict[str, Any]) -> list[Violation]:
    """A periodic AWS Config rule carries no ``Scope``: AWS Config refuses one (InvalidParameterValueException).

    Sources: cloud-custodian/cloud-custodian#10008 (AWS Support: scopes on periodic rules are rejected since
    2025); AWS Config developer guide, "eks-secrets-encrypted" and "eks-cluster-secrets-encrypted" (trigger
    type Periodic). A rule is periodic when its managed identifier is, or when it sets a
    MaximumExecutionFrequency and no configuration-change trigger.
    """
    found = []
    for lid, body in _resources(template, "AWS::Config::ConfigRule"):
        props = body.get("Properties") or {}
        if not props.get("Scope"):
            continue
        source = props.get("Source") or {}
        details = source.get("SourceDetails") or []
        change_triggered = any(d.get("MessageType") in ("ConfigurationItemChangeNotification",
                                                        "OversizedConfigurationItemChangeNotification") for d in details)
        periodic = (
            (source.get("Owner") == "AWS" and source.get("SourceIdentifier") in PERIODIC_MANAGED_RULES)
            or ((props.get("MaximumExecutionFrequency") or any(d.get("MessageType") == "ScheduledNotification" for d in details))
                and not change_triggered)
        )
        if periodic:
            found.append((lid, f"periodic rule {source.get('SourceIdentifier', '?')} has a Scope; AWS Config refuses "
                               "it at deploy: remove the Scope (a periodic rule judges every resource of the account)"))
    return found


def custom_resources_answer_within_an_hour(template: dict[str, Any]) -> list[Violation]:
    """Every custom resource answers within its ServiceTimeout (1-3600 s), Provider waiter included.

    Sources: AWS CloudFormation user guide, "AWS::CloudFormation::CustomResource" (ServiceTimeout: minimum 1,
    maximum 3600, default 3600); aws-cdk-lib ``custom_resources.Provider`` (``totalTimeout``: "maximum 1 hour").
    A Provider with ``is_complete`` waits in a Step Functions state machine named by its onEvent Lambda's
    WAITER_STATE_MACHINE_ARN: CloudFormation gives up (and rolls back) while that waiter still runs.
    """
    resources = template.get("Resources") or {}
    found = []
    for lid, body in _resources(template):
        if not _CUSTOM.match(body.get("Type", "")):
            continue
        props = body.get("Properties") or {}
        timeout = props.get("ServiceTimeout")
        budget = _seconds(timeout) if timeout is not None else CUSTOM_RESOURCE_MAX_SECONDS
        if budget is not None and not 1 <= budget <= CUSTOM_RESOURCE_MAX_SECONDS:
            found.append((lid, f"ServiceTimeout {timeout} is outside 1-{CUSTOM_RESOURCE_MAX_SECONDS} s"))
            continue
        function = resources.get(_ref_target(props.get("ServiceToken")) or "", {})
        variables = ((function.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        waiter = resources.get(_ref_target(variables.get("WAITER_STATE_MACHINE_ARN")) or "")
        waits = waiter_seconds(waiter) if waiter else None
        if waits is not None and budget is not None and waits > budget:
            found.append((lid, f"its Provider waits up to {waits:g} s (total_timeout) but CloudFormation waits "
                               f"{budget:g} s: the stack rolls back while the operation still runs; keep the "
                               f"wait under {CUSTOM_RESOURCE_MAX_SECONDS} s or move it out of the deploy"))
    return found


def no_plain_retain(template: dict[str, Any]) -> list[Violation]:
    """No resource has ``DeletionPolicy: Retain``: a failed first deploy's rollback would keep it.

    Sources: AWS CloudFormation user guide, "DeletionPolicy attribute" (``RetainExceptOnCreate`` deletes
    what the failed create made, ``Retain`` keeps it, and a kept name blocks the next deploy).
    ``UpdateReplacePolicy: Retain`` is allowed: it keeps only the old copy of a replaced resource, and
    RetainExceptOnCreate is not one of its values.
    """
    return [
        (lid, "DeletionPolicy Retain survives the rollback of a failed first deploy; use RetainExceptOnCreate "
              "(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)")
        for lid, body in _resources(template) if body.get("DeletionPolicy") == "Retain"
    ]


def _endpoint_services(template: dict[str, Any]) -> set[str]:
    services = set()
    for _, body in _resources(template, "AWS::EC2::VPCEndpoint"):
        name = _text((body.get("Properties") or {}).get("ServiceName"))
        match = re.search(r"com\.amazonaws\.[^.]+\.(.+)$", name)
        if match:
            services.add(match[1])
    return services


def _policy_services(template: dict[str, Any], role_id: str) -> set[str]:
    """Endpoint names of the AWS APIs a role's policies let it call (what a function with the role calls)."""
    services = set()
    for _, body in _resources(template, "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        props = body.get("Properties") or {}
        if role_id not in {_ref_target(r) for r in props.get("Roles") or []}:
            continue
        for statement in (props.get("PolicyDocument") or {}).get("Statement") or []:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action") or []
            for action in [actions] if isinstance(actions, str) else actions:
                if isinstance(action, str) and ":" in action and not _SERVICE_SIDE_ACTION.match(action):
                    prefix = action.split(":")[0]
                    services.add(_ENDPOINT_OF_PREFIX.get(prefix, prefix))
    return services


def new_vpc_without_nat_has_endpoints(template: dict[str, Any]) -> list[Violation]:
    """A new VPC without NAT gateways has the VPC endpoints its Fargate pods and Lambdas need.

    Sources: Amazon EKS user guide, "Deploy private clusters with limited internet access" (Fargate needs
    ``ecr.api``, ``ecr.dkr``, the ``s3`` gateway and ``sts``); AWS Lambda developer guide, "Giving Lambda
    functions access to resources in an Amazon VPC" (no internet without NAT: each AWS API needs an
    endpoint). A VPC Lambda's needs are read from its role's policies (``cloudwatch:`` is ``monitoring``),
    plus what the verifier calls: EKS, KMS, STS, Logs, the S3 gateway for the custom-resource response, and
    CloudTrail when its CloudTrail stage is on. Without them a deploy hangs until the timeouts.
    """
    vpcs = [lid for lid, _ in _resources(template, "AWS::EC2::VPC")]
    if not vpcs or any(True for _ in _resources(template, "AWS::EC2::NatGateway")):
        return []
    needed: dict[str, set[str]] = {}
    if any(True for _ in _resources(template, "AWS::EKS::FargateProfile")):
        needed["Fargate pods"] = set(FARGATE_ENDPOINTS)
    for lid, body in _resources(template, "Custom::EnvelopeEncryptionVerification"):
        props = body.get("Properties") or {}
        cloudtrail = {"cloudtrail"} if "true" in (str(props.get("CloudTrailCheck")).lower(), str(props.get("CloudTrailRequired")).lower()) else set()
        needed[f"the verifier ({lid})"] = set(VERIFIER_ENDPOINTS) | cloudtrail
    for lid, body in _resources(template, "AWS::Lambda::Function"):
        props = body.get("Properties") or {}
        if props.get("VpcConfig") and (role := _ref_target(props.get("Role"))):
            needed[f"Lambda {lid}"] = _policy_services(template, role)
    present = _endpoint_services(template)
    found = []
    for who, services in needed.items():
        missing = sorted(services - present)
        if missing:
            found.append((vpcs[0], f"no NAT gateway and no VPC endpoint for {', '.join(missing)}, which {who} "
                                   "need(s): add the endpoints, or give the VPC a NAT gateway"))
    return found


def key_policies_name_only_this_bootstrap(template: dict[str, Any]) -> list[Violation]:
    """A key policy names only the bootstrap roles of the stack's own synthesizer qualifier.

    Sources: AWS CDK developer guide, "Customizing bootstrapping" (a qualifier names a separate set of
    bootstrap roles ``cdk-<qualifier>-...``); AWS KMS developer guide, "Key policies" (every principal must
    exist: KMS refuses CreateKey/PutKeyPolicy naming a role that does not). The template's qualifier is in
    its BootstrapVersion parameter (``/cdk-bootstrap/<qualifier>/version``).
    """
    qualifier = bootstrap_qualifier(template)
    found = []
    for lid, body in _resources(template, "AWS::KMS::Key"):
        policy = json.dumps((body.get("Properties") or {}).get("KeyPolicy"))
        others = sorted({m[1] for m in _BOOTSTRAP_ROLE.finditer(policy)} - {qualifier})
        if others:
            found.append((lid, f"its key policy names the bootstrap role(s) of qualifier {', '.join(others)}, but the "
                               f"stack is synthesized for {qualifier or 'no bootstrap'}: KMS refuses a principal that "
                               "does not exist; name the stack synthesizer's own role"))
    return found


def fargate_profiles_have_at_most_five_selectors(template: dict[str, Any]) -> list[Violation]:
    """A Fargate profile has at most five selectors, each with at most five labels.

    Source: Amazon EKS user guide, "Amazon EKS service quotas" (Fargate: selectors per profile 5, label
    pairs per selector 5; not adjustable).
    """
    found = []
    for lid, body in _resources(template, "AWS::EKS::FargateProfile"):
        selectors = (body.get("Properties") or {}).get("Selectors") or []
        if len(selectors) > 5:
            found.append((lid, f"{len(selectors)} selectors; EKS allows 5 per Fargate profile"))
        found.extend((lid, f"selector {i} has {len(s.get('Labels') or [])} labels; EKS allows 5")
                     for i, s in enumerate(selectors) if len(s.get("Labels") or []) > 5)
    return found


def log_group_keys_let_cloudwatch_logs_use_them(template: dict[str, Any]) -> list[Violation]:
    """A log group's KMS key (of the same template) lets CloudWatch Logs use it, in its key policy.

    Source: Amazon CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS" (the key
    policy must allow ``logs.<region>.amazonaws.com`` kms:Encrypt*, Decrypt*, ReEncrypt*, GenerateDataKey*,
    Describe*; CreateLogGroup fails otherwise). aws-cdk-lib's LogGroup does not add that statement.
    """
    resources = template.get("Resources") or {}
    found = []
    for lid, body in _resources(template, "AWS::Logs::LogGroup"):
        key_id = _ref_target((body.get("Properties") or {}).get("KmsKeyId"))
        key = resources.get(key_id or "")
        if not key or key.get("Type") != "AWS::KMS::Key":
            continue
        statements = ((key.get("Properties") or {}).get("KeyPolicy") or {}).get("Statement") or []
        allowed = False
        for statement in statements:
            service = _text((statement.get("Principal") or {}).get("Service") if isinstance(statement.get("Principal"), dict) else "")
            actions = statement.get("Action") or []
            actions = [actions] if isinstance(actions, str) else actions
            if statement.get("Effect") == "Allow" and re.search(r"(^|[\[\s\"])logs\.", service) and \
                    any(a in ("kms:*", "kms:Encrypt*", "kms:GenerateDataKey*") for a in actions):
                allowed = True
        if not allowed:
            found.append((lid, f"its key {key_id} does not let CloudWatch Logs (logs.<region>.amazonaws.com) use it: "
                               "CreateLogGroup fails at deploy; add the service to the key policy"))
    return found


RULES: tuple[Rule, ...] = (
    periodic_config_rules_have_no_scope,
    custom_resources_answer_within_an_hour,
    no_plain_retain,
    new_vpc_without_nat_has_endpoints,
    key_policies_name_only_this_bootstrap,
    fargate_profiles_have_at_most_five_selectors,
    log_group_keys_let_cloudwatch_logs_use_them,
)


def check_template(template: dict[str, Any], name: str = "template") -> list[Finding]:
    return [Finding(rule.__name__, name, lid, message) for rule in RULES for lid, message in rule(template)]


# --------------------------------------------------------------------------- `make scan`
def run(templates: list[Path], bin_dir: Path | None = None) -> list[dict[str, str]]:
    """The scan's runner: every rule on every template; findings as JSON-able dicts."""
    return [vars(f) for t in templates for f in check_template(json.loads(Path(t).read_text()), Path(t).name)]


def summarise(findings: list[dict[str, str]], templates: list[Path], version: str = "") -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # scan_common beside this file, also when loaded by path
    from scan_common import Outcome

    summary = (f"constraints: {len(findings)} violation{'s' if len(findings) != 1 else ''} of {len(RULES)} service "
               f"rules on {len(templates)} template{'s' if len(templates) != 1 else ''}")
    return Outcome("constraints", summary, [str(Finding(**f)) for f in findings], failed=bool(findings))


def main(argv: list[str]) -> int:
    assembly = Path(argv[0] if argv else "cdk.out")
    templates = sorted(p for p in assembly.rglob("*.template.json") if not any(x.startswith("asset.") for x in p.parts))
    findings = [Finding(**f) for f in run(templates)]
    for finding in findings:
        print(finding)
    print(f"{len(findings)} violation(s) on {len(templates)} template(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
