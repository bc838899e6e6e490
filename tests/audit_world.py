"""An organization on moto for ``eks-envelope audit``: accounts x regions x clusters, each with its expected verdict.

Where moto lacks an answer, botocore's own event hooks supply one on the clients the audit builds (the
session factory registers them), with the API reference's shapes:
- ``DescribeClusterVersions`` (moto: "Not yet implemented") -> a canned page;
- ``DescribeRegions`` -> the regions an account has enabled (``ENABLED_REGIONS``): moto answers every region of
  every partition, opted in or not, and importing its EC2 backend alone costs 1-2 s (it parses EC2's model 3 times);
- cluster ``health.issues`` (moto never sets them) -> added to the DescribeCluster answer (after-call);
- an account whose role cannot be assumed -> AssumeRole answers AccessDenied (before-call);
- a key the auditor may not describe -> DescribeKey answers AccessDeniedException (before-call);
- throttling -> ThrottlingException answered at the HTTP layer (before-send), so botocore's standard retries
  see it and back off exactly as against AWS: transient on every 7th first attempt of a few operations (the retry
  gets through), persistent on one account/region's ListClusters and one cluster's DescribeCluster.

``build()`` is the organization at scale (53 accounts, 310 clusters: ``bench/audit_probe.py``); ``build_compact()``
holds every kind, fault and path of it in 4 accounts (the fleet test).
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSResponse

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ROLE_NAME = "EksEnvelopeAudit"
#: DescribeClusterVersions page (shape of the EKS API reference; dates are test data, judged against NOW).
CLUSTER_VERSIONS = [
    {"clusterVersion": "1.35", "clusterType": "eks", "versionStatus": "STANDARD_SUPPORT", "status": "STANDARD_SUPPORT",
     "endOfStandardSupportDate": datetime(2027, 3, 27, tzinfo=timezone.utc), "endOfExtendedSupportDate": datetime(2028, 3, 27, tzinfo=timezone.utc)},
    {"clusterVersion": "1.32", "clusterType": "eks", "versionStatus": "EXTENDED_SUPPORT", "status": "EXTENDED_SUPPORT",
     "endOfStandardSupportDate": datetime(2026, 3, 23, tzinfo=timezone.utc), "endOfExtendedSupportDate": datetime(2027, 3, 23, tzinfo=timezone.utc)},
    {"clusterVersion": "1.24", "clusterType": "eks", "versionStatus": "UNSUPPORTED", "status": "UNSUPPORTED",
     "endOfStandardSupportDate": datetime(2024, 1, 31, tzinfo=timezone.utc), "endOfExtendedSupportDate": datetime(2025, 1, 31, tzinfo=timezone.utc)},
]
#: DescribeRegions without AllRegions: the regions enabled by default (opt-in-not-required), and one opt-in region
#: this account opted into. EKS also offers opt-in regions this account did not enable (ap-east-1, me-south-1, ...).
ENABLED_REGIONS = {
    **dict.fromkeys(["ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
                     "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
                     "us-east-1", "us-east-2", "us-west-1", "us-west-2"], "opt-in-not-required"),
    "af-south-1": "opted-in",
}

#: kind -> expected verdict; the world spreads the kinds over accounts and regions.
KINDS = {
    "verified": "cmk-verified",
    "extended-support": "cmk-verified",  # a warning, not a problem
    "aws-owned": "aws-owned-key",
    "disabled-key": "key-problem",
    "pending-deletion": "key-problem",
    "no-rotation": "key-problem",
    "revoked-grant": "key-problem",  # the grant was revoked, EKS has not noticed yet
    "grant-revoked-health": "cluster-problem",  # EKS noticed: health issue KmsGrantRevoked
    "key-disabled-health": "cluster-problem",
    "unsupported-version": "cluster-problem",
    "describe-key-denied": "no-access",
    "throttled-forever": "error",
}


def _error(status: int, code: str, message: str, protocol: str) -> AWSResponse:
    if protocol == "json":
        body = ('{"__type":"%s","message":"%s"}' % (code, message)).encode()
        headers = {"x-amzn-errortype": code, "content-type": "application/x-amz-json-1.1"}
    elif protocol == "rest-json":
        body = ('{"message":"%s"}' % message).encode()
        headers = {"x-amzn-errortype": code, "content-type": "application/json"}
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>r</RequestId></ErrorResponse>").encode()
        headers = {"content-type": "text/xml"}

    class _Raw:
        def stream(self, **_: Any):
            yield body

    return AWSResponse("https://fault.invalid", status, headers, _Raw())


@dataclass
class Faults:
    """The hooks of the world; ``counts`` shows that the faults really fired."""

    blocked_accounts: set[str] = field(default_factory=set)
    denied_keys: set[str] = field(default_factory=set)
    health: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # cluster name -> issues
    throttled_region: tuple[str, str] | None = None  # (account, region): ListClusters always throttled
    throttled_cluster: str | None = None  # DescribeCluster always throttled
    transient_every: int = 7  # 0: no transient throttling
    #: LookupEvents answer (moto: not implemented); None answers no events
    lookup_events: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    key_accounts: dict[str, str] = field(default_factory=dict)  # assumed-role access key -> account
    _seq: Any = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _bump(self, what: str) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def session(self, **kwargs: Any) -> boto3.session.Session:
        session = _session(**kwargs)
        ev = session.events
        ev.register("before-call.eks.DescribeClusterVersions", self._versions)
        ev.register("before-call.ec2.DescribeRegions", self._regions)
        ev.register("after-call.eks.DescribeCluster", self._health)
        ev.register("before-call.sts.AssumeRole", self._assume)
        ev.register("after-call.sts.AssumeRole", self._assumed)
        ev.register("before-call.kms.DescribeKey", self._describe_key)
        ev.register("before-call.cloudtrail.LookupEvents", self._lookup_events)
        for op in ("eks.DescribeCluster", "kms.ListGrants", "kms.GetKeyRotationStatus", "eks.ListClusters"):
            ev.register(f"before-send.{op}", self._throttle)
        return session

    def _versions(self, **_: Any) -> Any:
        return _Http(200), {"clusterVersions": CLUSTER_VERSIONS, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _regions(self, **_: Any) -> Any:
        regions = [{"Endpoint": f"ec2.{name}.amazonaws.com", "RegionName": name, "OptInStatus": status}
                   for name, status in ENABLED_REGIONS.items()]
        return _Http(200), {"Regions": regions, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _health(self, parsed: dict[str, Any], **_: Any) -> None:
        cluster = parsed.get("cluster") or {}
        if cluster.get("name") in self.health:
            cluster["health"] = {"issues": self.health[cluster["name"]]}

    def _assume(self, params: dict[str, Any], **_: Any) -> Any:
        body = params.get("body")
        arn = str(body.get("RoleArn", "")) if isinstance(body, dict) else ""
        if arn.split(":")[4] in self.blocked_accounts:
            self._bump("AssumeRole denied")
            return _Http(403), {"Error": {"Code": "AccessDenied", "Message": f"not authorized to perform sts:AssumeRole on {arn}"},
                                "ResponseMetadata": {"HTTPStatusCode": 403}}
        return None

    def _lookup_events(self, **_: Any) -> Any:
        return _Http(200), {**(self.lookup_events or {"Events": []}), "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _assumed(self, parsed: dict[str, Any], **_: Any) -> None:
        if "Credentials" in parsed:
            with self._lock:
                self.key_accounts[parsed["Credentials"]["AccessKeyId"]] = parsed["AssumedRoleUser"]["Arn"].split(":")[4]

    def _describe_key(self, params: dict[str, Any], **_: Any) -> Any:
        key = str(params.get("body", ""))
        if any(k in key for k in self.denied_keys):
            self._bump("DescribeKey denied")
            return _Http(400), {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform kms:DescribeKey"},
                                "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    def _throttle(self, request: Any, **_: Any) -> Any:
        url, body = request.url, request.body or b""
        if isinstance(body, str):
            body = body.encode()
        host = url.split("/")[2]
        if self.throttled_region and host.startswith("eks.") and "/clusters" in url and "/clusters/" not in url:
            account = self.key_accounts.get(_access_key(request), "")
            if (account, host.split(".")[1]) == self.throttled_region:
                self._bump("ListClusters throttled")
                return _error(429, "ThrottlingException", "Rate exceeded", "rest-json")
        if self.throttled_cluster and url.endswith(f"/clusters/{self.throttled_cluster}"):
            self._bump("DescribeCluster throttled")
            return _error(429, "ThrottlingException", "Rate exceeded", "rest-json")
        if self.transient_every and _first_attempt(request) and next(self._seq) % self.transient_every == 0:
            self._bump("transient throttle")
            protocol = "json" if host.startswith("kms.") else "rest-json"
            return _error(400 if protocol == "json" else 429, "ThrottlingException", "Rate exceeded", protocol)
        return None


def _session(**kwargs: Any) -> boto3.session.Session:
    """A boto3 session on the world's one loader (``_models``)."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _models())
    session = boto3.session.Session(botocore_session=core, **kwargs)
    _models().search_paths[:] = list(dict.fromkeys(_models().search_paths))  # boto3 adds its folder per session
    return session


