"""``EnvelopeEncryption`` — a cdk-nag v3 rule pack for envelope-encrypted EKS on Fargate.

cdk-nag's own EKS/KMS rules see almost nothing of a native ``AWS::EKS::Cluster`` (nothing about
secrets encryption, the key policy or access entries). This pack closes that gap. Register it like
any cdk-nag v3 pack::

    cdk.Validations.of(app).add_plugins(EnvelopeEncryptionChecks(app))

A finding reads ``EnvelopeEncryption-<suffix>`` and is acknowledged on the construct that owns it,
one id at a time::

    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id="EnvelopeEncryption-EKS4", reason="...a reason a reviewer can check"))

Rules (level ERROR unless noted; see :data:`RULES` for the full info and explanation):

======  ===============================  ===============================================
Suffix  Resource                         Compliant when
======  ===============================  ===============================================
EKS1    AWS::EKS::Cluster                secrets are encrypted with a customer managed
                                         key (a key ARN, never an alias)
EKS2    AWS::EKS::Cluster                that key (in the same stack) rotates
EKS3    AWS::EKS::Cluster                the cluster role may Encrypt, Decrypt,
                                         DescribeKey, ListGrants on that key
EKS4    AWS::EKS::Cluster                public endpoint off, or limited to explicit
                                         CIDRs, never 0.0.0.0/0 or ::/0
EKS5    AWS::EKS::Cluster                all five control-plane log types enabled
EKS6    AWS::EKS::Cluster                authentication mode API or API_AND_CONFIG_MAP
EKS7    AWS::EKS::Cluster                no cluster-creator admin (explicitly false)
EKS8    AWS::EKS::Cluster                deletion protection on (N/A when ephemeral)
EKS9    AWS::EKS::Cluster                a verification custom resource (WARNING)
EKS10   AWS::EKS::FargateProfile         pod execution role trust conditioned on
                                         aws:SourceArn
KMS1    AWS::KMS::Key                    no Allow statement with a ``*`` principal
KMS2    AWS::KMS::Key                    DeletionPolicy and UpdateReplacePolicy Retain
                                         (N/A when ephemeral)
KMS3    AWS::KMS::Key                    no key-policy principal is a role or user of
                                         the same stack (KMS may not see it yet)
KMS4    AWS::KMS::Key                    a key lock (Deny of ScheduleKeyDeletion,
                                         DisableKey or PutKeyPolicy to ``*``) exempts
                                         named principals by aws:PrincipalArn and the
                                         account-root statement stays (N/A: no lock)
IAM1    KMS::Key, IAM::Policy,           no kms:GrantIsForAWSResource condition on a
        ManagedPolicy, RolePolicy, Role  statement allowing kms:CreateGrant
CWL1    AWS::Logs::LogGroup              KMS-encrypted and with a retention period
======  ===============================  ===============================================

Every rule is a small function over one ``CfnResource`` returning a ``NagRuleCompliance``.
Values are resolved with ``Stack.of(node).resolve``; where a value is a token the rule cannot know
(a parameter, an ``Fn::ImportValue`` from another stack) the rule gives the benefit of the doubt
(COMPLIANT or NOT_APPLICABLE, as documented per rule) instead of throwing.

At synth (through ``Validations``) the rules read each resource from the synthesized template, so
``add_property_override`` and ``add_override`` are seen. Called directly on a construct tree (unit
tests, :func:`evaluate` on an app) they render the L1's typed properties instead, where raw
overrides are invisible (jsii does not expose them) — :func:`evaluate` on a template sees them.
References to resources in another stack cannot be followed.

A synth with only WARNING findings passes (cdk-nag 3.0.2's base class would fail it); findings
are printed and written to ``<outdir>/validation-report.json`` either way.
"""
from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from contextvars import ContextVar
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import jsii
from aws_cdk import (
    Acknowledgment,
    App,
    CfnDeletionPolicy,
    CfnResource,
    IPolicyValidationContext,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Stack,
    Stage,
    Validations,
)
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from .key import CLUSTER_ROLE_KEY_ACTIONS
from .contract import DELETION_PROTECTION_RESOURCE_TYPE, EPHEMERAL_METADATA_KEY, VERIFICATION_RESOURCE_TYPE

__all__ = [
    "PACK_NAME",
    "RULES",
    "EnvelopeEncryptionChecks",
    "Finding",
    "Rule",
    "evaluate",
]

PACK_NAME = "EnvelopeEncryption"

CLUSTER = "AWS::EKS::Cluster"
FARGATE_PROFILE = "AWS::EKS::FargateProfile"
KMS_KEY = "AWS::KMS::Key"
KMS_REPLICA_KEY = "AWS::KMS::ReplicaKey"
KMS_ALIAS = "AWS::KMS::Alias"
IAM_ROLE = "AWS::IAM::Role"
IAM_POLICY = "AWS::IAM::Policy"
IAM_MANAGED_POLICY = "AWS::IAM::ManagedPolicy"
IAM_ROLE_POLICY = "AWS::IAM::RolePolicy"
LOG_GROUP = "AWS::Logs::LogGroup"

#: What the cluster role needs on the secrets key (EKS docs + the verifier's grant check).
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
FARGATE_PODS_SERVICE = "eks-fargate-pods.amazonaws.com"
SOURCE_ARN_OPERATORS = ("arnlike", "arnequals", "stringlike", "stringequals")

COMPLIANT = NagRuleCompliance.COMPLIANT
NON_COMPLIANT = NagRuleCompliance.NON_COMPLIANT
NOT_APPLICABLE = NagRuleCompliance.NOT_APPLICABLE


# --------------------------------------------------------------------------------------------
# Resolution helpers (pure, tolerant of tokens)
# --------------------------------------------------------------------------------------------

