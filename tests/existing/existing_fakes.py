"""Fakes for adopting an existing cluster: a Kubernetes API over HTTPS that models encrypted storage,
and an EKS client that sends AssociateEncryptionConfig/DescribeUpdate/ListUpdates to botocore's Stubber
(moto lacks them) and everything else to moto, applying what EKS would do when the update succeeds.

Its own module (not tests/handler/verifier_fakes.py, which another branch extends); it reuses that
module's certificates, token validation, moto key helper and fake clock unchanged.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "handler"))

from verifier_fakes import ACCOUNT, CLUSTER_ROLE_ARN, REGION, FakeTime, Pki, _KubeHandler, make_key, serve_tls, validate_token  # noqa: E402

from verifier.stages import association  # noqa: E402

CLUSTER = "adopted"
AWS_OWNED = "aws-owned-key"  # what EKS >= 1.28 encrypts with before a customer key is associated
UPDATE_ID = "b5f0ba18-9a87-4450-b5a0-825e6e84496f"
CREATED_AT = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)


def _status(code: int, message: str, reason: str = "") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


@dataclass
class Stored:
    obj: dict[str, Any]
    rv: int
    key: str  # the key the stored copy is encrypted with


@dataclass
class Etcd:
    """The API server's storage as far as re-encryption can tell: objects, revisions and the key of each copy."""

    write_key: str = AWS_OWNED
    objects: dict[str, dict[tuple[str, str], Stored]] = field(default_factory=dict)  # plural -> (ns, name) -> copy
    revision: int = 1000
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status) of every request
    writes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (method, plural, ns/name, key) of every stored write
    data_changes: list[str] = field(default_factory=list)  # a PUT that would change data (must stay empty)
    # behaviour knobs
    rbac: dict[str, bool] = field(default_factory=dict)  # "verb plural" -> allowed (default True)
    conflict_once: set[str] = field(default_factory=set)  # ns/name: a concurrent writer changes it once before our PUT
    delete_after_list: set[str] = field(default_factory=set)  # ns/name: deleted right after a list page shows it
    fail_put: dict[str, int] = field(default_factory=dict)  # ns/name -> status every PUT of it gets
    reject_after_puts: int | None = None  # then every request is 401 (the run is interrupted)
    expire_continue_once: bool = False  # the first continue token answers 410 Gone
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, plural: str, namespace: str, name: str, data: dict[str, str], **extra: Any) -> None:
        self.revision += 1
        obj = {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                            "resourceVersion": str(self.revision), "creationTimestamp": "2026-01-01T00:00:00Z"},
               "type": "Opaque", "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}, **extra}
        self.objects.setdefault(plural, {})[(namespace, name)] = Stored(obj, self.revision, self.write_key)

    def seed_secrets(self, count: int, namespaces: int = 3) -> None:
        for i in range(count):
            self.add("secrets", f"team-{i % namespaces}", f"secret-{i:05d}", {"password": f"value-{i}"})

    def snapshot_data(self, plural: str = "secrets") -> dict[str, Any]:
        return {f"{ns}/{n}": copy.deepcopy(s.obj.get("data")) for (ns, n), s in self.objects.get(plural, {}).items()}

    def keys(self, plural: str = "secrets") -> set[str]:
        return {s.key for s in self.objects.get(plural, {}).values()}

    def writes_per_object(self, plural: str = "secrets") -> dict[str, int]:
        """ns/name -> how often a PUT made storage write it (the verifier's canary is POSTed: not counted)."""
        counts: dict[str, int] = {}
        for method, p, name, _ in self.writes:
            if method == "PUT" and p == plural:
                counts[name] = counts.get(name, 0) + 1
        return counts

    def count(self, method: str, fragment: str = "", status: int | None = None) -> int:
        return sum(1 for m, p, s in self.log if m == method and fragment in p and status in (None, s))

    def successful_puts(self) -> int:
        return self.count("PUT", status=200)


