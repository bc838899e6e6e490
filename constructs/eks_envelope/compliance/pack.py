"""The ``EnvelopeEncryption`` pack: cdk-nag's NagPack, evaluating :data:`RULES` in Python."""
from __future__ import annotations

import functools
import json
import os
from typing import Mapping

from aws_cdk import (
    CfnResource,
    IPolicyValidationContext,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Validations,
)
from cdk_nag import NagMessageLevel, NagPack
from constructs import IConstruct

from ..props import typed_props
from .rule import NON_COMPLIANT, PACK_NAME, Rule
from .rules import RULES
from .template import RUN_CACHE, SYNTHESIZED, kernel_ref, memoised, note_stacks, prefetch_logical_ids, resource_type


@typed_props
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

    #: Every rule id of the pack, in :data:`RULES` order: cdk-nag's ``ruleIds``, for Python readers
    #: (the report's counts). A plain attribute on purpose: a property would be registered with jsii
    #: and add the ids to the CDKMetadata analytics of every template.
    rule_ids: tuple[str, ...] = tuple(rule.rule_id for rule in RULES)

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

    @property
    def name(self) -> str:
        return PACK_NAME

    def _check_resource(self, node: CfnResource) -> None:
        """Never called: :meth:`validate_scope` evaluates every rule itself. Declared abstract by NagPack."""

    def validate_scope(self, scope: IConstruct) -> PolicyValidationPluginReport:
        """Evaluate every rule in Python, with cdk-nag's semantics, and no per-rule jsii round trips.

        cdk-nag's own walk calls back into Python for each resource and reads each applied rule's
        members through jsii (about 1,500 kernel requests per synth of the bundled app). Here the
        tree is listed once, each stack walked once for its resources, rules run as plain
        functions, and acknowledgements are read only along the ancestry of a non-compliant
        resource, once per construct. ``validate()`` (through cdk-nag) and
        :func:`evaluate` both land here.
        """
        cache_token = RUN_CACHE.set(RUN_CACHE.get() if RUN_CACHE.get() is not None else {})
        try:
            violations: dict[str, tuple[Rule, str, list[PolicyViolatingResource]]] = {}
            constructs = scope.node.find_all()
            note_stacks(scope, constructs)
            checked = [
                (node, rules)
                for node in constructs
                if isinstance(node, CfnResource)
                for rules in [[rule for rule in RULES if resource_type(node) in rule.resource_types]]
                if rules
            ]
            prefetch_logical_ids([node for node, _ in checked])
            for node, rules in checked:
                for rule in rules:
                    try:
                        compliant = rule.check(node) != NON_COMPLIANT
                        description = rule.info
                    except Exception as err:  # cdk-nag reports a throwing rule as a finding too
                        compliant, description = False, f"Rule threw an error during validation: {err}"
                    if compliant or acknowledged_on(node, rule.rule_id):
                        continue
                    if self._verbose:
                        description = f"{description} {rule.explanation}"
                    entry = violations.setdefault(rule.rule_id, (rule, description, []))
                    entry[2].append(PolicyViolatingResource(construct_path=node.node.path, locations=["Properties"]))
        finally:
            RUN_CACHE.reset(cache_token)
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
        token = SYNTHESIZED.set(templates)
        try:
            report = super().validate(context)  # cdk-nag dispatches to validate_scope, which caches per run
        finally:
            SYNTHESIZED.reset(token)
        has_errors = any(v.severity not in ("warning", "info") for v in report.violations)
        return PolicyValidationPluginReport(
            success=not has_errors,
            violations=report.violations,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
        )


def normalized_acknowledgment(finding_id: str) -> str:
    """``Annotation::X`` and ``EnvelopeEncryption::X`` (the form the report prints) both mean X."""
    namespace, separator, rule_id = finding_id.partition("::")
    if separator and namespace.lower() in ("annotation", PACK_NAME.lower()):
        return rule_id
    return finding_id


def acknowledged_on(node: IConstruct, rule_id: str) -> bool:
    """cdk-nag's rule: acknowledged on the resource or any of its ancestors."""
    scopes = memoised("scopes", kernel_ref(node), lambda: node.node.scopes)
    return any(
        rule_id in memoised("acknowledged", kernel_ref(scope), lambda: _acknowledged_at(scope)) for scope in scopes
    )


def _acknowledged_at(scope: IConstruct) -> set[str]:
    """The finding ids acknowledged on ``scope`` itself."""
    key = _acknowledged_rules_metadata_key()
    acknowledged: set[str] = set()
    for entry in scope.node.metadata:
        if entry.type == key and isinstance(entry.data, Mapping):
            acknowledged |= {normalized_acknowledgment(i) for i in entry.data}
    return acknowledged


@functools.cache
def _acknowledged_rules_metadata_key() -> str:
    return Validations.ACKNOWLEDGED_RULES_METADATA_KEY
