"""`encrypt-existing` end to end: a cluster without a customer key ends associated, re-encrypted and verified."""
from __future__ import annotations

import io
from typing import Any

import pytest
from existing_fakes import ALLOW_CALLER, ALLOW_ROLE, CLUSTER, expect_association, expect_describe, stubbed_iam

from verifier.entry import encrypt_existing
from verifier import kube


def run(account: Any, *extra: str, iam: Any = None, key: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    iam = iam if iam is not None else stubbed_iam(ALLOW_CALLER, ALLOW_ROLE)[0]
    knobs = encrypt_existing.Knobs(clock=account.time.clock, sleep=account.time.sleep,
                                   kube_policy=kube.RetryPolicy(auth_grace_seconds=0.0, request_timeout_seconds=5.0))
    code = encrypt_existing.main(
        ["--cluster", CLUSTER, "--key", key or account.key_arn, "--poll-seconds", "30", "--wait-minutes", "30", *extra],
        make_clients=lambda region: (account.aws(iam), lambda name: kube.make_token(account.sts, name)),
        knobs=knobs, out=out)
    return code, out.getvalue()


def test_cluster_without_key_ends_associated_reencrypted_and_verified(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(620, namespaces=4)  # three list pages of 250
    before = etcd.snapshot_data()
    expect_association(account.eks, account.key_arn, "InProgress", "InProgress", "Successful")

    code, out = run(account)

    assert code == 0, out
    assert account.cluster()["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": account.key_arn}}]
    assert account.eks.changes() == ["associate_encryption_config"]
    writes = etcd.writes_per_object()
    assert len(writes) == 620 and set(writes.values()) == {1}, "every Secret stored again exactly once"
    assert etcd.keys() == {account.key_arn}, "every stored Secret is under the customer key"
    assert etcd.snapshot_data() == before and etcd.data_changes == []
    assert etcd.count("GET", "/api/v1/secrets") == 3
    assert "secrets: 620 listed, 620 rewritten (620 stored again, 0 already under the current key), 0 skipped, 0 failed" in out
    assert "update b5f0ba18-9a87-4450-b5a0-825e6e84496f: InProgress, 0m00s elapsed" in out
    assert "update b5f0ba18-9a87-4450-b5a0-825e6e84496f: Successful, 1m00s elapsed" in out
    assert "secret-roundtrip  passed" in out and "RESULT: cluster adopted encrypts secrets with" in out
    assert account.time.sleeps == [30.0, 30.0]
    account.eks.stubber.assert_no_pending_responses()


