"""Offline fakes for the verifier: moto for AWS, a local HTTPS Kubernetes API with a test CA, a fake clock.

A uniquely named module (not conftest) so test files can import helpers without clashing with other
test folders' conftest modules.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import gc
import hashlib
import hmac
import ipaddress
import json
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import pytest
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from verifier.stages import verification as checks
from verifier import contract
from verifier import jsonlog
from verifier import kube

REGION = "us-west-2"
ACCOUNT = "123456789012"
CLUSTER = "envelope-test"
CLUSTER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/eks/eks-envelope-ClusterRole-TEST"
TEST_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
TEST_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FIXTURE_NAME = "cloudtrail-lookup-events-eks-kms.json"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/s/1"
CLUSTER_VERSION = "1.34"
#: DescribeClusterVersions entries as EKS answers them (API reference shape; dates fixed, never today's).
CLUSTER_VERSIONS: dict[str, dict[str, Any]] = {
    "1.34": {"clusterVersion": "1.34", "clusterType": "eks", "defaultPlatformVersion": "eks.9", "defaultVersion": False,
             "releaseDate": dt.datetime(2025, 10, 2, tzinfo=dt.timezone.utc),
             "endOfStandardSupportDate": dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc),
             "endOfExtendedSupportDate": dt.datetime(2027, 12, 2, tzinfo=dt.timezone.utc),
             "status": "standard-support", "versionStatus": "STANDARD_SUPPORT", "kubernetesPatchVersion": "1.34.2"},
    "1.31": {"clusterVersion": "1.31", "clusterType": "eks", "defaultPlatformVersion": "eks.40", "defaultVersion": False,
             "releaseDate": dt.datetime(2024, 9, 26, tzinfo=dt.timezone.utc),
             "endOfStandardSupportDate": dt.datetime(2025, 11, 26, tzinfo=dt.timezone.utc),
             "endOfExtendedSupportDate": dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc),
             "status": "extended-support", "versionStatus": "EXTENDED_SUPPORT", "kubernetesPatchVersion": "1.31.13"},
}
OWNER = f"{STACK_ID}/Verify"  # the owner of canaries made by events with this StackId and LogicalResourceId


def fixture_path(name: str) -> Path:
    """The repo copy first (robust), else the shared folder the CI places next to the repo."""
    local = Path(__file__).parent / "fixtures" / name
    return local if local.exists() else Path(__file__).parents[2].parent / "shared" / "fixtures" / name


# ------------------------------------------------------------------------------------------
# certificates


@dataclass
class Pki:
    ca_pem: bytes
    cert_path: Path
    key_path: Path


def _make_pki(tmp: Path, label: str, names: list[str], *, key_identifiers: bool = True) -> Pki:
    """A CA and a server certificate; ``key_identifiers=False`` omits SKI/AKI like CAs of clusters first
    created before Kubernetes 1.17 (rejected by Python 3.13+'s default VERIFY_X509_STRICT)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{label} test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
    )
    if key_identifiers:
        ca = ca.add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
    ca = ca.sign(ca_key, hashes.SHA256())
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if key_identifiers:
        cert = cert.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    cert = cert.sign(ca_key, hashes.SHA256())
    cert_path, key_path = tmp / f"{label}-server.pem", tmp / f"{label}-server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Pki(ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _make_pki(tmp_path_factory.mktemp("pki"), "cluster", ["127.0.0.1", "localhost"])


@pytest.fixture(scope="session")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _make_pki(tmp_path_factory.mktemp("rogue"), "rogue", ["127.0.0.1", "localhost"])


# ------------------------------------------------------------------------------------------
# token validation, as aws-iam-authenticator (format) and STS (signature) would


