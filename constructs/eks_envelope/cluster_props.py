"""ClusterProps: every prop of EnvelopeEncryptedCluster, its default and its documentation, validated as a whole.

The README's props table is generated from the ``#:`` comments below (scripts/props_table.py): each says
what the prop is, then ``:default:``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from aws_cdk import Duration, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns

from .acknowledgements import MIN_ACKNOWLEDGEMENT_REASON
from .key import check_break_glass_arns
from .monitoring_props import MonitoringOptions, check_monitoring
from .props import Props, typed_props
from .support import DEFAULT_SUPPORT_TYPE, SUPPORT_TYPES, version_problem
from .validation import (
    MAX_FARGATE_SELECTORS,
    Problems,
    check_availability_zones,
    check_choice,
    check_cidrs,
    check_cluster_name,
    check_int_range,
    check_key_arn,
    check_namespaces,
    check_principal_arns,
    is_open_to_anywhere,
)
from .verifier import VerifierOptions

#: The newest version aws-cdk-lib names and EKS offers in standard support (facts.py holds the
#: dated calendar; any 1.N from 1.28 up is accepted, see support.version_problem).
DEFAULT_KUBERNETES_VERSION = "1.36"

#: The fixes for a canary image that cannot be pulled without NAT (the app rewrites them in context spelling).
_NO_NAT_POD_ADVICE = ("give VerifierOptions(pod_image='<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>'), "
                      "or VerifierOptions(pod_check=False), or at least 1 NAT gateway")
_PRIVATE_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


@typed_props
@dataclass(frozen=True)
class ClusterProps(Props):
    """The props of :class:`~eks_envelope.cluster.EnvelopeEncryptedCluster`, as one frozen object.

    Made on its own, it checks every value at once (``EnvelopeConfigError``); the construct checks it again
    with what only the stack knows (a given key's region). ``dataclasses.replace(props, ...)`` makes a variant.
    """

    #: the secrets key. :default: - a new ClusterSecretsKey with rotation, retained
    key: kms.IKey | None = None
    #: alias of the new key. :default: - ``alias/<cluster name>-secrets``
    key_alias: str | None = None
    #: IAM ARNs that administer (not use) the new key. :default: - none
    key_admin_arns: Sequence[str] = ()
    #: the VPC. :default: - a new VPC: public + private subnets, ``max_azs`` AZs, flow logs
    vpc: ec2.IVpc | None = None
    #: AZs of the new VPC (EKS needs 2). :default: 2
    max_azs: int = 2
    #: AZ names of the new VPC (2 to 6), instead of the first ``max_azs``.
    #: EKS refuses control-plane subnets in the AZ IDs use1-az3, usw1-az2 and cac1-az3: where
    #: your account maps a name to one of those, name others here. :default: - the first ``max_azs``
    availability_zones: Sequence[str] | None = None
    #: NAT gateways of the new VPC. 0 gives the new VPC the VPC endpoints Fargate and the
    #: verifier need instead (ECR, S3, STS, Logs, EKS, KMS, ...; billed per AZ-hour, docs/cost.md); the
    #: canary pod's image must then be in private ECR. :default: 1
    nat_gateways: int = 1
    #: e.g. "1.36". :default: the newest in EKS standard support
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    #: the cluster's UpgradePolicy: "STANDARD" (upgraded automatically at the end
    #: of standard support) or "EXTENDED" (kept, at six times the control-plane price).
    #: :default: "STANDARD" (EKS's own default would be EXTENDED)
    support_type: str = DEFAULT_SUPPORT_TYPE
    #: EKS cluster name. :default: - derived from the construct path
    cluster_name: str | None = None
    #: namespaces whose pods run on Fargate. :default: ["serverless"]
    fargate_namespaces: Sequence[str] = ("serverless",)
    #: IAM roles/users given cluster admin through access entries. :default: - none
    admin_principal_arns: Sequence[str] = ()
    #: CIDRs allowed to the public endpoint. :default: - no public endpoint
    public_access_cidrs: Sequence[str] = ()
    #: required to accept 0.0.0.0/0: True, or better the reason,
    #: which acknowledges EnvelopeEncryption-EKS4 in the compliance report. :default: False
    allow_public_endpoint_from_anywhere: bool | str = False
    #: EKS deletion protection, switched on after a verified deploy (never
    #: in a way that blocks the rollback of a failed first deploy), so it needs verify=True. False is
    #: also the deliberate teardown of a production stack: protection goes off and the log groups
    #: become deletable. :default: - on, off when ephemeral or verify=False
    deletion_protection: bool | None = None
    #: destroyable and cheap (key deleted after 7 days, log groups removed). :default: False
    ephemeral: bool = False
    #: retention of the log groups. :default: - one year, one week when ephemeral
    log_retention: logs.RetentionDays | None = None
    #: key encrypting the log groups. :default: - a new key for logs only
    logs_key: kms.IKey | None = None
    #: principal that creates the cluster. :default: - the CDK CloudFormation execution role
    deploy_principal: iam.IPrincipal | None = None
    #: attach the envelope-encryption verifier. :default: True
    verify: bool = True
    #: how the verifier runs. :default: - pod check on, CloudTrail off
    verifier_options: VerifierOptions | None = None
    #: watch the cluster after the deploy (scheduled verification, alarms, key-tamper
    #: events, one topic). :default: True
    monitor: bool = True
    #: schedule, look-back, metrics.
    #: :default: - hourly verification (off when ephemeral or verify=False), 24 h look-back
    monitoring: MonitoringOptions | None = None
    #: e-mail address subscribed to the alarm topic. :default: - none
    alarm_email: str | None = None
    #: your topic for every alarm and key event. :default: - a new KMS-encrypted topic
    alarm_topic: sns.ITopic | None = None
    #: deny ScheduleKeyDeletion, DisableKey and PutKeyPolicy on the new key to all but
    #: the break-glass roles (and the deploying principal). :default: False
    key_lock: bool = False
    #: IAM role ARNs that keep those actions; required with key_lock. :default: - none
    key_lock_break_glass_arns: Sequence[str] = ()

    # ---------------------------------------------------------------------------------------------
    # defaults that depend on other props

    @property
    def verifier_options_in_effect(self) -> VerifierOptions:
        return self.verifier_options or VerifierOptions()

    @property
    def monitoring_in_effect(self) -> MonitoringOptions:
        """The given options, or hourly verification (off when ephemeral or without the verifier)."""
        return self.monitoring or MonitoringOptions(schedule=None if self.ephemeral or not self.verify else Duration.hours(1))

    @property
    def canary_selectors(self) -> int:
        """Fargate selectors the verifier's canary pod takes: 1 with the pod check, else 0."""
        return 1 if self.verify and self.verifier_options_in_effect.pod_check else 0

    @property
    def new_vpc_azs(self) -> int:
        """AZs of the new VPC: as many as ``availability_zones`` names, else ``max_azs``."""
        return len(self.availability_zones) if self.vpc is None and self.availability_zones is not None else self.max_azs

    @property
    def public_from_anywhere_reason(self) -> str | None:
        """The acknowledgement reason the opt-in carries: the owner's own words, or a statement of the opt-in."""
        opt_in = self.allow_public_endpoint_from_anywhere
        if isinstance(opt_in, str):
            return opt_in.strip() if len(opt_in.strip()) >= MIN_ACKNOWLEDGEMENT_REASON else None
        if opt_in:
            return ("Opted in with allow_public_endpoint_from_anywhere (no reason given): the API endpoint accepts "
                    "connections from any address; each request still needs IAM authentication and an access entry.")
        return None

    @property
    def public_from_anywhere(self) -> bool:
        """The endpoint is open to any address, as the owner acknowledged."""
        return bool(self.public_from_anywhere_reason) and any(is_open_to_anywhere(c) for c in self.public_access_cidrs)

    # ---------------------------------------------------------------------------------------------
    # validation: every problem, in the order a reader meets the props

    def check(self, problems: Problems, *, stack_region: str | None = None) -> None:
        """Every problem with these props; with ``stack_region``, also a given key's region."""
        version_fix = version_problem(self.kubernetes_version)
        if version_fix:
            problems.add("kubernetes_version", self.kubernetes_version, version_fix)
        check_choice(problems, "support_type", self.support_type, SUPPORT_TYPES)
        check_cluster_name(problems, "cluster_name", self.cluster_name)
        check_namespaces(problems, "fargate_namespaces", list(self.fargate_namespaces),
                         max_count=MAX_FARGATE_SELECTORS - 1 - self.canary_selectors)
        check_principal_arns(problems, "admin_principal_arns", list(self.admin_principal_arns))
        check_principal_arns(problems, "key_admin_arns", list(self.key_admin_arns))
        check_cidrs(problems, "public_access_cidrs", list(self.public_access_cidrs),
                    allow_anywhere=bool(self.allow_public_endpoint_from_anywhere))
        opt_in = self.allow_public_endpoint_from_anywhere
        if isinstance(opt_in, str) and len(opt_in.strip()) < MIN_ACKNOWLEDGEMENT_REASON:
            problems.add(
                "allow_public_endpoint_from_anywhere", opt_in,
                f"give True, or the reason a reviewer reads in the compliance report "
                f"(at least {MIN_ACKNOWLEDGEMENT_REASON} characters)",
            )
        self._check_new_vpc(problems)
        self._check_key(problems, stack_region)
        if self.monitor:
            check_monitoring(problems, self.monitoring_in_effect, alarm_email=self.alarm_email,
                             alarm_topic=self.alarm_topic, verify=self.verify)
        elif self.alarm_email or self.alarm_topic:
            problems.add("alarm_email/alarm_topic", self.alarm_email or self.alarm_topic,
                         "alarms need monitoring: set monitor=True (context monitoring=true)")
        if self.key_lock and self.key is not None:
            problems.add("key_lock", self.key_lock, "lock your own key where its policy is defined; key_lock shapes a new key")
        elif self.key_lock:
            check_break_glass_arns(problems, self.key_lock_break_glass_arns)
        if self.key_lock_break_glass_arns and not self.key_lock:
            problems.add("key_lock_break_glass_arns", list(self.key_lock_break_glass_arns), "set key_lock=True too, or drop them")
        if self.deletion_protection is True and not self.verify:
            problems.add(
                "deletion_protection", self.deletion_protection,
                "deletion protection is switched on by the verifier's handler after a verified deploy, so that a "
                "failed first deploy can still delete the cluster; keep verify=True, or leave deletion_protection "
                "unset and protect the cluster after the deploy (aws eks update-cluster-config --deletion-protection)",
            )

    def _check_new_vpc(self, problems: Problems) -> None:
        if self.vpc is None and self.availability_zones is not None:
            check_availability_zones(problems, "availability_zones", list(self.availability_zones))
        elif self.availability_zones is not None:
            problems.add(
                "availability_zones", list(self.availability_zones),
                "this shapes a new VPC; with your own vpc=..., choose the subnets' AZs where the VPC is defined",
            )
        if self.vpc is not None:
            return
        max_azs = self.new_vpc_azs
        check_int_range(problems, "max_azs", max_azs, low=2, high=6)
        # One NAT gateway per AZ at most; bound by max_azs only when max_azs itself is valid.
        azs_valid = isinstance(max_azs, int) and not isinstance(max_azs, bool) and 2 <= max_azs <= 6
        check_int_range(problems, "nat_gateways", self.nat_gateways, low=0, high=max_azs if azs_valid else 6)
        image = self.verifier_options_in_effect.pod_image
        if self.nat_gateways == 0 and self.canary_selectors and not _pullable_without_nat(image):
            # Without NAT the new VPC reaches AWS through endpoints only: the canary pod's image must
            # come from a private ECR repository (public.ecr.aws is pulled over the internet).
            problems.add(
                "nat_gateways", self.nat_gateways,
                f"without NAT the canary pod's image {image} cannot be pulled (only private "
                "ECR is reachable through the VPC endpoints): " + _NO_NAT_POD_ADVICE,
            )

    def _check_key(self, problems: Problems, stack_region: str | None) -> None:
        if self.key is None:
            return
        if self.key_alias or self.key_admin_arns:
            problems.add(
                "key_alias/key_admin_arns", self.key_alias or list(self.key_admin_arns),
                "these shape a new key; with your own key, manage its alias and admins where the key is defined",
            )
        # A key given as an ARN string (Key.from_key_arn) is checked for alias and region.
        if not Token.is_unresolved(self.key.key_arn):
            check_key_arn(problems, "key", self.key.key_arn, stack_region=stack_region)


def _pullable_without_nat(image: str) -> bool:
    """An image a Fargate pod can pull through the ECR VPC endpoints: private ECR (or a token we cannot read)."""
    return Token.is_unresolved(image) or bool(_PRIVATE_ECR_IMAGE.match(image))