@functools.lru_cache(maxsize=None)
def _models() -> botocore.loaders.Loader:
    """One botocore loader for every session the world hands out: each test's audit builds its own session
    (as each real run does), and parsing the service models again for each (EC2's alone is megabytes of
    JSON) was most of the audit tests' CPU time. The models are read-only data.

    Warmed here, on one thread: the audit's first clients start together on its worker threads, and each of them
    found the loader's caches still empty and listed every service folder again (~13,000 directory listings in
    one audit of ~35 regions)."""
    loader = botocore.loaders.create_loader()
    for service in ("sts", "organizations", "eks", "kms", "cloudtrail"):  # EC2 (megabytes) only when asked, on one thread
        for type_name in ("service-2", "paginators-1", "endpoint-rule-set-1"):
            loader.load_service_model(service, type_name)
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        loader.load_data(name)
    # moto's own model caches (it answers in the API's shapes) have the same race; fill them too, from this loader:
    # moto makes a new loader for each model, and each listed every service folder again (0.4 s for these ten)
    from moto.core import utils as moto_utils

    with mock.patch.object(moto_utils, "create_loader", lambda: loader):
        for service in ("sts", "organizations", "eks", "kms", "cloudtrail"):
            moto_utils.get_service_model(service)
            moto_utils.get_pagination_model(service)
    return loader


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