def _sigv4_signature(url: urllib.parse.SplitResult, query: list[tuple[str, str]], cluster_id: str) -> str:
    params = {k: v for k, v in query}
    signed = params["X-Amz-SignedHeaders"].split(";")
    header_values = {"host": url.netloc, "x-k8s-aws-id": cluster_id}
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted((k, v) for k, v in query if k != "X-Amz-Signature")
    )
    canonical_headers = "".join(f"{h}:{header_values.get(h, '')}\n" for h in signed)
    canonical_request = "\n".join(["GET", url.path or "/", canonical_query, canonical_headers, ";".join(signed),
                                   hashlib.sha256(b"").hexdigest()])
    access_key, date, region, service, terminator = params["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/{terminator}"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope,
                         hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("AWS4" + TEST_SECRET_KEY).encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def validate_token(header: str | None, cluster_id: str) -> str | None:
    """None if acceptable, else the reason; mirrors aws-iam-authenticator pkg/token Verify."""
    problem, signed_at, signature_ok = _read_token(header, cluster_id)
    if problem:
        return problem
    if abs((dt.datetime.now(dt.timezone.utc) - signed_at).total_seconds()) > 900:
        return "expired"
    # STS recomputes the signature with the cluster id the API server expects: a token for
    # another cluster (or with the header unsigned) does not verify.
    if not signature_ok:
        return "signature (cluster id)"
    return None


@functools.lru_cache(maxsize=256)
def _read_token(header: str | None, cluster_id: str) -> tuple[str | None, dt.datetime | None, bool]:
    """Everything ``validate_token`` checks but the clock: (the first problem, when it was signed, whether the
    signature holds for ``cluster_id``). A pure function of its arguments, read once per token and cluster:
    the client sends one token for up to 40 s (a re-encryption, with every request)."""
    if not header or not header.startswith("Bearer "):
        return "no bearer token", None, False
    token = header[len("Bearer "):]
    if not token.startswith(kube.TOKEN_PREFIX):
        return "missing k8s-aws-v1. prefix", None, False
    body = token[len(kube.TOKEN_PREFIX):]
    if "=" in body:
        return "padded base64", None, False
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except ValueError:
        return "not base64url", None, False
    url = urllib.parse.urlsplit(raw)
    if url.scheme != "https":
        return "scheme", None, False
    if url.netloc not in (f"sts.{REGION}.amazonaws.com", "sts.amazonaws.com"):
        return f"host {url.netloc}", None, False
    query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    params = {k: v for k, v in query}
    if params.get("Action") != "GetCallerIdentity":
        return "action", None, False
    if "x-k8s-aws-id" not in params.get("X-Amz-SignedHeaders", "").split(";"):
        return "x-k8s-aws-id not signed", None, False
    try:
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        return "X-Amz-Expires missing", None, False
    if expires > 900:
        return "X-Amz-Expires > 900", None, False
    signed_at = dt.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    signature_ok = hmac.compare_digest(_sigv4_signature(url, query, cluster_id), params.get("X-Amz-Signature", ""))
    return None, signed_at, signature_ok


# ------------------------------------------------------------------------------------------
# fake Kubernetes API server


@dataclass
class Fault:
    method: str
    plural: str
    status: int
    times: int | None  # None: forever
    retry_after: str | None = None


@dataclass
class Misbehave:
    """A CA-trusted server misbehaving on matching requests: see _KubeHandler._misbehave for the modes."""

    method: str
    target: str  # a plural ("secrets", "pods") or a path prefix ("/readyz")
    mode: str
    times: int | None = 1  # None: forever


@dataclass
class Scenario:
    cluster_id: str = CLUSTER
    pod_mode: str = "terminate"  # terminate | pending | wrong | crash | image-pull
    pending_polls: int = 1  # GETs that still see Pending before the pod terminates
    faults: list[Fault] = field(default_factory=list)
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    auth_rejections: list[str] = field(default_factory=list)
    seen_values: list[str] = field(default_factory=list)  # canary values as the server received them
    created: dict[str, list[str]] = field(default_factory=lambda: {"secrets": [], "pods": []})
    lock: threading.Lock = field(default_factory=threading.Lock)
    misbehaviours: list[Misbehave] = field(default_factory=list)
    readyz: tuple[int, str] = (200, "[+]ping ok\n[+]etcd ok\n[+]kms-providers ok\nreadyz check passed\n")
    stop: threading.Event = field(default_factory=threading.Event)  # set at teardown: hung handlers return
    list_limits: list[str] = field(default_factory=list)  # the limit of every list request, to prove paging
    trickle_seconds: float = 0.2  # the "trickle" modes' pause between bytes; they trickle for 30 s in all

    def misbehave(self, method: str, target: str, mode: str, times: int | None = 1) -> None:
        self.misbehaviours.append(Misbehave(method, target, mode, times))

    def _take(self, method: str, path: str) -> str | None:
        with self.lock:
            for m in self.misbehaviours:
                hit = f"/{m.target}" in path if not m.target.startswith("/") else path.startswith(m.target)
                if m.method == method and hit and (m.times is None or m.times > 0):
                    if m.times is not None:
                        m.times -= 1
                    return m.mode
        return None

    def plant(self, plural: str, name: str, *, labels: dict[str, str] | None = None, owner: str = "someone",
              run: str = "r0", age_seconds: float = 0.0, namespace: str = "default") -> None:
        """An object left on the cluster by another (or an earlier) run."""
        created = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=age_seconds)
        store = self.secrets if plural == "secrets" else self.pods
        store[(namespace, name)] = {"metadata": {
            "name": name, "namespace": namespace, "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "labels": labels if labels is not None else canary_labels(owner),
            "annotations": {"eks-envelope.io/owner": owner, "eks-envelope.io/run": run}}, "data": {"value": "eA=="}}

    def inject(self, method: str, plural: str, status: int, times: int | None = 1, retry_after: str | None = None) -> None:
        self.faults.append(Fault(method, plural, status, times, retry_after))

    def calls(self, method: str | None = None, plural: str | None = None, status: int | None = None) -> int:
        return sum(1 for m, p, s in self.log if (method in (None, m)) and (plural is None or f"/{plural}" in p)
                   and status in (None, s))