class _Handler(_KubeHandler):
    """The verifier fake's transport (HTTP/1.1, quiet, GET/POST/DELETE, _send) with PUT and storage of its own."""

    etcd: Etcd
    cluster_id: str

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        url = urllib.parse.urlsplit(self.path)
        with self.etcd.lock:
            code, payload = self._route(method, url, body)
            self.etcd.log.append((method, url.path, code))
        if isinstance(payload, str):  # /readyz answers in plain text
            data = payload.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._send(code, payload)

    def _route(self, method: str, url: urllib.parse.SplitResult, body: Any) -> tuple[int, Any]:
        etcd = self.etcd
        if validate_token(self.headers.get("Authorization"), self.cluster_id):
            return 401, _status(401, "Unauthorized")
        if etcd.reject_after_puts is not None and etcd.successful_puts() >= etcd.reject_after_puts:
            return 401, _status(401, "Unauthorized")
        parts = url.path.strip("/").split("/")
        if url.path == "/readyz":  # the API server's health, KMS provider included
            return 200, "[+]ping ok\n[+]etcd ok\n[+]kms-providers ok\nreadyz check passed\n"
        if url.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and method == "POST":
            attrs = body["spec"]["resourceAttributes"]
            allowed = etcd.rbac.get(f"{attrs['verb']} {attrs['resource']}", True) and "namespace" not in attrs
            return 201, {**body, "status": {"allowed": allowed}}
        if parts[:2] == ["api", "v1"] and len(parts) == 3 and method == "GET":
            return self._list(parts[2], dict(urllib.parse.parse_qsl(url.query)))
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) in (5, 6):
            return self._one(method, parts[4], parts[3], parts[5] if len(parts) == 6 else None, body,
                             dict(urllib.parse.parse_qsl(url.query)))
        return 404, _status(404, "not found", "NotFound")

    def _list(self, plural: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        etcd = self.etcd
        store = etcd.objects.get(plural, {})
        limit = int(query.get("limit", "0") or 0) or len(store) or 1
        start = ()
        if query.get("continue"):
            if etcd.expire_continue_once:
                etcd.expire_continue_once = False
                return 410, _status(410, "The provided continue parameter is too old", "Expired")
            start = tuple(json.loads(base64.b64decode(query["continue"])))
        names = sorted(k for k in store if k > start)
        page, rest = names[:limit], names[limit:]
        items = [copy.deepcopy(store[k].obj) for k in page]
        meta: dict[str, Any] = {"resourceVersion": str(etcd.revision)}
        if rest:
            meta["continue"] = base64.b64encode(json.dumps(list(page[-1])).encode()).decode()
        for ns, name in page:
            if f"{ns}/{name}" in etcd.delete_after_list:
                store.pop((ns, name), None)
        kind = {"secrets": "SecretList", "configmaps": "ConfigMapList"}.get(plural, "List")
        return 200, {"kind": kind, "apiVersion": "v1", "metadata": meta, "items": items}

    def _one(self, method: str, plural: str, ns: str, name: str | None, body: Any,
             query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        etcd = self.etcd
        store = etcd.objects.setdefault(plural, {})
        if method == "POST":
            name = body["metadata"]["name"]
            if (ns, name) in store:
                return 409, _status(409, f'{plural} "{name}" already exists', "AlreadyExists")
            etcd.revision += 1
            obj = copy.deepcopy(body)
            obj["metadata"].update(namespace=ns, uid=f"uid-{ns}-{name}", resourceVersion=str(etcd.revision))
            store[(ns, name)] = Stored(obj, etcd.revision, etcd.write_key)
            etcd.writes.append(("POST", plural, f"{ns}/{name}", etcd.write_key))
            return 201, copy.deepcopy(obj)
        if name is None:  # namespaced list by label (the verifier's sweep)
            wanted = dict(pair.partition("=")[::2] for pair in query.get("labelSelector", "").split(",") if pair)
            items = [copy.deepcopy(s.obj) for (n, _), s in store.items()
                     if n == ns and wanted.items() <= (s.obj["metadata"].get("labels") or {}).items()]
            return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
        full = f"{ns}/{name}"
        if (ns, name) not in store:
            return 404, _status(404, f'{plural} "{name}" not found', "NotFound")
        current = store[(ns, name)]
        if method == "GET":
            return 200, copy.deepcopy(current.obj)
        if method == "DELETE":
            del store[(ns, name)]
            return 200, _status(200, "deleted")
        # PUT
        if full in etcd.fail_put:
            code = etcd.fail_put[full]
            return code, _status(code, 'admission webhook "deny.example.com" denied the request', "Invalid")
        if full in etcd.conflict_once:
            etcd.conflict_once.discard(full)
            etcd.revision += 1
            current.rv = etcd.revision
            current.obj["metadata"]["resourceVersion"] = str(etcd.revision)
            current.obj.setdefault("metadata", {}).setdefault("annotations", {})["touched-by"] = "another-writer"
        if body["metadata"].get("resourceVersion") != str(current.rv):
            return 409, _status(409, f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified', "Conflict")
        if body.get("data") != current.obj.get("data") or body.get("type") != current.obj.get("type"):
            etcd.data_changes.append(full)
        # Unchanged and already under the write key: the storage layer skips the write (not stale).
        stripped = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        if stripped == current.obj and current.key == etcd.write_key:
            return 200, copy.deepcopy(current.obj)
        etcd.revision += 1
        obj = copy.deepcopy(stripped)
        obj["metadata"]["resourceVersion"] = str(etcd.revision)
        store[(ns, name)] = Stored(obj, etcd.revision, etcd.write_key)
        etcd.writes.append(("PUT", plural, full, etcd.write_key))
        return 200, copy.deepcopy(obj)


@dataclass
class FakeApiServer:
    etcd: Etcd
    port: int
    server: ThreadingHTTPServer

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_api_server(pki: Pki, cluster_id: str = CLUSTER) -> FakeApiServer:
    etcd = Etcd()
    server = serve_tls(type("Handler", (_Handler,), {"etcd": etcd, "cluster_id": cluster_id}), pki)
    return FakeApiServer(etcd, server.server_address[1], server)


# ------------------------------------------------------------------------------------------
# EKS: moto for the cluster, Stubber for the update APIs, and what EKS does when the update succeeds

STUBBED_EKS = ("associate_encryption_config", "describe_update", "list_updates")


def update_shape(key_arn: str, status: str, errors: list[dict[str, Any]] | None = None, update_id: str = UPDATE_ID) -> dict[str, Any]:
    """An Update as the EKS API reference shows it for AssociateEncryptionConfig."""
    return {"id": update_id, "status": status, "type": "AssociateEncryptionConfig",
            "params": [{"type": "EncryptionConfig", "value": json.dumps(association.encryption_config(key_arn))}],
            "createdAt": CREATED_AT, "errors": errors or []}


class Eks:
    """EKS as the code under test sees it; ``calls`` records every operation name, in order."""

    def __init__(self, moto_eks: Any, kms: Any, etcd: Etcd) -> None:
        self.moto = moto_eks
        self.kms = kms
        self.etcd = etcd
        self.calls: list[str] = []
        self.stubbed = boto3.client("eks", region_name=REGION)
        self.stubber = Stubber(self.stubbed)
        self.stubbed.meta.events.register("after-call.eks.AssociateEncryptionConfig", self._on_associate)
        self.stubbed.meta.events.register("after-call.eks.DescribeUpdate", self._on_describe_update)
        self.stubber.activate()

    def __getattr__(self, name: str) -> Any:
        target = self.stubbed if name in STUBBED_EKS else self.moto
        method = getattr(target, name)
        if not callable(method):  # meta, exceptions: as they are
            return method

        def record(**kwargs: Any) -> Any:
            self.calls.append(name)
            return method(**kwargs)

        return record

    def cluster(self) -> Any:
        from moto.eks.models import eks_backends

        return eks_backends[ACCOUNT][REGION].clusters[CLUSTER]

    def _on_associate(self, parsed: dict[str, Any], **_: Any) -> None:
        if "update" in parsed:
            self.cluster().status = "UPDATING"

    def _on_describe_update(self, parsed: dict[str, Any], **_: Any) -> None:
        update = parsed.get("update") or {}
        if update.get("type") != "AssociateEncryptionConfig":
            return
        if update.get("status") == "Successful":
            key_arn = association._update_key(update)
            cluster = self.cluster()
            if not cluster.encryption_config:
                cluster.encryption_config = association.encryption_config(key_arn)
                # EKS grants the cluster role the key (the grant's exact shape is not documented).
                self.kms.create_grant(KeyId=key_arn, GranteePrincipal=CLUSTER_ROLE_ARN,
                                      Operations=["Encrypt", "Decrypt", "DescribeKey"])
                self.etcd.write_key = key_arn
            cluster.status = "ACTIVE"
        elif update.get("status") in ("Failed", "Cancelled"):
            self.cluster().status = "ACTIVE"

    def changes(self) -> list[str]:
        return [c for c in self.calls if c == "associate_encryption_config"]


def expect_association(eks: Eks, key_arn: str, *statuses: str, update_id: str = UPDATE_ID) -> None:
    """Queue AssociateEncryptionConfig (InProgress) and one DescribeUpdate per status."""
    eks.stubber.add_response("associate_encryption_config", {"update": update_shape(key_arn, "InProgress", update_id=update_id)},
                             {"clusterName": CLUSTER, "encryptionConfig": association.encryption_config(key_arn),
                              "clientRequestToken": _ANY})
    expect_describe(eks, key_arn, *statuses, update_id=update_id)


def expect_describe(eks: Eks, key_arn: str, *statuses: str, update_id: str = UPDATE_ID) -> None:
    for status in statuses:
        errors = [{"errorCode": "AccessDenied", "errorMessage": "KMS key access denied for CreateGrant", "resourceIds": [key_arn]}] if status == "Failed" else []
        eks.stubber.add_response("describe_update", {"update": update_shape(key_arn, status, errors, update_id)},
                                 {"name": CLUSTER, "updateId": update_id})


class _Any:
    def __eq__(self, other: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return "<any>"


_ANY = _Any()


def stubbed_iam(*decisions: dict[str, str]) -> tuple[Any, Stubber]:
    """An IAM client answering SimulatePrincipalPolicy (moto lacks it) in order: one dict action -> decision per call."""
    client = boto3.client("iam", region_name=REGION)
    stubber = Stubber(client)
    for decision in decisions:
        stubber.add_response("simulate_principal_policy", {
            "EvaluationResults": [{"EvalActionName": action, "EvalResourceName": "*", "EvalDecision": verdict,
                                   "MatchedStatements": [], "MissingContextValues": []} for action, verdict in decision.items()],
            "IsTruncated": False})
    stubber.activate()
    return client, stubber


ALLOW_CALLER = {a: "allowed" for a in association.CALLER_KEY_ACTIONS}
ALLOW_ROLE = {a: "allowed" for a in association.CLUSTER_ROLE_KEY_ACTIONS}

__all__ = ["ACCOUNT", "CLUSTER", "CLUSTER_ROLE_ARN", "REGION", "Eks", "Etcd", "FakeApiServer", "FakeTime", "make_key",
           "start_api_server", "stubbed_iam", "expect_association", "expect_describe"]