#: Templates of the synthesis being validated (absolute path -> template), set by the pack's
#: ``validate`` so the rules see exactly what is deployed, ``add_property_override`` included.
_SYNTHESIZED: ContextVar[Mapping[str, Mapping[str, Any]]] = ContextVar("_SYNTHESIZED", default={})
#: Lookups that cannot change during one validation run, memoised for its duration: each reads the
#: construct tree through jsii round trips, and rules ask for them once per resource.
_RUN_CACHE: ContextVar[dict[Any, Any] | None] = ContextVar("_RUN_CACHE", default=None)


def _memoised(kind: str, key: Any, compute: Callable[[], Any]) -> Any:
    cache = _RUN_CACHE.get()
    if cache is None:
        return compute()
    if (kind, key) not in cache:
        cache[(kind, key)] = compute()
    return cache[(kind, key)]


def _synthesized(node: CfnResource) -> Mapping[str, Any] | None:
    """The node's resource in the template being validated, if any."""
    templates = _SYNTHESIZED.get()
    if not templates:
        return None
    return _memoised("synthesized", id(node), lambda: _synthesized_uncached(node, templates))


def _synthesized_uncached(node: CfnResource, templates: Mapping[str, Any]) -> Mapping[str, Any] | None:
    stack = Stack.of(node)
    template = templates.get(os.path.realpath(os.path.join(Stage.of(stack).outdir, stack.template_file)))
    resource = (template or {}).get("Resources", {}).get(stack.resolve(node.logical_id))
    return resource if isinstance(resource, Mapping) else None


def _props(node: CfnResource) -> dict[str, Any]:
    """The resource's properties in CloudFormation casing, resolved in its stack.

    From the synthesized template while the pack validates a synthesis; otherwise rendered from
    the L1 — resolved before rendering, as CfnResource does at synth: the L1 validators reject
    unresolved tokens (a parameter where a boolean is expected) but accept their intrinsics.
    """
    synthesized = _synthesized(node)
    if synthesized is not None:
        return dict(synthesized.get("Properties") or {})
    stack = Stack.of(node)
    rendered = node._render_properties(stack.resolve(node._cfn_properties))  # protected CfnResource API
    resolved = stack.resolve(rendered)
    return resolved if isinstance(resolved, dict) else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _as_bool(value: Any) -> bool | None:
    """True/False for a known boolean (CloudFormation also accepts "true"/"false"), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _flag_compliance(raw: Any) -> NagRuleCompliance:
    """A boolean property that must be true: absent or false fails; an unresolvable value is N/A."""
    flag = _as_bool(raw)
    if flag is None and raw is not None:
        return NOT_APPLICABLE
    return COMPLIANT if flag else NON_COMPLIANT


def _referenced_logical_id(value: Any) -> str | None:
    """The logical id behind ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attr]}``."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    if isinstance(value.get("Ref"), str):
        return value["Ref"]
    get_att = value.get("Fn::GetAtt")
    if isinstance(get_att, list) and get_att and isinstance(get_att[0], str):
        return get_att[0]
    if isinstance(get_att, str):
        return get_att.split(".", 1)[0]
    return None


def _all_referenced_logical_ids(value: Any) -> set[str]:
    """Every logical id referenced anywhere inside a resolved value."""
    found: set[str] = set()
    if isinstance(value, dict):
        direct = _referenced_logical_id(value)
        if direct:
            found.add(direct)
        sub = value.get("Fn::Sub")
        template = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(template, str):
            for part in template.split("${")[1:]:
                found.add(part.split("}", 1)[0].split(".", 1)[0])
        for item in value.values():
            found |= _all_referenced_logical_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= _all_referenced_logical_ids(item)
    return found


def _literal_text(value: Any) -> tuple[str, bool] | None:
    """``(text, fully_literal)`` for a string, ``Fn::Join`` or ``Fn::Sub``; None otherwise.

    Non-literal parts of a join become ``"?"`` so that ``":key/"`` or ``":alias/"`` can still be
    recognised in ``arn:${AWS::Partition}:kms:...``.
    """
    if isinstance(value, str):
        return value, True
    if isinstance(value, dict) and len(value) == 1:
        join = value.get("Fn::Join")
        if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list):
            separator = join[0] if isinstance(join[0], str) else ""
            return separator.join(p if isinstance(p, str) else "?" for p in join[1]), False
        sub = value.get("Fn::Sub")
        template = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(template, str):
            return template, False
    return None


def _stack_resources(node: CfnResource) -> dict[str, CfnResource]:
    """Every CfnResource of the node's own stack (not nested stacks), by logical id."""
    stack = Stack.of(node)
    return _memoised("stack-resources", id(stack), lambda: _stack_resources_uncached(stack))


def _stack_resources_uncached(stack: Stack) -> dict[str, CfnResource]:
    resources: dict[str, CfnResource] = {}
    for construct in stack.node.find_all():
        if isinstance(construct, CfnResource) and Stack.of(construct) is stack:
            resources[stack.resolve(construct.logical_id)] = construct
    return resources


def _logical_id(node: CfnResource) -> str:
    return Stack.of(node).resolve(node.logical_id)


def _is_ephemeral(node: CfnResource) -> bool:
    synthesized = _synthesized(node)
    if synthesized is not None:
        marker = (synthesized.get("Metadata") or {}).get(EPHEMERAL_METADATA_KEY)
    else:
        marker = node.get_metadata(EPHEMERAL_METADATA_KEY)
    if isinstance(marker, str):
        return marker.lower() not in ("", "false", "0", "no")
    return bool(marker)


# ---- policy documents ---------------------------------------------------------------------

def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _action_matches(pattern: Any, action: str) -> bool:
    return isinstance(pattern, str) and fnmatchcase(action.lower(), pattern.lower())


def _covers(statement: Mapping[str, Any], action: str, effect: str = "Allow") -> bool:
    """Whether a statement of ``effect`` covers ``action`` (wildcards and NotAction understood)."""
    if statement.get("Effect") != effect:
        return False
    if "NotAction" in statement:
        return not any(_action_matches(p, action) for p in _as_list(statement["NotAction"]))
    return any(_action_matches(p, action) for p in _as_list(statement.get("Action")))


