"""Rewrite every stored object of a kind unchanged, so the API server stores it again under the current key.

The API server re-encrypts an object only when it writes it. An update that changes nothing is
written anyway when the stored copy was encrypted by a provider other than the current one (the
storage layer marks it stale), and skipped otherwise: re-running is harmless, and a changed
``resourceVersion`` shows the object really was stored again. This is what the Kubernetes docs'
``kubectl get secrets -A -o json | kubectl replace -f -`` does, one object at a time, with conflicts
retried and nothing but the server's own copy ever sent back.

Uses only ``kube.KubeClient.request`` (read-only use of the verifier's client).
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import jsonlog, kube
from ..contract import DEFAULT_PAGE_SIZE

MAX_CONFLICT_RETRIES = 5
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
#: Failures of one object (recorded, the run goes on); any other KubeError kind ends the run.
PER_OBJECT_KINDS = {"http", "server", "forbidden"}


class ReencryptAborted(Exception):
    """The run cannot go on (cluster unreachable, token rejected, out of time); ``outcome`` holds what was done."""

    def __init__(self, outcome: "Outcome", cause: Exception) -> None:
        self.outcome = outcome
        super().__init__(f"re-encryption of {outcome.kind} stopped after {outcome.rewritten} rewritten: {cause}")


@dataclass
class Outcome:
    kind: str
    listed: int = 0
    rewritten: int = 0  # PUT accepted
    restored: int = 0  # of those, stored again (resourceVersion changed)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (namespace/name, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (namespace/name, why)
    conflicts: int = 0
    pages: int = 0

    def summary(self) -> str:
        return (f"{self.kind}: {self.listed} listed, {self.rewritten} rewritten ({self.restored} stored again, "
                f"{self.rewritten - self.restored} already under the current key), {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed")


def kind_paths(kind: str) -> tuple[str, Callable[[str | None, str], str]]:
    """``secrets`` (core/v1) or ``group/version/plural`` -> (cluster-wide list path, path of one object)."""
    parts = kind.strip("/").split("/")
    if len(parts) == 1:
        base = "/api/v1"
        plural = parts[0]
    elif len(parts) == 3:
        base = f"/apis/{parts[0]}/{parts[1]}"
        plural = parts[2]
    else:
        raise ValueError(f"kind {kind!r}: expected a core plural (secrets) or group/version/plural (apps/v1/deployments)")

    def one(namespace: str | None, name: str) -> str:
        q = urllib.parse.quote
        if namespace:
            return f"{base}/namespaces/{q(namespace, safe='')}/{plural}/{q(name, safe='')}"
        return f"{base}/{plural}/{q(name, safe='')}"

    return f"{base}/{plural}", one


def can_i(client: kube.KubeClient, verb: str, kind: str) -> bool:
    """SelfSubjectAccessReview across all namespaces (no namespace in the attributes)."""
    parts = kind.strip("/").split("/")
    group, resource = (parts[0], parts[2]) if len(parts) == 3 else ("", parts[0])
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}}}
    _, answer = client.request("POST", SSAR_PATH, body, accept=(200, 201))
    return bool((answer.get("status") or {}).get("allowed"))


def missing_rights(client: kube.KubeClient, kinds: tuple[str, ...]) -> list[str]:
    """``verb kind`` pairs the caller lacks cluster-wide for a re-encryption run (list, get, update)."""
    return [f"{verb} {kind}" for kind in kinds for verb in ("list", "get", "update") if not can_i(client, verb, kind)]


def _name(item: dict[str, Any]) -> tuple[str | None, str, str]:
    meta = item.get("metadata") or {}
    return meta.get("namespace"), meta.get("name", ""), meta.get("uid", "")


def _label(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _pages(client: kube.KubeClient, list_path: str, page_size: int, outcome: Outcome) -> Any:
    """Yield (list kind, apiVersion, items) page by page. Halves the page when a body is over the client's
    read limit (it either refuses it or cannot parse the cut-off body); on 410 (continue token expired)
    continues from the token the server offers, else restarts."""
    token: str | None = None
    limit = page_size
    while True:
        query = {"limit": str(limit)}
        if token:
            query["continue"] = token
        try:
            status, body = client.request("GET", f"{list_path}?{urllib.parse.urlencode(query)}", accept=(200, 410))
        except kube.KubeError as exc:
            if exc.kind != "oversized" or limit == 1:  # a client that refuses big bodies says so
                raise
            limit = max(1, limit // 2)
            continue
        if status == 410:
            token = (body.get("metadata") or {}).get("continue") or None
            jsonlog.warning("reencrypt.continue_expired", kind=outcome.kind, restart=token is None)
            continue
        if "items" not in body:  # a body over the client's limit does not parse: ask for fewer objects
            if limit == 1:
                raise kube.KubeError("http", f"one {outcome.kind} object is larger than the client reads", status=status, method="GET", resource=list_path)
            limit = max(1, limit // 2)
            continue
        outcome.pages += 1
        yield body.get("kind", ""), body.get("apiVersion", "v1"), body.get("items") or []
        token = (body.get("metadata") or {}).get("continue") or None
        if not token:
            return


def _rewrite_one(client: kube.KubeClient, path: str, obj: dict[str, Any], outcome: Outcome) -> str:
    """PUT the object as the server returned it; on 409 read it again and retry. Returns rewritten|deleted|conflict."""
    before = (obj.get("metadata") or {}).get("resourceVersion")
    for _ in range(MAX_CONFLICT_RETRIES + 1):
        status, answer = client.request("PUT", path, obj, accept=(200, 201, 404, 409))
        if status == 404:
            return "deleted"
        if status != 409:
            if (answer.get("metadata") or {}).get("resourceVersion") != before:
                outcome.restored += 1
            return "rewritten"
        outcome.conflicts += 1
        status, fresh = client.request("GET", path, accept=(200, 404))
        if status == 404:
            return "deleted"
        obj = {**fresh, "apiVersion": obj["apiVersion"], "kind": obj["kind"]}
        before = (obj.get("metadata") or {}).get("resourceVersion")
    return "conflict"


def reencrypt(client: kube.KubeClient, kind: str = "secrets", *, page_size: int = DEFAULT_PAGE_SIZE, dry_run: bool = False,
              progress: Callable[[Outcome], None] = lambda o: None) -> Outcome:
    """Rewrite every object of ``kind`` in every namespace, each at most once per run. Dry run: count only."""
    outcome = Outcome(kind)
    list_path, one_path = kind_paths(kind)
    seen: set[tuple[str | None, str, str]] = set()
    try:
        for list_kind, api_version, items in _pages(client, list_path, page_size, outcome):
            for item in items:
                ident = _name(item)
                if ident in seen:
                    continue  # a restarted listing after an expired continue token
                seen.add(ident)
                outcome.listed += 1
                if dry_run:
                    continue
                namespace, name, _ = ident
                obj = {**item, "apiVersion": api_version, "kind": list_kind.removesuffix("List")}
                try:
                    result = _rewrite_one(client, one_path(namespace, name), obj, outcome)
                except kube.KubeError as exc:
                    if exc.kind not in PER_OBJECT_KINDS:
                        raise
                    outcome.failed.append((_label(namespace, name), f"{exc.status} {exc}"[:200]))
                    jsonlog.warning("reencrypt.failed", kind=kind, name=_label(namespace, name), status=exc.status)
                    continue
                if result == "rewritten":
                    outcome.rewritten += 1
                elif result == "deleted":
                    outcome.skipped.append((_label(namespace, name), "deleted during the run"))
                else:
                    outcome.failed.append((_label(namespace, name), f"409 Conflict {MAX_CONFLICT_RETRIES + 1} times (written continuously?)"))
            progress(outcome)
    except kube.KubeError as exc:
        raise ReencryptAborted(outcome, exc) from None
    jsonlog.info("reencrypt.done", kind=kind, listed=outcome.listed, rewritten=outcome.rewritten, restored=outcome.restored,
                 skipped=len(outcome.skipped), failed=len(outcome.failed), conflicts=outcome.conflicts, pages=outcome.pages)
    return outcome