def _first_attempt(request: Any) -> bool:
    """botocore numbers a call's attempts (its ``amz-sdk-request`` header): a transient fault hits first attempts only,
    so the retry always gets through, whatever order the audit's threads send in."""
    header = request.headers.get("amz-sdk-request", b"")
    header = header.decode() if isinstance(header, bytes) else header
    return "attempt=1" in header.split("; ")


def _access_key(request: Any) -> str:
    auth = request.headers.get("Authorization", b"")
    auth = auth.decode() if isinstance(auth, bytes) else auth
    return auth.split("Credential=")[1].split("/")[0] if "Credential=" in auth else ""


@dataclass
class World:
    management: str
    accounts: list[str]
    expected: dict[tuple[str, str, str], str]
    expected_errors: set[tuple[str, str | None, str]]
    faults: Faults


def _validate_role_arn(arn: str) -> None:
    """moto's check without its cost (it builds a boto3 Session, 0.2 s, per CreateCluster)."""
    from moto.eks.exceptions import InvalidParameterException

    if not re.match(r"^arn:aws[\w-]*:iam::\d{12}:role/.+$", arn or ""):
        raise InvalidParameterException(message="Invalid Role Arn: '" + arn + "'")


def build(n_accounts: int = 52, clusters_per_region: int = 2) -> World:
    """Inside ``mock_aws()``: the organization, its accounts, and in each account and region a few clusters."""
    with _cheap_moto():
        return _build(n_accounts, clusters_per_region)