def _allows(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement grants ``action``."""
    return _covers(statement, action)


def _aws_principals(statement: Mapping[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return _as_list(principal.get("AWS"))
    return []


def _service_principals(statement: Mapping[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    return _as_list(principal.get("Service")) if isinstance(principal, dict) else []


def _condition_keys(statement: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(operator, key)`` pairs of a statement's Condition, both lower-cased."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return
    for operator, clauses in condition.items():
        if isinstance(clauses, dict):
            for key in clauses:
                yield str(operator).lower(), str(key).lower()


def _is_account_root(principal: Any) -> bool:
    text = _literal_text(principal)
    if text is None:
        return False
    value, literal = text
    if literal and value.isdigit() and len(value) == 12:
        return True
    return value.endswith(":root") and ":iam::" in value


def _policy_documents(node: CfnResource) -> list[Any]:
    """Every policy document carried by a key, an IAM policy or a role's inline policies."""
    props = _props(node)
    kind = node.cfn_resource_type
    if kind == KMS_KEY:
        return [props.get("KeyPolicy")]
    if kind == IAM_ROLE:
        return [p.get("PolicyDocument") for p in _as_list(props.get("Policies")) if isinstance(p, dict)]
    return [props.get("PolicyDocument")]


# ---- the cluster's secrets key -------------------------------------------------------------

@dataclass(frozen=True)
class _KeyReference:
    """What ``EncryptionConfig[secrets].Provider.KeyArn`` points at.

    kind: ``absent`` (no secrets encryption), ``stack-key`` (an AWS::KMS::Key of this stack),
    ``external-key`` (a literal key ARN, a replica key), ``alias``, ``invalid`` (a literal that is
    neither a key ARN nor an alias), ``unknown`` (a token the rule cannot follow).
    key: the AWS::KMS::Key in this stack when known (also behind an alias of this stack).
    """

    kind: str
    key: CfnResource | None = None


def _secrets_key(cluster: CfnResource, resources: Mapping[str, CfnResource] | None = None) -> _KeyReference:
    key_arn = None
    for entry in _as_list(_props(cluster).get("EncryptionConfig")):
        if isinstance(entry, dict) and "secrets" in _as_list(entry.get("Resources")):
            provider = entry.get("Provider")
            key_arn = provider.get("KeyArn") if isinstance(provider, dict) else None
            if key_arn is not None:
                break
    if key_arn is None:
        return _KeyReference("absent")

    logical_id = _referenced_logical_id(key_arn)
    if logical_id is not None:
        resources = _stack_resources(cluster) if resources is None else resources
        target = resources.get(logical_id)
        kind = target.cfn_resource_type if target is not None else None
        if kind == KMS_KEY:
            return _KeyReference("stack-key", target)
        if kind == KMS_REPLICA_KEY:
            return _KeyReference("external-key")
        if kind == KMS_ALIAS:
            aliased = resources.get(_referenced_logical_id(_props(target).get("TargetKeyId")) or "")
            if aliased is not None and aliased.cfn_resource_type == KMS_KEY:
                return _KeyReference("alias", aliased)
            return _KeyReference("alias")
        return _KeyReference("unknown")  # a parameter, another stack's output, ...

    text = _literal_text(key_arn)
    if text is None:
        return _KeyReference("unknown")  # Fn::ImportValue, Fn::Select, ...
    value, literal = text
    if value.startswith("alias/") or ":alias/" in value:
        return _KeyReference("alias")
    if ":key/" in value:
        return _KeyReference("external-key")
    return _KeyReference("invalid" if literal else "unknown")


# --------------------------------------------------------------------------------------------
# Rules: one pure function per concern, named for the compliant state
# --------------------------------------------------------------------------------------------

def cluster_secrets_encrypted_with_customer_key(node: CfnResource) -> NagRuleCompliance:
    """EKS1: secrets encrypted under a customer managed key referenced by key ARN, not an alias.

    COMPLIANT for an AWS::KMS::Key of the stack, a literal key ARN (``:key/``) or a token the rule
    cannot follow (e.g. ``Fn::ImportValue``); NON_COMPLIANT when absent, an alias (ARN, name,
    ``alias/aws/...``, an AWS::KMS::Alias of the stack) or a literal that is not a key ARN.
    """
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    kind = _secrets_key(node).kind
    return COMPLIANT if kind in ("stack-key", "external-key", "unknown") else NON_COMPLIANT


def cluster_secrets_key_rotation_enabled(node: CfnResource) -> NagRuleCompliance:
    """EKS2: the cluster's secrets key (an AWS::KMS::Key of the same stack) rotates.

    NOT_APPLICABLE without a key of this stack (imported key ARN, other stack, no encryption:
    EKS1 covers that) or when EnableKeyRotation is a token.
    """
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    key = _secrets_key(node).key
    if key is None:
        return NOT_APPLICABLE
    return _flag_compliance(_props(key).get("EnableKeyRotation"))


def cluster_role_can_use_secrets_key(node: CfnResource) -> NagRuleCompliance:
    """EKS3: the cluster role may Encrypt, Decrypt, DescribeKey and ListGrants on the secrets key.

    Granted by the key policy naming the cluster role, or — when the key policy delegates to the
    account root — by the role's own IAM policies in the stack (AWS::IAM::Policy,
    AWS::IAM::ManagedPolicy, AWS::IAM::RolePolicy, inline Policies) on that key or ``*``.
    NOT_APPLICABLE without a key of this stack, or when only the role's IAM policies could grant
    and the role is not in the stack.
    """
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    resources = _stack_resources(node)
    key = _secrets_key(node, resources).key
    if key is None:
        return NOT_APPLICABLE
    role_arn = _props(node).get("RoleArn")
    role_id = _referenced_logical_id(role_arn)
    role = resources.get(role_id or "")
    if role is None or role.cfn_resource_type != IAM_ROLE:
        role_id, role = None, None

    def names_role(principal: Any) -> bool:
        return principal == role_arn or (role_id is not None and _referenced_logical_id(principal) == role_id)

    key_statements = _statements(_props(key).get("KeyPolicy"))
    missing = set(CLUSTER_ROLE_KEY_ACTIONS)
    delegated: set[str] = set()
    for statement in key_statements:
        principals = _aws_principals(statement)
        for action in CLUSTER_ROLE_KEY_ACTIONS:
            if _allows(statement, action):
                if any(names_role(p) for p in principals):
                    missing.discard(action)
                if any(_is_account_root(p) for p in principals):
                    delegated.add(action)
    if not missing:
        return COMPLIANT
    if not missing <= delegated:
        return NON_COMPLIANT
    if role is None:
        return NOT_APPLICABLE
    key_id = _logical_id(key)
    for statement in _role_identity_statements(role_id, role, resources):
        if _covers_key(statement, key_id):
            missing -= {a for a in CLUSTER_ROLE_KEY_ACTIONS if _allows(statement, a)}
    return COMPLIANT if not missing else NON_COMPLIANT


def _role_identity_statements(
    role_id: str, role: CfnResource, resources: Mapping[str, CfnResource]
) -> Iterator[dict[str, Any]]:
    role_props = _props(role)
    for policy in _as_list(role_props.get("Policies")):
        if isinstance(policy, dict):
            yield from _statements(policy.get("PolicyDocument"))
    attached = {_referenced_logical_id(arn) for arn in _as_list(role_props.get("ManagedPolicyArns"))}
    for logical_id, resource in resources.items():
        kind = resource.cfn_resource_type
        if kind not in (IAM_POLICY, IAM_MANAGED_POLICY, IAM_ROLE_POLICY):
            continue
        props = _props(resource)
        roles = {_referenced_logical_id(r) for r in _as_list(props.get("Roles"))}
        roles.add(_referenced_logical_id(props.get("RoleName")))
        if role_id in roles or (kind == IAM_MANAGED_POLICY and logical_id in attached):
            yield from _statements(props.get("PolicyDocument"))


def _covers_key(statement: Mapping[str, Any], key_id: str) -> bool:
    for resource in _as_list(statement.get("Resource")):
        if resource == "*" or _referenced_logical_id(resource) == key_id:
            return True
        text = _literal_text(resource)
        if text is not None and text[0].endswith(":key/*"):
            return True
    return False


def cluster_endpoint_not_public(node: CfnResource) -> NagRuleCompliance:
    """EKS4: public endpoint off, or on only for explicit CIDRs, none of them 0.0.0.0/0 or ::/0.

    AWS::EKS::Cluster defaults to a public endpoint open to 0.0.0.0/0 when EndpointPublicAccess
    or PublicAccessCidrs is absent. NOT_APPLICABLE when EndpointPublicAccess is a token.
    """
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    vpc_config = _props(node).get("ResourcesVpcConfig")
    vpc_config = vpc_config if isinstance(vpc_config, dict) else {}
    raw = vpc_config.get("EndpointPublicAccess")
    public = True if raw is None else _as_bool(raw)
    if public is None:
        return NOT_APPLICABLE
    if not public:
        return COMPLIANT
    cidrs = vpc_config.get("PublicAccessCidrs")
    if not isinstance(cidrs, list) or not cidrs:
        return NOT_APPLICABLE if isinstance(cidrs, dict) else NON_COMPLIANT
    return NON_COMPLIANT if any(_is_anywhere(c) for c in cidrs) else COMPLIANT


def _is_anywhere(cidr: Any) -> bool:
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def cluster_control_plane_logs_enabled(node: CfnResource) -> NagRuleCompliance:
    """EKS5: api, audit, authenticator, controllerManager and scheduler logs all enabled."""
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    logging = _props(node).get("Logging")
    cluster_logging = logging.get("ClusterLogging") if isinstance(logging, dict) else None
    enabled = cluster_logging.get("EnabledTypes") if isinstance(cluster_logging, dict) else None
    types = {t.get("Type") for t in _as_list(enabled) if isinstance(t, dict)}
    return COMPLIANT if set(CONTROL_PLANE_LOG_TYPES) <= types else NON_COMPLIANT


def cluster_access_entries_enabled(node: CfnResource) -> NagRuleCompliance:
    """EKS6: AccessConfig.AuthenticationMode is API or API_AND_CONFIG_MAP (absent = CONFIG_MAP)."""
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    access = _props(node).get("AccessConfig")
    mode = access.get("AuthenticationMode") if isinstance(access, dict) else None
    if mode is not None and not isinstance(mode, str):
        return NOT_APPLICABLE
    return COMPLIANT if mode in ACCESS_ENTRY_MODES else NON_COMPLIANT


def cluster_creator_not_admin(node: CfnResource) -> NagRuleCompliance:
    """EKS7: BootstrapClusterCreatorAdminPermissions explicitly false (absent means true)."""
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    access = _props(node).get("AccessConfig")
    raw = access.get("BootstrapClusterCreatorAdminPermissions") if isinstance(access, dict) else None
    if raw is None:
        return NON_COMPLIANT
    bootstrap = _as_bool(raw)
    if bootstrap is None:
        return NOT_APPLICABLE
    return NON_COMPLIANT if bootstrap else COMPLIANT


def cluster_deletion_protected(node: CfnResource) -> NagRuleCompliance:
    """EKS8: deletion protection on; NOT_APPLICABLE on an ephemeral cluster.

    On through the cluster's own ``DeletionProtection``, or through a
    ``Custom::ClusterDeletionProtection`` of the stack that references this cluster with
    ``Protect`` true (protection switched on after a verified deploy, so that it never blocks the
    rollback of a failed first deploy).
    """
    if node.cfn_resource_type != CLUSTER or _is_ephemeral(node):
        return NOT_APPLICABLE
    own = _flag_compliance(_props(node).get("DeletionProtection"))
    if own != NON_COMPLIANT:
        return own
    own_id = _logical_id(node)
    for resource in _stack_resources(node).values():
        if resource.cfn_resource_type != DELETION_PROTECTION_RESOURCE_TYPE:
            continue
        props = _props(resource)
        if own_id in _all_referenced_logical_ids(props) and _flag_compliance(props.get("Protect")) == COMPLIANT:
            return COMPLIANT
    return NON_COMPLIANT


def cluster_encryption_verified(node: CfnResource) -> NagRuleCompliance:
    """EKS9: the stack holds a verification custom resource for this cluster.

    A verification resource counts for this cluster when it references it (Ref/GetAtt/Sub) or
    references no cluster of the stack at all (e.g. a literal cluster name).
    """
    if node.cfn_resource_type != CLUSTER:
        return NOT_APPLICABLE
    resources = _stack_resources(node)
    clusters = {lid for lid, r in resources.items() if r.cfn_resource_type == CLUSTER}
    own_id = _logical_id(node)
    for resource in resources.values():
        if resource.cfn_resource_type == VERIFICATION_RESOURCE_TYPE:
            referenced = _all_referenced_logical_ids(_props(resource)) & clusters
            if own_id in referenced or not referenced:
                return COMPLIANT
    return NON_COMPLIANT


def fargate_pod_execution_role_trust_scoped(node: CfnResource) -> NagRuleCompliance:
    """EKS10: the pod execution role trusts eks-fargate-pods only under an aws:SourceArn condition.

    Every Allow statement for eks-fargate-pods.amazonaws.com must carry aws:SourceArn under
    ArnLike, ArnEquals, StringLike or StringEquals (confused-deputy protection).
    NOT_APPLICABLE when the role is not in the profile's stack.
    """
    if node.cfn_resource_type != FARGATE_PROFILE:
        return NOT_APPLICABLE
    role_id = _referenced_logical_id(_props(node).get("PodExecutionRoleArn"))
    role = _stack_resources(node).get(role_id or "")
    if role is None or role.cfn_resource_type != IAM_ROLE:
        return NOT_APPLICABLE
    trust = [
        s
        for s in _statements(_props(role).get("AssumeRolePolicyDocument"))
        if s.get("Effect") == "Allow" and FARGATE_PODS_SERVICE in _service_principals(s)
    ]
    if not trust:
        return NON_COMPLIANT
    for statement in trust:
        keys = set(_condition_keys(statement))
        if not any((op, "aws:sourcearn") in keys for op in SOURCE_ARN_OPERATORS):
            return NON_COMPLIANT
    return COMPLIANT


def key_policy_no_wildcard_principal(node: CfnResource) -> NagRuleCompliance:
    """KMS1: no Allow statement in the key policy with Principal ``*`` or ``{"AWS": "*"}``."""
    if node.cfn_resource_type != KMS_KEY:
        return NOT_APPLICABLE
    for statement in _statements(_props(node).get("KeyPolicy")):
        if statement.get("Effect") == "Allow" and "*" in _aws_principals(statement):
            return NON_COMPLIANT
    return COMPLIANT


def key_policy_names_no_role_of_the_stack(node: CfnResource) -> NagRuleCompliance:
    """KMS3: no key-policy principal is an IAM role (or user) created in the same stack.

    KMS refuses a key policy whose principals it cannot see (CreateKey/PutKeyPolicy: "principals
    must exist and be visible"), and a role created seconds earlier in the same deploy may not be
    yet: the deploy fails intermittently. Grant such a role through its own IAM policy, relying on
    the account-root statement. Deny statements are not checked.
    """
    if node.cfn_resource_type != KMS_KEY:
        return NOT_APPLICABLE
    resources = _stack_resources(node)
    principals_of_stack = {
        lid for lid, r in resources.items() if r.cfn_resource_type in (IAM_ROLE, "AWS::IAM::User")
    }
    for statement in _statements(_props(node).get("KeyPolicy")):
        if statement.get("Effect") != "Allow":
            continue
        for principal in _aws_principals(statement):
            if _all_referenced_logical_ids(principal) & principals_of_stack:
                return NON_COMPLIANT
    return COMPLIANT


def key_retained(node: CfnResource) -> NagRuleCompliance:
    """KMS2: DeletionPolicy and UpdateReplacePolicy Retain; NOT_APPLICABLE on an ephemeral key."""
    if node.cfn_resource_type != KMS_KEY or _is_ephemeral(node):
        return NOT_APPLICABLE
    deletion, update_replace = _replacement_policies(node)
    retained = deletion in ("Retain", "RetainExceptOnCreate") and update_replace == "Retain"
    return COMPLIANT if retained else NON_COMPLIANT


#: Actions whose blanket denial could lock everyone out of the key (see key.py's key lock).
_LOCKABLE_KEY_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy")
_EXEMPTING_OPERATORS = ("arnnotlike", "arnnotequals", "stringnotlike", "stringnotequals")


def _exempts_named_principals(statement: Mapping[str, Any]) -> bool:
    """Whether a Deny keeps a way in: a negated aws:PrincipalArn condition naming at least one principal."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for operator, clauses in condition.items():
        if str(operator).lower() not in _EXEMPTING_OPERATORS or not isinstance(clauses, dict):
            continue
        for key, values in clauses.items():
            if str(key).lower() == "aws:principalarn" and any(v not in ("", "*") for v in _as_list(values)):
                return True
    return False


def key_lock_keeps_a_way_in(node: CfnResource) -> NagRuleCompliance:
    """KMS4: a key lock exempts named principals and keeps the account-root statement; N/A without a lock."""
    if node.cfn_resource_type != KMS_KEY:
        return NOT_APPLICABLE
    statements = _statements(_props(node).get("KeyPolicy"))
    locks = [
        s for s in statements
        if "*" in _aws_principals(s) and any(_covers(s, a, "Deny") for a in _LOCKABLE_KEY_ACTIONS)
    ]
    if not locks:
        return NOT_APPLICABLE
    root_kept = any(
        s.get("Effect") == "Allow" and any(_is_account_root(p) for p in _aws_principals(s)) for s in statements
    )
    return COMPLIANT if root_kept and all(_exempts_named_principals(s) for s in locks) else NON_COMPLIANT


_POLICY_NAMES = {
    CfnDeletionPolicy.RETAIN: "Retain",
    CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE: "RetainExceptOnCreate",
    CfnDeletionPolicy.DELETE: "Delete",
    CfnDeletionPolicy.SNAPSHOT: "Snapshot",
}


def _replacement_policies(node: CfnResource) -> tuple[str | None, str | None]:
    """``(DeletionPolicy, UpdateReplacePolicy)`` as CloudFormation writes them."""
    synthesized = _synthesized(node)
    if synthesized is not None:
        return synthesized.get("DeletionPolicy"), synthesized.get("UpdateReplacePolicy")
    options = node.cfn_options
    return _POLICY_NAMES.get(options.deletion_policy), _POLICY_NAMES.get(options.update_replace_policy)


def create_grant_without_grant_is_for_aws_resource(node: CfnResource) -> NagRuleCompliance:
    """IAM1: no statement allowing kms:CreateGrant carries a kms:GrantIsForAWSResource condition.

    Checked in key policies, AWS::IAM::Policy / ManagedPolicy / RolePolicy and role inline policies.
    """
    if node.cfn_resource_type not in _POLICY_CARRIERS:
        return NOT_APPLICABLE
    for document in _policy_documents(node):
        for statement in _statements(document):
            if _allows(statement, "kms:CreateGrant") and any(
                key == "kms:grantisforawsresource" for _, key in _condition_keys(statement)
            ):
                return NON_COMPLIANT
    return COMPLIANT


_POLICY_CARRIERS = frozenset({KMS_KEY, IAM_POLICY, IAM_MANAGED_POLICY, IAM_ROLE_POLICY, IAM_ROLE})


def log_group_encrypted_with_retention(node: CfnResource) -> NagRuleCompliance:
    """CWL1: the log group has a KmsKeyId and a RetentionInDays."""
    if node.cfn_resource_type != LOG_GROUP:
        return NOT_APPLICABLE
    props = _props(node)
    has_both = props.get("KmsKeyId") is not None and props.get("RetentionInDays") is not None
    return COMPLIANT if has_both else NON_COMPLIANT


# --------------------------------------------------------------------------------------------
# The rule table (single source for the pack and for evaluate())
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One rule of the pack: a stable suffix, the resource types it checks, its level and text."""

    suffix: str
    check: Callable[[CfnResource], NagRuleCompliance]
    resource_types: frozenset[str]
    info: str
    explanation: str
    level: NagMessageLevel = NagMessageLevel.ERROR

    @property
    def rule_id(self) -> str:
        return f"{PACK_NAME}-{self.suffix}"


RULES: tuple[Rule, ...] = (
    Rule(
        "EKS1",
        cluster_secrets_encrypted_with_customer_key,
        frozenset({CLUSTER}),
        "The EKS cluster does not envelope-encrypt Kubernetes secrets with a customer managed KMS key "
        "referenced by key ARN.",
        "EncryptionConfig must list 'secrets' with Provider.KeyArn the ARN of a customer managed key. "
        "An alias can be repointed to another key (and alias/aws/... is AWS managed, with a key policy you cannot "
        "restrict); without EncryptionConfig secrets are only protected by EKS-managed etcd encryption.",
    ),
    Rule(
        "EKS2",
        cluster_secrets_key_rotation_enabled,
        frozenset({CLUSTER}),
        "The KMS key that encrypts the cluster's secrets does not have automatic rotation enabled.",
        "Rotation limits the data encrypted under one key version. Checked on an AWS::KMS::Key of the same stack "
        "only; for an imported key ARN the rule is not applicable and rotation is verified after deploy.",
    ),
    Rule(
        "EKS3",
        cluster_role_can_use_secrets_key,
        frozenset({CLUSTER}),
        "The cluster role is not granted kms:Encrypt, kms:Decrypt, kms:DescribeKey and kms:ListGrants "
        "on the secrets key.",
        "EKS calls KMS as the cluster role; without these permissions cluster creation fails or secrets become "
        "unreadable. Grant them in the key policy (principal: the cluster role) or, with the account-root "
        "statement kept, in an IAM policy of the role on that key.",
    ),
    Rule(
        "EKS4",
        cluster_endpoint_not_public,
        frozenset({CLUSTER}),
        "The EKS cluster API endpoint is public to the internet (0.0.0.0/0 or ::/0, the default).",
        "Disable EndpointPublicAccess, or restrict PublicAccessCidrs to known networks; when absent, "
        "AWS::EKS::Cluster opens the endpoint to 0.0.0.0/0.",
    ),
    Rule(
        "EKS5",
        cluster_control_plane_logs_enabled,
        frozenset({CLUSTER}),
        "The EKS cluster does not enable all five control-plane log types.",
        "api, audit, authenticator, controllerManager and scheduler logs are the record of who read or changed "
        "secrets and of authentication failures.",
    ),
    Rule(
        "EKS6",
        cluster_access_entries_enabled,
        frozenset({CLUSTER}),
        "The EKS cluster does not use access entries (AccessConfig.AuthenticationMode API or API_AND_CONFIG_MAP).",
        "Access entries are managed through the EKS API and CloudFormation and are audited in CloudTrail; "
        "the aws-auth ConfigMap (CONFIG_MAP, the default) is neither.",
    ),
    Rule(
        "EKS7",
        cluster_creator_not_admin,
        frozenset({CLUSTER}),
        "The EKS cluster grants its creator implicit cluster-admin "
        "(BootstrapClusterCreatorAdminPermissions not false).",
        "The deploying principal (often a CI role) would hold invisible cluster-admin; name administrators with "
        "access entries instead. Absent means true.",
    ),
    Rule(
        "EKS8",
        cluster_deletion_protected,
        frozenset({CLUSTER}),
        "The EKS cluster does not have deletion protection enabled.",
        "Deleting the cluster deletes its secrets. On through DeletionProtection or a "
        f"{DELETION_PROTECTION_RESOURCE_TYPE} with Protect true. Not applicable to resources marked ephemeral "
        f"(metadata '{EPHEMERAL_METADATA_KEY}').",
    ),
    Rule(
        "EKS9",
        cluster_encryption_verified,
        frozenset({CLUSTER}),
        f"The stack has no verification custom resource ({VERIFICATION_RESOURCE_TYPE}) for the EKS cluster.",
        "Configuration is not proof: the verification resource writes and reads a canary secret and checks the key "
        "and its grants after every deploy.",
        NagMessageLevel.WARN,
    ),
    Rule(
        "EKS10",
        fargate_pod_execution_role_trust_scoped,
        frozenset({FARGATE_PROFILE}),
        "The Fargate pod execution role trusts eks-fargate-pods.amazonaws.com without an aws:SourceArn condition.",
        "Without aws:SourceArn (ArnLike/ArnEquals/StringLike/StringEquals on the Fargate profile ARN) any Fargate "
        "profile in the account could use the role (confused deputy). Not applicable when the role is not in the "
        "profile's stack.",
    ),
    Rule(
        "KMS1",
        key_policy_no_wildcard_principal,
        frozenset({KMS_KEY}),
        "The KMS key policy allows a wildcard principal ('*').",
        "A '*' principal opens the key to every AWS account, conditions or not; name principals explicitly "
        "(the account root, administrators, the cluster role).",
    ),
    Rule(
        "KMS2",
        key_retained,
        frozenset({KMS_KEY}),
        "The KMS key is not retained on stack deletion or replacement (DeletionPolicy/UpdateReplacePolicy Retain).",
        "Deleting the key makes everything encrypted under it unrecoverable. Not applicable to resources marked "
        f"ephemeral (metadata '{EPHEMERAL_METADATA_KEY}').",
    ),
    Rule(
        "KMS3",
        key_policy_names_no_role_of_the_stack,
        frozenset({KMS_KEY}),
        "The KMS key policy names an IAM role or user created in the same stack.",
        "KMS refuses key policies whose principals it cannot see yet, and a role created seconds earlier may not "
        "be visible: the deploy fails intermittently. Grant the role through its own IAM policy; the key policy's "
        "account-root statement delegates to IAM.",
    ),
    Rule(
        "KMS4",
        key_lock_keeps_a_way_in,
        frozenset({KMS_KEY}),
        "The KMS key policy denies ScheduleKeyDeletion, DisableKey or PutKeyPolicy to everyone without exempting "
        "named principals, or without the account-root statement.",
        "A blanket Deny on these actions can lock every principal, the account root included, out of the key for good. "
        "Exempt named break-glass roles with a negated aws:PrincipalArn condition (ArnNotLike) and keep the "
        "account-root Allow statement so IAM can still govern the key.",
    ),
    Rule(
        "IAM1",
        create_grant_without_grant_is_for_aws_resource,
        _POLICY_CARRIERS,
        "A statement allowing kms:CreateGrant is conditioned on kms:GrantIsForAWSResource.",
        "EKS documents kms:GrantIsForAWSResource as unsupported for CreateCluster: the grant request is made by the "
        "caller, so the condition denies it and cluster creation fails.",
    ),
    Rule(
        "CWL1",
        log_group_encrypted_with_retention,
        frozenset({LOG_GROUP}),
        "The CloudWatch log group is not encrypted with a KMS key or has no retention period.",
        "Control-plane and verifier logs carry cluster metadata; encrypt them with KMS and expire them.",
    ),
)

RULES_BY_SUFFIX: dict[str, Rule] = {rule.suffix: rule for rule in RULES}


# --------------------------------------------------------------------------------------------
# The pack
# --------------------------------------------------------------------------------------------

@jsii.implements(IApplyRule)
class _AppliedRule:
    """A Rule bound to one resource, in the shape cdk-nag's applyRule expects.

    jsii reads these members through property getters: plain instance attributes are not seen.
    """

    def __init__(self, rule: Rule, node: CfnResource) -> None:
        self._rule = rule
        self._node = node

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return self._rule.level

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.suffix

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        return self._rule.check(node)


class EnvelopeEncryptionChecks(NagPack):
    """cdk-nag v3 pack ``EnvelopeEncryption``: envelope-encrypted EKS on Fargate.

    ``cdk.Validations.of(app).add_plugins(EnvelopeEncryptionChecks(app))``.

    Unlike cdk-nag 3.0.2's base class, a report with only WARNING findings does not fail the
    synth (they are still printed and written to validation-report.json).

    :param scope: where to add the aspect for ``write_suppressions_to_cloud_formation``.
    :param verbose: include each rule's explanation in the finding. :default: False
    :param write_suppressions_to_cloud_formation: copy acknowledgments into template metadata
        (``cdk_nag.rules_to_suppress``). :default: False
    """

    def __init__(
        self,
        scope: IConstruct | None = None,
        *,
        verbose: bool | None = None,
        write_suppressions_to_cloud_formation: bool | None = None,
    ) -> None:
        super().__init__(
            scope,
            verbose=verbose,
            write_suppressions_to_cloud_formation=write_suppressions_to_cloud_formation,
        )
        self._pack_name = PACK_NAME
        self._verbose = bool(verbose)

    #: Every rule of the pack (each applies to the resource types it names).
    rules = RULES

    @property
    def name(self) -> str:
        return PACK_NAME

    def _check_resource(self, node: CfnResource) -> None:
        resource_type = node.cfn_resource_type
        for rule in RULES:
            if resource_type in rule.resource_types:
                self._apply_rule(_AppliedRule(rule, node))

    def validate_scope(self, scope: IConstruct) -> PolicyValidationPluginReport:
        """Evaluate every rule in Python, with cdk-nag's semantics, and no per-rule jsii round trips.

        cdk-nag's own walk calls back into Python for each resource and reads each applied rule's
        members through jsii (about 1,500 kernel requests per synth of the bundled app). Here the
        tree is listed once, rules run as plain functions, and acknowledgements are read only
        along the ancestry of a non-compliant resource. ``validate()`` (through cdk-nag) and
        :func:`evaluate` both land here.
        """
        cache_token = _RUN_CACHE.set(_RUN_CACHE.get() if _RUN_CACHE.get() is not None else {})
        try:
            violations: dict[str, tuple[Rule, str, list[PolicyViolatingResource]]] = {}
            for node in scope.node.find_all():
                if not isinstance(node, CfnResource):
                    continue
                resource_type = node.cfn_resource_type
                for rule in RULES:
                    if resource_type not in rule.resource_types:
                        continue
                    try:
                        compliant = rule.check(node) != NON_COMPLIANT
                        description = rule.info
                    except Exception as err:  # cdk-nag reports a throwing rule as a finding too
                        compliant, description = False, f"Rule threw an error during validation: {err}"
                    if compliant or _acknowledged_on(node, rule.rule_id):
                        continue
                    if self._verbose:
                        description = f"{description} {rule.explanation}"
                    entry = violations.setdefault(rule.rule_id, (rule, description, []))
                    entry[2].append(PolicyViolatingResource(construct_path=node.node.path, locations=["Properties"]))
        finally:
            _RUN_CACHE.reset(cache_token)
        return PolicyValidationPluginReport(
            success=not violations,
            violations=[
                PolicyViolation(
                    rule_name=rule_id,
                    description=description,
                    severity="error" if rule.level == NagMessageLevel.ERROR else "warning",
                    violating_resources=resources,
                )
                for rule_id, (rule, description, resources) in violations.items()
            ],
        )

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        templates = {}
        for path in context.template_paths:
            with open(path, encoding="utf-8") as template:
                templates[os.path.realpath(path)] = json.load(template)
        token = _SYNTHESIZED.set(templates)
        try:
            report = super().validate(context)  # cdk-nag dispatches to validate_scope, which caches per run
        finally:
            _SYNTHESIZED.reset(token)
        has_errors = any(v.severity not in ("warning", "info") for v in report.violations)
        return PolicyValidationPluginReport(
            success=not has_errors,
            violations=report.violations,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
        )


# --------------------------------------------------------------------------------------------
# Findings without Validations (README tables, scripts)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One non-compliant resource: ``rule_id`` e.g. ``EnvelopeEncryption-EKS1``; ``level`` is
    ``"error"`` or ``"warning"``; ``resource_path`` the construct path (for a template: its
    ``aws:cdk:path`` metadata, else the logical id)."""

    rule_id: str
    resource_path: str
    level: str
    description: str


def evaluate(target: IConstruct | Mapping[str, Any]) -> list[Finding]:
    """Run the pack's rules on a construct tree or a synthesized template; return the findings.

    Same rule table and code path as :class:`EnvelopeEncryptionChecks` (``validate_scope``),
    without registering a validation plugin; acknowledgments are honoured (in a template: the
    ``cdk_nag.rules_to_suppress`` metadata written by ``write_suppressions_to_cloud_formation``).
    For an app, call it after ``app.synth()`` so aspects have run; a template additionally sees
    properties set with ``add_property_override``.
    """
    if isinstance(target, Mapping):
        return _evaluate_template(target)
    return _findings(EnvelopeEncryptionChecks().validate_scope(target), rename={})


def _normalized_acknowledgment(finding_id: str) -> str:
    """``Annotation::X`` and ``EnvelopeEncryption::X`` (the form the report prints) both mean X."""
    namespace, separator, rule_id = finding_id.partition("::")
    if separator and namespace.lower() in ("annotation", PACK_NAME.lower()):
        return rule_id
    return finding_id


def _acknowledged_on(node: IConstruct, rule_id: str) -> bool:
    """cdk-nag's rule: acknowledged on the resource or any of its ancestors."""
    for scope in node.node.scopes:
        for entry in scope.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY and isinstance(entry.data, Mapping):
                if rule_id in {_normalized_acknowledgment(i) for i in entry.data}:
                    return True
    return False


def _evaluate_template(template: Mapping[str, Any]) -> list[Finding]:
    from aws_cdk import cloudformation_include  # only templates need it: keep synth imports lean

    resources = template.get("Resources") or {}
    with tempfile.TemporaryDirectory(prefix="envelope-eval-") as workdir:
        template_file = Path(workdir) / "template.json"
        template_file.write_text(json.dumps(template))
        app = App(outdir=str(Path(workdir) / "out"))
        stack = Stack(app, "Evaluated")
        included = cloudformation_include.CfnInclude(stack, "Template", template_file=str(template_file))
        rename: dict[str, str] = {}
        for logical_id, resource in resources.items():
            construct = included.get_resource(logical_id)
            metadata = resource.get("Metadata") or {}
            rename[construct.node.path] = metadata.get("aws:cdk:path", logical_id)
            suppressions = (metadata.get("cdk_nag") or {}).get("rules_to_suppress") or []
            acknowledgments = [
                Acknowledgment(id=_normalized_acknowledgment(s["id"]), reason=s.get("reason", ""))
                for s in suppressions
                if isinstance(s, dict) and isinstance(s.get("id"), str)
            ]
            if acknowledgments:
                Validations.of(construct).acknowledge(*acknowledgments)
        return _findings(EnvelopeEncryptionChecks().validate_scope(stack), rename=rename)


def _findings(report: PolicyValidationPluginReport, rename: Mapping[str, str]) -> list[Finding]:
    findings = [
        Finding(
            rule_id=violation.rule_name,
            resource_path=rename.get(resource.construct_path or "", resource.construct_path or ""),
            level=violation.severity,
            description=violation.description,
        )
        for violation in report.violations
        for resource in violation.violating_resources
    ]
    return sorted(findings, key=lambda f: (f.resource_path, f.rule_id))