def canary_labels(owner: str) -> dict[str, str]:
    """The labels a verifier run with this owner puts on its canaries."""
    return {contract.CANARY_LABEL_KEY: contract.CANARY_LABEL_VALUE,
            "app.kubernetes.io/managed-by": "eks-envelope-verifier",
            "eks-envelope.io/owner": hashlib.sha256(owner.encode()).hexdigest()[:16]}


def _status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}


class _KubeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: avoid 40 ms delayed-ACK stalls
    scenario: Scenario

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _raw(self, code: int, data: bytes, headers: dict[str, str] | None = None, content_length: int | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data) if content_length is None else content_length))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _handle(self, method: str) -> None:
        sc = self.scenario
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")  # api v1 namespaces NS PLURAL [NAME]
        mode = sc._take(method, url.path)
        if mode and self._misbehave(mode, method, url):
            return
        if url.path == "/readyz":
            reason = validate_token(self.headers.get("Authorization"), sc.cluster_id)
            code, text = (401, "Unauthorized") if reason else sc.readyz
            with sc.lock:
                sc.log.append((method, url.path, code))
            self._raw(code, text.encode(), {"Content-Type": "text/plain"})
            return
        code, payload, headers = self._route(method, url, parts, body)
        with sc.lock:
            sc.log.append((method, url.path, code))
        if mode == "chunked":  # the answer in chunks of unannounced total length, as large lists stream
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(data), 7):
                piece = data[start:start + 7]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if mode == "answer-then-close":  # a full answer, then the server drops the connection unannounced
            self._send(code, payload, headers)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "lose":  # the request took effect; the response never arrives
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = json.dumps(payload).encode()
        if mode == "truncate":  # announce more than is sent, then close
            self._raw(code, data[: len(data) // 2], content_length=len(data))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "tamper" and isinstance(payload.get("data"), dict):
            payload["data"]["value"] = base64.b64encode(b"tampered").decode()
        if mode == "value-int" and isinstance(payload.get("data"), dict):
            payload["data"]["value"] = 12345
        self._send(code, payload, headers)

    def _misbehave(self, mode: str, method: str, url: urllib.parse.SplitResult) -> bool:
        """Modes answered without touching the store; True when the response is done."""
        sc = self.scenario
        if mode in ("lose", "truncate", "tamper", "value-int", "answer-then-close", "chunked"):
            return False
        with sc.lock:
            sc.log.append((method, url.path, -1))
        if mode == "redirect":
            self._raw(307, b"", {"Location": "https://attacker.invalid/steal", "Content-Type": "text/plain"})
        elif mode == "hang":  # TCP and TLS fine, request read, never an answer
            sc.stop.wait(30)
        elif mode == "trickle":  # a valid status line, then one byte every trickle_seconds, for 30 s
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.flush()
            for _ in range(int(30 / sc.trickle_seconds)):
                if sc.stop.wait(sc.trickle_seconds):
                    break
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    break
        elif mode == "trickle-headers":  # the status line and headers one byte every trickle_seconds, for 30 s
            for byte in (b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * int(30 / sc.trickle_seconds)):
                if sc.stop.wait(sc.trickle_seconds):
                    break
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    break
        elif mode == "oversize":
            self._raw(200, b"{" + b" " * (kube.MAX_BODY_BYTES + 10) + b"}")
        elif mode == "html":
            self._raw(200, b"<html><body><h1>502 Bad Gateway</h1><script>alert(1)</script></body></html>",
                      {"Content-Type": "text/html"})
        elif mode == "html-error":
            self._raw(418, b"<html><body><h1>I'm a teapot</h1>\x00\x1b[31m" + b"x" * 3000 + b"</body></html>",
                      {"Content-Type": "text/html"})
        elif mode == "deep":
            self._raw(200, b"[" * 100000 + b"]" * 100000)
        elif mode == "deep-object":
            self._raw(200, b'{"a":' * 200 + b"1" + b"}" * 200)
        elif mode == "list-body":
            self._raw(200, b"[1, 2, 3]")
        elif mode == "lose-before":
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True
        return True

    def _route(self, method: str, url: urllib.parse.SplitResult, parts: list[str], body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        sc = self.scenario
        reason = validate_token(self.headers.get("Authorization"), sc.cluster_id)
        if reason:
            sc.auth_rejections.append(reason)
            return 401, _status(401, "Unauthorized"), {}
        if len(parts) < 5 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] not in ("secrets", "pods"):
            return 404, _status(404, "not found"), {}
        ns, plural = parts[3], parts[4]
        name = parts[5] if len(parts) > 5 else None
        with sc.lock:
            for fault in sc.faults:
                if fault.method == method and fault.plural == plural and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.status, _status(fault.status, f"injected {fault.status}"), (
                        {"Retry-After": fault.retry_after} if fault.retry_after else {})
            store = sc.secrets if plural == "secrets" else sc.pods
            if method == "POST":
                obj_name = body["metadata"]["name"]
                if (ns, obj_name) in store:
                    return 409, _status(409, f'{plural} "{obj_name}" already exists'), {}
                obj = json.loads(json.dumps(body))
                obj["metadata"]["namespace"] = ns
                obj["metadata"]["creationTimestamp"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                if plural == "pods":
                    obj["_polls"] = 0
                store[(ns, obj_name)] = obj
                sc.created[plural].append(obj_name)
                if plural == "secrets":
                    sc.seen_values.append(base64.b64decode(body["data"]["value"]).decode())
                return 201, self._public(plural, obj), {}
            if method == "GET" and name is None:
                query = dict(urllib.parse.parse_qsl(url.query))
                wanted = dict(term.partition("=")[::2] for term in query.get("labelSelector", "").split(",") if term)
                items = [self._public(plural, o) for (n, _), o in sorted(store.items())
                         if n == ns and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
                limit = int(query.get("limit") or 500)
                sc.list_limits.append(query.get("limit", ""))
                start = int(query.get("continue") or 0)
                page = items[start:start + limit]
                more = str(start + limit) if start + limit < len(items) else ""
                return 200, {"kind": f"{plural.title()}List", "metadata": {"continue": more}, "items": page}, {}
            if (ns, name) not in store:
                return 404, _status(404, f'{plural} "{name}" not found'), {}
            if method == "DELETE":
                obj = store.pop((ns, name))
                return 200, self._public(plural, obj), {}
            obj = store[(ns, name)]
            if plural == "pods":
                obj["_polls"] += 1
                return 200, self._pod_view(ns, obj), {}
            return 200, self._public(plural, obj), {}

    @staticmethod
    def _public(plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _pod_view(self, ns: str, pod: dict[str, Any]) -> dict[str, Any]:
        sc = self.scenario
        view = self._public("pods", pod)
        if sc.pod_mode == "pending" or (sc.pod_mode == "image-pull"):
            scheduled = sc.pod_mode == "image-pull"
            view["status"] = {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True" if scheduled else "False",
                                "reason": None if scheduled else "Unschedulable"}],
                "containerStatuses": [{"name": "canary", "state": {"waiting": {"reason": "ImagePullBackOff"}}}] if scheduled else [],
            }
            return view
        if pod["_polls"] <= sc.pending_polls:
            view["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}
            return view
        secret_name = pod["spec"]["volumes"][0]["secret"]["secretName"]
        secret = sc.secrets.get((ns, secret_name))
        value = base64.b64decode(secret["data"]["value"]) if secret else b""
        if sc.pod_mode == "wrong":
            value += b"-tampered"
        exit_code = 1 if sc.pod_mode == "crash" else 0
        view["status"] = {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "canary", "state": {"terminated": {
                "exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                "message": hashlib.sha256(value).hexdigest() + "\n" if secret and exit_code == 0 else ""}}}],
        }
        return view


@dataclass
class KubeServer:
    scenario: Scenario
    port: int
    http: "CountingServer"

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"


class CountingServer(ThreadingHTTPServer):
    """Counts the TLS connections it accepts (a client that keeps its connection open opens one) and those
    still open (a connection ends when the client closes it, or when the handler closes it)."""

    connections = 0
    closed = 0
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type) -> None:
        super().__init__(address, handler)
        self._wake, self._waker = socket.socketpair()
        self._stopping = False
        self._stopped = threading.Event()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """socketserver's loop, but woken by :meth:`shutdown` through a socket pair instead of noticing it at
        the next poll: a test's teardown does not wait out a poll interval (nor does the loop poll meanwhile)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            try:
                while not self._stopping:
                    for key, _ in selector.select():
                        if key.fileobj is self and not self._stopping:
                            self._handle_request_noblock()
                    self.service_actions()
            finally:
                self._stopped.set()

    def shutdown(self) -> None:
        self._stopping = True
        self._waker.send(b"!")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake.close()
        self._waker.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed += 1

    def open_connections(self, settle_seconds: float = 2.0) -> int:
        """Connections not yet ended, once those being closed have had up to settle_seconds to end."""
        until = time.monotonic() + settle_seconds
        while self.connections - self.closed and time.monotonic() < until:
            time.sleep(0.01)
        return self.connections - self.closed


def serve_tls(handler: type, pki: Pki) -> CountingServer:
    """An HTTPS server on loopback with the PKI's certificate, serving in a daemon thread."""
    server = CountingServer(("127.0.0.1", 0), handler)
    server.socket = _server_context(pki.cert_path, pki.key_path).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@functools.lru_cache(maxsize=None)
def _server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """One server-side TLS context per certificate, shared by the servers of every test that serves it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def start_kube_server(pki: Pki) -> tuple[KubeServer, ThreadingHTTPServer]:
    scenario = Scenario()
    server = serve_tls(type("Handler", (_KubeHandler,), {"scenario": scenario}), pki)
    return KubeServer(scenario, server.server_address[1], server), server


@pytest.fixture
def kube_server(pki: Pki) -> Any:
    handle, server = start_kube_server(pki)
    yield handle
    handle.scenario.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def misnamed_server(tmp_path: Path) -> Any:
    """A server whose certificate chains to its CA but names another host than the one dialled."""
    misnamed = _make_pki(tmp_path, "misnamed", ["kubernetes.invalid"])
    handle, server = start_kube_server(misnamed)
    yield handle, misnamed
    server.shutdown()
    server.server_close()


@pytest.fixture
def pre117_server(tmp_path: Path) -> Any:
    """A server whose CA and certificate carry no key identifiers (clusters first created before 1.17)."""
    old = _make_pki(tmp_path, "pre117", ["127.0.0.1", "localhost"], key_identifiers=False)
    handle, server = start_kube_server(old)
    yield handle, old
    handle.scenario.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def blackhole() -> Any:
    """A TCP port that completes the handshake in the kernel but never answers TLS: a hung endpoint."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


# ------------------------------------------------------------------------------------------
# time


class FakeTime:
    """Real elapsed time plus whatever the code under test 'slept'; sleeping costs nothing."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.offset += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def runtime(fake_time: FakeTime) -> checks.Runtime:
    import random

    return checks.Runtime(
        deadline=fake_time.clock() + 840.0,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        now_utc=lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=fake_time.offset),
        rng=random.Random(7),
        kube_policy=kube.RetryPolicy(auth_grace_seconds=60.0, request_timeout_seconds=2.0),
    )


# ------------------------------------------------------------------------------------------
# AWS (moto)


class _PartitionsOnce:
    """Stands in for boto3's Session in moto's EKS role-ARN check, which builds a new Session (reading
    botocore's endpoints file) on every CreateCluster: most of a test's setup time. Same answer, read once."""

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def _partitions() -> tuple[str, ...]:
        return tuple(boto3.session.Session().get_available_partitions())

    def get_available_partitions(self) -> list[str]:
        return list(self._partitions())


@functools.lru_cache(maxsize=None)
def _load_json_file(path: str) -> Any:
    return _READ_JSON_FILE(botocore.loaders.JSONFileLoader(), path)


_READ_JSON_FILE = botocore.loaders.JSONFileLoader.load_file
_LIST_SERVICES = botocore.loaders.Loader.list_available_services
_SERVICES: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}


def _list_available_services(loader: botocore.loaders.Loader, type_name: str) -> list[str]:
    """botocore's answer for the first Loader with these search paths, then the same list for every later one."""
    key = (tuple(loader.search_paths), type_name)
    if key not in _SERVICES:
        _SERVICES[key] = tuple(_LIST_SERVICES(loader, type_name))
    return list(_SERVICES[key])


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.eks.utils

    monkeypatch.setattr(moto.eks.utils, "Session", _PartitionsOnce)
    # Every new boto3 Session (the handler makes its own per invocation) decodes botocore's model and
    # endpoint files anew, and lists its data directories (thousands of stat calls) for each first client
    # of a service: read each file and list the directories once per run instead. botocore already treats
    # loaded models as read-only (one Session hands the same dict to every client); the data directories
    # do not change while the suite runs.
    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", lambda self, path: _load_json_file(path))
    monkeypatch.setattr(botocore.loaders.Loader, "list_available_services", _list_available_services)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    jsonlog.configure()  # the CLI test routes logs to stderr; every test starts from the default


@dataclass
class World:
    """A moto account with a healthy cluster whose API endpoint is the local fake server."""

    eks: Any
    kms: Any
    sts: Any
    key_arn: str
    key_id: str
    alias: str
    server: KubeServer
    pki: Pki

    def clients(self, cloudtrail: Any = None) -> checks.Clients:
        return checks.Clients(eks=self.eks, kms=self.kms, cloudtrail=cloudtrail,
                              token_provider=lambda name: kube.make_token(self.sts, name))

    def cluster_backend(self) -> Any:
        from moto.eks.models import eks_backends

        return eks_backends[ACCOUNT][REGION].clusters[CLUSTER]

    def point_cluster_at(self, endpoint: str, ca_pem: bytes) -> None:
        cluster = self.cluster_backend()
        cluster.endpoint = endpoint
        cluster.certificate_authority = {"data": base64.b64encode(ca_pem).decode()}

    def config(self, **overrides: Any) -> checks.Config:
        values = {"cluster_name": CLUSTER, "expected_key": self.key_arn, "cluster_role_arn": CLUSTER_ROLE_ARN,
                  "namespace": contract.CANARY_NAMESPACE, "label_key": contract.CANARY_LABEL_KEY,
                  "label_value": contract.CANARY_LABEL_VALUE, "pod_check": False, "pod_image": contract.POD_IMAGE,
                  "pod_timeout_seconds": float(contract.POD_TIMEOUT_SECONDS), "cloudtrail_check": False,
                  "cloudtrail_wait_seconds": float(contract.CLOUDTRAIL_WAIT_SECONDS), "cloudtrail_required": False,
                  "owner": OWNER, "run_id": "run-1"}
        values.update(overrides)
        return checks.Config(**values)

    def props(self, **overrides: str) -> dict[str, str]:
        values = {"ServiceToken": "arn:aws:lambda:us-west-2:123456789012:function:provider", "ClusterName": CLUSTER,
                  "KeyArn": self.key_arn, "ClusterRoleArn": CLUSTER_ROLE_ARN, "CanaryNamespace": contract.CANARY_NAMESPACE,
                  "CanaryLabelKey": contract.CANARY_LABEL_KEY, "CanaryLabelValue": contract.CANARY_LABEL_VALUE,
                  "PodCheck": "true", "PodImage": contract.POD_IMAGE, "PodTimeoutSeconds": str(contract.POD_TIMEOUT_SECONDS),
                  "CloudTrailCheck": "false", "CloudTrailWaitSeconds": str(contract.CLOUDTRAIL_WAIT_SECONDS),
                  "CloudTrailRequired": "false", "RunNonce": "1"}
        values.update(overrides)
        return values


def make_key(kms: Any, *, rotation: bool = True, grant_to: str | None = CLUSTER_ROLE_ARN) -> tuple[str, str]:
    meta = kms.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT", Description="eks secrets")["KeyMetadata"]
    if rotation:
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    if grant_to:
        kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=grant_to,
                         Operations=["Encrypt", "Decrypt", "DescribeKey", "CreateGrant"])
    return meta["Arn"], meta["KeyId"]


@functools.lru_cache(maxsize=1)
def _shared_clients() -> tuple[Any, Any, Any]:
    """Clients are reused across tests (creating them dominates setup); moto intercepts them whenever a mock is active
    and resets its state per test."""
    session = boto3.session.Session(aws_access_key_id=TEST_ACCESS_KEY, aws_secret_access_key=TEST_SECRET_KEY,
                                    region_name=REGION)
    # Explicit keys: mock_aws swaps the environment credentials, and the fake API server verifies
    # the token signature with the test secret the way STS would.
    sts = session.client("sts", endpoint_url=kube.sts_endpoint(REGION))
    return session.client("eks"), session.client("kms"), sts


@pytest.fixture(scope="module", autouse=True)
def long_lived_heap_frozen() -> Any:
    """The cyclic garbage collector leaves what exists when a module starts alone until the module ends.

    By then the heap holds ~300,000 long-lived objects (botocore's models and sessions, moto's backends), and
    each full collection walked all of them (~0.25 s, 6-8 times over these folders). Frozen, they are skipped;
    unfrozen at the module's end, they are collected as before (garbage among them included)."""
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(scope="module")
def moto_engine() -> Any:
    """moto's interception of every botocore call, started once per test module.

    Starting ``mock_aws`` registers some 1,300 URL callbacks with ``responses`` (10-15 ms a start); each test
    still starts from an empty account, through :func:`empty_account`. The mock also replaces boto3's default
    session (restored when it stops): with one made under moto's credentials, which serves ``boto3.client(...)``
    in every module instead of being built anew (and its service models loaded again) for each.
    """
    with mock_aws() as mock:
        boto3.DEFAULT_SESSION = _moto_default_session()
        yield mock


@functools.lru_cache(maxsize=1)
def _moto_default_session() -> boto3.session.Session:
    """boto3's default session as ``mock_aws`` leaves it to be made: under moto's credentials, from the environment."""
    session = boto3.session.Session()
    session._session.get_credentials()  # resolved now, while moto's are in the environment
    return session


@pytest.fixture
def empty_account(moto_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``with mock_aws():`` gives a test, on the module's engine: an account with nothing in it (moto's
    reset API, what ``mock_aws`` calls when it starts) and moto's credentials in the environment."""
    from moto.moto_api import _internal as moto_api

    moto_api.moto_api_backend.reset()
    for name, value in moto_engine._fake_creds.items():
        monkeypatch.setenv(name, value)


def symmetric_keys_without_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto makes an RSA-2048 key pair for every KMS key, even symmetric ones (only used to Sign/Verify);
    skipping it for SYMMETRIC_DEFAULT keeps the fault matrix fast on a loaded machine."""
    import moto.kms.models as moto_kms

    original = moto_kms.generate_private_key
    monkeypatch.setattr(moto_kms, "generate_private_key",
                        lambda spec: None if spec == "SYMMETRIC_DEFAULT" else original(spec))


def _region_backends() -> dict[str, Any]:
    from moto.eks.models import eks_backends
    from moto.kms.models import kms_backends

    return {"eks": eks_backends[ACCOUNT][REGION], "kms": kms_backends[ACCOUNT][REGION]}


@dataclass(frozen=True)
class AccountImage:
    """EKS and KMS as moto holds them once a fixture has built an account through the API.

    Built once per module (five moto calls cost ~8 ms), copied into each test's empty account (~0.2 ms):
    every test starts from the same state, and what one test changes never reaches another.
    """

    state: dict[str, dict[str, Any]]

    @classmethod
    def take(cls) -> "AccountImage":
        return cls({service: copy.deepcopy(vars(backend)) for service, backend in _region_backends().items()})

    def install(self) -> None:
        for service, backend in _region_backends().items():
            backend.__dict__ = copy.deepcopy(self.state[service])


def build_account(build: Any) -> tuple[AccountImage, Any]:
    """Run ``build(eks, kms)`` (moto calls) on an empty account and take its image; returns (image, what build returned).

    For module-scoped fixtures, under the module's ``moto_engine``: the account is emptied again afterwards."""
    import moto.eks.utils
    from moto.moto_api import _internal as moto_api

    with pytest.MonkeyPatch.context() as patch:
        symmetric_keys_without_rsa(patch)
        patch.setattr(moto.eks.utils, "Session", _PartitionsOnce)
        moto_api.moto_api_backend.reset()
        eks, kms, _ = _shared_clients()
        built = build(eks, kms)
        image = AccountImage.take()
        moto_api.moto_api_backend.reset()
    return image, built


@pytest.fixture(scope="module")
def world_image(moto_engine: Any) -> tuple[AccountImage, tuple[str, str]]:
    """A healthy cluster whose secrets are encrypted with a rotated key granted to the cluster role, and the key's alias."""

    def build(eks: Any, kms: Any) -> tuple[str, str]:
        key_arn, key_id = make_key(kms)
        kms.create_alias(AliasName="alias/eks-envelope-test", TargetKeyId=key_id)
        eks.create_cluster(name=CLUSTER, roleArn=CLUSTER_ROLE_ARN, version=CLUSTER_VERSION,
                           resourcesVpcConfig={"subnetIds": ["subnet-1"], "endpointPrivateAccess": True},
                           encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key_arn}}])
        return key_arn, key_id

    return build_account(build)


@pytest.fixture
def world(empty_account: None, world_image: tuple[AccountImage, tuple[str, str]], kube_server: KubeServer, pki: Pki,
          monkeypatch: pytest.MonkeyPatch) -> Any:
    symmetric_keys_without_rsa(monkeypatch)  # for the keys tests make
    image, (key_arn, key_id) = world_image
    image.install()
    eks, kms, sts = _shared_clients()
    answer_cluster_versions(eks, CLUSTER_VERSIONS)  # moto does not implement DescribeClusterVersions
    w = World(eks, kms, sts, key_arn, key_id, "alias/eks-envelope-test", kube_server, pki)
    w.point_cluster_at(kube_server.endpoint, pki.ca_pem)
    return w


class Within:
    """Assert a block finishes inside a wall-clock budget (the fault matrix must stay fast)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> "Within":
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.elapsed = time.monotonic() - self.start
        if exc[0] is None:
            assert self.elapsed < self.seconds, f"took {self.elapsed:.2f}s, budget {self.seconds}s"


def stubbed_eks(cluster: dict[str, Any], *, versions: dict[str, Any] | None = None) -> tuple[Any, Stubber]:
    """An EKS client answering DescribeCluster with a shape moto does not model (health.issues); with
    ``versions``, DescribeClusterVersions for the cluster's version next (else that call is unstubbed)."""
    client = boto3.client("eks", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("describe_cluster", {"cluster": cluster}, {"name": cluster["name"]})
    if versions is not None:
        stubber.add_response("describe_cluster_versions", versions,
                             {"clusterVersions": [cluster["version"]], "includeAll": True})
    stubber.activate()
    return client, stubber


_VERSIONS_HOOK = "eks-envelope-fake-cluster-versions"


def answer_cluster_versions(client: Any, entries: dict[str, dict[str, Any]]) -> None:
    """Make ``client`` answer DescribeClusterVersions from ``entries`` (moto has no such operation).

    A ``before-call`` hook short-circuits the request the way botocore's Stubber does, and the answer is
    validated against the operation's output shape, so it is a response EKS could send.
    """
    from botocore.awsrequest import AWSResponse
    from botocore.validate import validate_parameters

    output_shape = client.meta.service_model.operation_model("DescribeClusterVersions").output_shape

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        wanted = params.get("clusterVersions") or list(entries)
        parsed = {"clusterVersions": [copy.deepcopy(entries[v]) for v in wanted if v in entries]}
        validate_parameters(parsed, output_shape)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
        return AWSResponse("https://eks.invalid", 200, {}, None), parsed

    client.meta.events.unregister("before-call.eks.DescribeClusterVersions", unique_id=_VERSIONS_HOOK)
    client.meta.events.register("before-call.eks.DescribeClusterVersions", answer, unique_id=_VERSIONS_HOOK)


def stubbed_cloudtrail(*responses: tuple[str, Any], fake_time: Any = None, calls_at: list | None = None) -> tuple[Any, Stubber]:
    """A CloudTrail client answering LookupEvents in order: ("ok", response) or ("error", code).

    With ``calls_at``, the (fake) time of each call is recorded, to check the 2 requests/second limit.
    """
    client = boto3.client("cloudtrail", region_name=REGION)
    if calls_at is not None:
        client.meta.events.register("before-parameter-build.cloudtrail.LookupEvents",
                                    lambda **_: calls_at.append(fake_time.clock()))
    stubber = Stubber(client)
    for kind, payload in responses:
        if kind == "error":
            stubber.add_client_error("lookup_events", service_error_code=payload, http_status_code=400)
        else:
            stubber.add_response("lookup_events", payload)
    stubber.activate()
    return client, stubber


def lookup_events_fixture(key_id: str | None = None) -> dict[str, Any]:
    """The shared LookupEvents fixture; with ``key_id``, re-addressed to this test account, key and
    cluster role (the role has a path), as if EKS had used the test world's key."""
    text = fixture_path(FIXTURE_NAME).read_text()
    if key_id is not None:
        text = (text.replace("111111111111", "123456789012").replace("1234abcd-12ab-34cd-56ef-1234567890ab", key_id)
                .replace("eks-envelope-ClusterRole-EXAMPLE", "eks-envelope-ClusterRole-TEST"))
    data = json.loads(text)
    for event in data["Events"]:
        event["EventTime"] = dt.datetime.fromisoformat(event["EventTime"].replace("Z", "+00:00"))
    return data


class FakeContext:
    def __init__(self, remaining_ms: int = 840_000) -> None:
        self.remaining_ms = remaining_ms
        self.aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