#: ``build_compact``'s organization: (account, region) -> kinds of its clusters. ``management`` is read with the
#: caller's own credentials, the members through the role; ``blocked``'s role cannot be assumed and ``throttled``'s
#: eu-west-1 answers ListClusters with throttling only (their clusters must not appear). Two clusters of one
#: Kubernetes version share a region where they can (DescribeClusterVersions is asked once for both).
COMPACT = {
    ("management", "us-east-1"): ["verified", "aws-owned"],
    ("management", "eu-west-1"): ["extended-support", "unsupported-version"],
    ("management", "ap-southeast-2"): ["disabled-key"],
    ("blocked", "us-east-1"): ["verified"],
    ("blocked", "eu-west-1"): ["verified"],
    ("blocked", "ap-southeast-2"): ["verified"],
    ("throttled", "us-east-1"): ["pending-deletion", "no-rotation"],
    ("throttled", "eu-west-1"): ["verified"],
    ("throttled", "ap-southeast-2"): ["revoked-grant", "grant-revoked-health"],
    ("member", "us-east-1"): ["throttled-forever", "verified"],
    ("member", "eu-west-1"): ["key-disabled-health", "describe-key-denied"],
    ("member", "ap-southeast-2"): ["verified", "extended-support"],
}


def build_compact(transient_every: int = 3) -> World:
    """Inside ``mock_aws()``: every kind, fault and path of ``build`` once or twice (``COMPACT``), in 4 accounts and
    ``REGIONS``; throttling on every ``transient_every``-th first attempt, as there are far fewer calls."""
    with _cheap_moto():
        faults = Faults(transient_every=transient_every)
        management, accounts = _organization(3)
        members = [a for a in accounts if a != management]
        ids = {"management": management, "blocked": members[0], "throttled": members[1], "member": members[2]}
        faults.blocked_accounts.add(ids["blocked"])
        faults.throttled_region = (ids["throttled"], "eu-west-1")
        expected_errors = {(ids["blocked"], None, "AssumeRole"), (ids["throttled"], "eu-west-1", "ListClusters")}
        expected: dict[tuple[str, str, str], str] = {}
        for (who, region), kinds in COMPACT.items():
            account = ids[who]
            on = _OnBackends(account, region)
            for n, kind in enumerate(kinds):
                name = f"c{n}-{kind}"
                if kind == "throttled-forever":
                    faults.throttled_cluster = name
                _make_cluster(on, on, account, region, name, kind, faults)
                if account != ids["blocked"] and (account, region) != faults.throttled_region:
                    expected[(account, region, name)] = KINDS[kind]
        return World(management, accounts, expected, expected_errors, faults)


def make_one(account: str, region: str, name: str, kind: str, faults: Faults) -> str | None:
    """Inside ``mock_aws()``: one cluster of ``kind`` on moto's backends; returns its key's ARN."""
    with _cheap_moto():
        return _make_cluster(_OnBackends(account, region), _OnBackends(account, region), account, region, name, kind, faults)


@contextlib.contextmanager
def _cheap_moto() -> Iterator[None]:
    """moto's costs that buy the audit nothing: RSA material for every key (60 ms each, unused here), a boto3
    Session per CreateCluster for its role-ARN check, and 1,400 random.choice calls for every cluster's CA data
    (the audit never reads it; the verifier tests serve a real CA)."""
    from moto.kms.utils import generate_private_key
    from moto.moto_api._internal import mock_random

    one_key = generate_private_key("SYMMETRIC_DEFAULT")
    real = mock_random.get_random_string
    ca_data = real(1400)

    def random_string(length: int = 20, *args: Any, **kwargs: Any) -> str:
        return ca_data if length == 1400 else real(length, *args, **kwargs)

    with mock.patch("moto.eks.models.validate_role_arn", _validate_role_arn), \
            mock.patch("moto.kms.models.generate_private_key", lambda _spec: one_key), \
            mock.patch.object(mock_random, "get_random_string", random_string):
        yield


