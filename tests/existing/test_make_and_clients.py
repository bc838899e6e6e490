"""`make encrypt-existing` passes its variables through; the workstation clients are regional."""
from __future__ import annotations

import subprocess

import pytest

import encrypt_existing
from tests.helpers import REPO


def _make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_make_passes_cluster_key_region_and_dry_run() -> None:
    result = _make("-n", "encrypt-existing", "CLUSTER=prod", "KEY=arn:aws:kms:eu-west-1:111122223333:key/k", "REGION=eu-west-1", "DRY_RUN=1")
    assert ('lambda/verifier/encrypt_existing.py --cluster "prod" --key "arn:aws:kms:eu-west-1:111122223333:key/k" '
            '--region "eu-west-1" --dry-run') in result.stdout
    assert "--dry-run" not in _make("-n", "encrypt-existing", "CLUSTER=prod", "KEY=k", "DRY_RUN=0").stdout


def test_fails_make_without_key() -> None:
    result = _make("encrypt-existing", "CLUSTER=prod")
    assert result.returncode != 0
    assert "usage: make encrypt-existing CLUSTER=<name> KEY=<key arn> [REGION=<region>] [DRY_RUN=1]" in result.stderr


def test_make_help_lists_it() -> None:
    assert "make encrypt-existing  existing cluster under your key" in _make("help").stdout


def test_default_clients_are_regional(monkeypatch: pytest.MonkeyPatch) -> None:
    aws, token_provider = encrypt_existing.default_clients("eu-west-1")
    assert aws.region == "eu-west-1" and aws.eks.meta.region_name == "eu-west-1" and aws.kms.meta.region_name == "eu-west-1"
    assert aws.sts.meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"
    assert aws.eks.meta.config.retries["mode"] == "standard"
    assert token_provider("prod").startswith("k8s-aws-v1.")