def test_second_run_rewrites_each_secret_once_more_and_stores_nothing_again(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(40)
    expect_association(account.eks, account.key_arn, "Successful")
    assert run(account)[0] == 0
    puts_first = etcd.successful_puts()

    code, out = run(account, iam=stubbed_iam()[0])  # same key associated: no permission simulation needed

    assert code == 0, out
    assert "key " + account.key_arn + " is already associated: skipping to re-encryption" in out
    assert account.eks.changes() == ["associate_encryption_config"], "the second run associates nothing"
    assert etcd.successful_puts() - puts_first == 40, "each Secret PUT once in the second run"
    assert set(etcd.writes_per_object().values()) == {1}, "already under the key: storage skipped every write"
    assert "40 rewritten (0 stored again, 40 already under the current key)" in out


def test_pagination_conflicts_deleted_and_failing_secrets(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(30, namespaces=2)
    etcd.conflict_once = {"team-0/secret-00004", "team-1/secret-00011"}
    etcd.delete_after_list = {"team-0/secret-00008"}
    etcd.fail_put = {"team-1/secret-00013": 422}
    before = etcd.snapshot_data()
    expect_association(account.eks, account.key_arn, "Successful")

    code, out = run(account, "--page-size", "7")

    assert code == 1, out  # verified, but one Secret failed: the operator must act
    assert etcd.count("GET", "/api/v1/secrets") == 5  # 30 Secrets, 7 a page
    assert etcd.count("PUT", status=409) == 2
    writes = etcd.writes_per_object()
    assert len(writes) == 28 and set(writes.values()) == {1}
    assert "team-0/secret-00008" not in writes and "team-1/secret-00013" not in writes
    assert "skipped team-0/secret-00008: deleted during the run" in out
    assert "failed  team-1/secret-00013: 422 admission webhook" in out
    assert "30 listed, 28 rewritten" in out and "1 skipped, 1 failed" in out
    after = etcd.snapshot_data()
    del before["team-0/secret-00008"]
    assert after == before and etcd.data_changes == []
    assert "secret-roundtrip  passed" in out
    assert "RESULT: verified, but 1 object(s) failed to rewrite" in out


def test_interrupted_run_resumes_and_rewrites_everything(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(50)
    etcd.reject_after_puts = 20
    expect_association(account.eks, account.key_arn, "Successful")

    code, out = run(account, "--page-size", "10")

    assert code == 1 and "FAILED: re-encryption of secrets stopped after 20 rewritten" in out and "Safe to run again" in out
    assert len(etcd.writes_per_object()) == 20
    etcd.reject_after_puts = None
    puts_first = etcd.successful_puts()

    code, out = run(account, "--page-size", "10", iam=stubbed_iam()[0])

    assert code == 0, out
    assert etcd.successful_puts() - puts_first == 50, "the resumed run PUTs every Secret once"
    assert set(etcd.writes_per_object().values()) == {1}, "and storage wrote only the 30 still under the old key"
    assert "50 rewritten (30 stored again, 20 already under the current key)" in out
    assert etcd.keys() == {account.key_arn}


def test_expired_continue_token_restarts_without_rewriting_twice(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(12)
    etcd.expire_continue_once = True
    expect_association(account.eks, account.key_arn, "Successful")

    code, out = run(account, "--page-size", "5")

    assert code == 0, out
    assert etcd.count("GET", "/api/v1/secrets", status=410) == 1
    assert etcd.successful_puts() == 12 + 0  # canary Secret is POSTed, not PUT
    assert set(etcd.writes_per_object().values()) == {1} and len(etcd.writes_per_object()) == 12


def test_update_still_in_progress_exits_3_and_a_second_run_follows_it(account: Any) -> None:
    account.api.etcd.seed_secrets(5)
    expect_association(account.eks, account.key_arn, "InProgress", "InProgress", "InProgress")

    code, out = run(account, "--wait-minutes", "1.25")  # polls at 0, 30 and 60 s; the next would pass 75 s

    assert code == 3, out
    assert "STILL IN PROGRESS after 1.25 min: run the same command again to resume following b5f0ba18" in out
    assert account.cluster()["status"] == "UPDATING"
    assert account.api.etcd.successful_puts() == 0, "nothing rewritten before the key is associated"
    account.eks.stubber.add_response("list_updates", {"updateIds": ["0a1b", "b5f0ba18-9a87-4450-b5a0-825e6e84496f"]}, {"name": CLUSTER, "maxResults": 100})
    account.eks.stubber.add_response("describe_update", {"update": {"id": "0a1b", "status": "Successful", "type": "LoggingUpdate", "params": [], "errors": []}},
                                     {"name": CLUSTER, "updateId": "0a1b"})
    expect_describe(account.eks, account.key_arn, "InProgress", "InProgress", "Successful")

    code, out = run(account, iam=stubbed_iam()[0])

    assert code == 0, out
    assert "association update b5f0ba18-9a87-4450-b5a0-825e6e84496f already in progress: following it" in out
    assert account.eks.changes() == ["associate_encryption_config"], "resumed, not associated twice"
    assert account.api.etcd.successful_puts() == 5


def test_dry_run_prints_every_step_and_the_count_and_changes_nothing(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(260)

    code, out = run(account, "--dry-run")

    assert code == 0, out
    assert "would call AssociateEncryptionConfig(clusterName=adopted" in out
    assert "would rewrite 260 secrets in 2 list pages" in out
    assert "would run the verifier's stages" in out and "[dry run] nothing was changed" in out
    assert account.eks.calls.count("associate_encryption_config") == 0
    assert etcd.count("PUT") == 0 and etcd.count("POST", "/secrets") == 0 and etcd.writes == []
    assert "encryptionConfig" not in account.cluster() or not account.cluster()["encryptionConfig"]


def test_other_kinds_are_rewritten_when_asked(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(3)
    etcd.add("configmaps", "team-0", "settings", {"mode": "strict"})
    expect_association(account.eks, account.key_arn, "Successful")

    code, out = run(account, "--kinds", "secrets,configmaps")

    assert code == 0, out
    assert etcd.writes_per_object("configmaps") == {"team-0/settings": 1}
    assert "configmaps: 1 listed, 1 rewritten" in out


@pytest.mark.parametrize("kinds", ["apps/deployments", "a/b/c/d"])
def test_fails_bad_kind_is_a_usage_error(account: Any, kinds: str) -> None:
    code, out = run(account, "--kinds", kinds)
    assert code == 2 and f"error: --kinds: kind {kinds!r}: expected a core plural (secrets) or group/version/plural" in out
    assert account.eks.calls == []


def test_forbidden_secret_fails_alone_and_the_run_goes_on(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(5)
    etcd.fail_put = {"team-1/secret-00001": 403}
    expect_association(account.eks, account.key_arn, "Successful")

    code, out = run(account)

    assert code == 1, out
    assert "failed  team-1/secret-00001: 403 admission webhook" in out and "5 listed, 4 rewritten" in out
    assert etcd.count("PUT", "secret-00001") == 1, "a 403 after the rights check is about this object: no retry loop"


def test_pages_too_large_for_the_client_are_halved(account: Any) -> None:
    etcd = account.api.etcd
    for i in range(260):  # 260 x 20 KB: a page of 250 is over the client's read limit (4 MiB, or 1 MiB after the handler branch)
        etcd.add("secrets", "big", f"bundle-{i:03d}", {"ca.crt": "x" * 15_000})
    expect_association(account.eks, account.key_arn, "Successful")

    code, out = run(account)

    assert code == 0, out
    lists = etcd.count("GET", "/api/v1/secrets")
    assert lists > 3, "more pages than 250 at a time would need: the page was halved"  # 4 MiB: 250 (too big), 125, 125, 10
    assert len(etcd.writes_per_object()) == 260 and set(etcd.writes_per_object().values()) == {1}