def _organization(n_accounts: int) -> tuple[str, list[str]]:
    """An organization with ``n_accounts`` member accounts: (management account, every account sorted)."""
    base = _session(region_name="us-east-1")
    management = base.client("sts").get_caller_identity()["Account"]
    org = base.client("organizations")
    org.create_organization(FeatureSet="ALL")
    for i in range(n_accounts):
        org.create_account(Email=f"team{i}@example.com", AccountName=f"team-{i}")
    return management, sorted(a["Id"] for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"])


def _build(n_accounts: int, clusters_per_region: int) -> World:
    faults = Faults()
    management, accounts = _organization(n_accounts)
    members = [a for a in accounts if a != management]
    kinds = itertools.cycle([k for k in KINDS if k not in ("throttled-forever",)])
    expected: dict[tuple[str, str, str], str] = {}
    blocked = members[3]
    faults.blocked_accounts.add(blocked)
    faults.throttled_region = (members[5], "eu-west-1")
    expected_errors = {(blocked, None, "AssumeRole"), (members[5], "eu-west-1", "ListClusters")}
    for account in accounts:
        for region in REGIONS:
            eks = kms = _OnBackends(account, region)
            for n in range(clusters_per_region):
                kind = next(kinds)
                name = f"c{n}-{kind}"
                if account == members[7] and region == "us-east-1" and n == 0:
                    kind, name = "throttled-forever", "c0-throttled-forever"
                    faults.throttled_cluster = name
                _make_cluster(eks, kms, account, region, name, kind, faults)
                if account != blocked and (account, region) != faults.throttled_region:
                    expected[(account, region, name)] = KINDS[kind]
    return World(management, accounts, expected, expected_errors, faults)


class _OnBackends:
    """The EKS and KMS calls ``_make_cluster`` makes, on moto's backends of one account and region: the models
    moto's API handlers build (they pass these parameters straight on), without the round trip through botocore
    and moto's request parsing (~5 ms a call; the organization takes ~1,300 calls and ~300 clients)."""

    def __init__(self, account: str, region: str) -> None:
        from moto.eks.models import eks_backends
        from moto.kms.models import kms_backends

        self._eks, self._kms = eks_backends[account][region], kms_backends[account][region]

    def create_key(self, *, Description: str, KeyUsage: str, KeySpec: str) -> dict[str, Any]:
        return self._kms.create_key(policy=None, key_usage=KeyUsage, key_spec=KeySpec, description=Description, tags=None).to_dict()

    def enable_key_rotation(self, *, KeyId: str) -> None:
        self._kms.enable_key_rotation(KeyId)

    def create_grant(self, *, KeyId: str, GranteePrincipal: str, Operations: list[str]) -> dict[str, str]:
        grant_id, token = self._kms.create_grant(KeyId, GranteePrincipal, Operations, None, None, None)
        return {"GrantId": grant_id, "GrantToken": token}

    def revoke_grant(self, *, KeyId: str, GrantId: str) -> None:
        self._kms.revoke_grant(KeyId, GrantId)

    def disable_key(self, *, KeyId: str) -> None:
        self._kms.disable_key(KeyId)

    def schedule_key_deletion(self, *, KeyId: str, PendingWindowInDays: int) -> None:
        self._kms.schedule_key_deletion(KeyId, PendingWindowInDays)

    def create_cluster(self, *, name: str, version: str, roleArn: str, resourcesVpcConfig: dict[str, Any],
                       encryptionConfig: list[dict[str, Any]] | None = None) -> None:
        self._eks.create_cluster(name=name, version=version, role_arn=roleArn, resources_vpc_config=resourcesVpcConfig,
                                 encryption_config=encryptionConfig)


def _make_cluster(eks: Any, kms: Any, account: str, region: str, name: str, kind: str, faults: Faults) -> str | None:
    """One cluster of ``kind``; returns its key's ARN (None on the AWS-owned key)."""
    role = f"arn:aws:iam::{account}:role/{name}-cluster"
    version = {"extended-support": "1.32", "unsupported-version": "1.24"}.get(kind, "1.35")
    kwargs: dict[str, Any] = {}
    key: dict[str, Any] = {}
    if kind != "aws-owned":
        key = kms.create_key(Description=name, KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]
        if kind != "no-rotation":
            kms.enable_key_rotation(KeyId=key["KeyId"])
        if kind != "revoked-grant":
            kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=role, Operations=["Encrypt", "Decrypt", "DescribeKey"])
        else:
            grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=role, Operations=["Encrypt", "Decrypt"])
            kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
        if kind in ("disabled-key", "key-disabled-health"):
            kms.disable_key(KeyId=key["KeyId"])
        if kind == "pending-deletion":
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        if kind == "describe-key-denied":
            faults.denied_keys.add(key["KeyId"])
        kwargs["encryptionConfig"] = [{"resources": ["secrets"], "provider": {"keyArn": key["Arn"]}}]
    eks.create_cluster(name=name, version=version, roleArn=role, resourcesVpcConfig={"subnetIds": []}, **kwargs)
    if kind == "grant-revoked-health":
        faults.health[name] = [{"code": "KmsGrantRevoked", "message": "The grant on the KMS key was revoked", "resourceIds": []}]
    if kind == "key-disabled-health":
        faults.health[name] = [{"code": "KmsKeyDisabled", "message": "The KMS key is disabled", "resourceIds": []}]
    return key.get("Arn")


# ---------------------------------------------------------------------------------------------
# a loopback AWS for the installed command (AWS_ENDPOINT_URL): one account, one region, one verified cluster

LOOPBACK_ACCOUNT = "111122223333"
LOOPBACK_KEY = f"arn:aws:kms:us-east-1:{LOOPBACK_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOOPBACK_ROLE = f"arn:aws:iam::{LOOPBACK_ACCOUNT}:role/web-cluster"


def loopback_answer(method: str, path: str, target: str, form: str) -> tuple[int, str, str]:
    """(status, content type, body) of STS, EKS and KMS for one verified cluster, in the API reference's shapes."""
    import json

    if "Action=GetCallerIdentity" in form:
        return 200, "text/xml", (
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"
            f"<Arn>arn:aws:iam::{LOOPBACK_ACCOUNT}:user/auditor</Arn><UserId>AIDAEXAMPLE</UserId><Account>{LOOPBACK_ACCOUNT}</Account>"
            "</GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>")
    if method == "GET" and path.startswith("/clusters/web"):
        return 200, "application/json", json.dumps({"cluster": {
            "name": "web", "arn": f"arn:aws:eks:us-east-1:{LOOPBACK_ACCOUNT}:cluster/web", "version": "1.35", "status": "ACTIVE",
            "roleArn": LOOPBACK_ROLE, "endpoint": "https://EXAMPLE.gr7.us-east-1.eks.amazonaws.com",
            "certificateAuthority": {"data": "LS0t"}, "health": {"issues": []},
            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": LOOPBACK_KEY}}]}})
    if method == "GET" and path.startswith("/clusters"):
        return 200, "application/json", json.dumps({"clusters": ["web"]})
    if method == "GET" and path.startswith("/cluster-versions"):
        return 200, "application/json", json.dumps({"clusterVersions": [{
            "clusterVersion": "1.35", "clusterType": "eks", "versionStatus": "STANDARD_SUPPORT", "status": "STANDARD_SUPPORT",
            "endOfStandardSupportDate": "2999-03-27T00:00:00Z", "endOfExtendedSupportDate": "2999-03-27T00:00:00Z"}]})
    if target == "TrentService.DescribeKey":
        return 200, "application/x-amz-json-1.1", json.dumps({"KeyMetadata": {
            "KeyId": LOOPBACK_KEY.split("/")[-1], "Arn": LOOPBACK_KEY, "AWSAccountId": LOOPBACK_ACCOUNT, "Enabled": True,
            "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "KeyManager": "CUSTOMER",
            "Origin": "AWS_KMS", "CreationDate": 1.7e9}})
    if target == "TrentService.GetKeyRotationStatus":
        return 200, "application/x-amz-json-1.1", json.dumps({"KeyRotationEnabled": True, "KeyId": LOOPBACK_KEY})
    if target == "TrentService.ListGrants":
        return 200, "application/x-amz-json-1.1", json.dumps({"Grants": [{
            "KeyId": LOOPBACK_KEY, "GrantId": "0123456789abcdef", "GranteePrincipal": LOOPBACK_ROLE,
            "Operations": ["Encrypt", "Decrypt", "DescribeKey"]}], "Truncated": False})
    return 400, "application/json", json.dumps({"__type": "UnknownOperationException", "message": f"{method} {path} {target}"})


def serve_loopback():
    """A thread serving ``loopback_answer`` on 127.0.0.1; returns (server, requests seen: [(method, path, target)])."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = self.rfile.read(length).decode(errors="replace") if length else ""
            target = self.headers.get("X-Amz-Target", "")
            seen.append((self.command, self.path, target or form.split("&")[0]))
            status, ctype, body = loopback_answer(self.command, self.path, target, form)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen
