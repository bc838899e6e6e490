"""`make encrypt-existing` passes its variables through; the workstation clients are regional."""
from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from verifier.entry import encrypt_existing
from tests.helpers import REPO, no_credentials_env


def _make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.e2e
def test_make_passes_cluster_key_region_and_dry_run() -> None:
    result = _make("-n", "encrypt-existing", "CLUSTER=prod", f"KEY={README_KEY}", "REGION=eu-west-1", "DRY_RUN=1")
    assert (f'eks_envelope.console encrypt-existing --cluster "prod" --key "{README_KEY}" '
            '--region "eu-west-1" --dry-run') in result.stdout
    assert "--dry-run" not in _make("-n", "encrypt-existing", "CLUSTER=prod", "KEY=k", "DRY_RUN=0").stdout


@pytest.mark.e2e
def test_fails_make_without_key() -> None:
    result = _make("encrypt-existing", "CLUSTER=prod")
    assert result.returncode != 0
    assert "usage: make encrypt-existing CLUSTER=<name> KEY=<key arn> [REGION=<region>] [DRY_RUN=1]" in result.stderr


@pytest.mark.e2e
def test_make_help_lists_it() -> None:
    assert "make encrypt-existing  existing cluster under your key" in _make("help").stdout


def test_default_clients_are_regional(monkeypatch: pytest.MonkeyPatch) -> None:
    aws, token_provider = encrypt_existing.default_clients("eu-west-1")
    assert aws.region == "eu-west-1" and aws.eks.meta.region_name == "eu-west-1" and aws.kms.meta.region_name == "eu-west-1"
    assert aws.sts.meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"
    assert aws.eks.meta.config.retries["mode"] == "standard"
    assert token_provider("prod").startswith("k8s-aws-v1.")


# --- arguments a newcomer types: the README's key ARN, no region, no credentials ----------------------

README_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NO_CREDENTIALS = "eks-envelope: no AWS credentials found: set AWS_PROFILE, or run `aws configure` / `aws sso login`"


def _never_called(region: str | None) -> Any:
    raise AssertionError("no AWS client may be made for arguments that are refused")


@pytest.mark.parametrize("key", [
    "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-...",  # the README's old placeholder
    "arn:aws:kms:eu-west-1:111122223333:key/k",
    "arn:aws:kms:eu-west-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:iam::111122223333:role/NotAKey",
    "1234abcd",
])
def test_fails_on_a_malformed_key_arn_before_any_call(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = encrypt_existing.main(["--cluster", "prod", "--key", key, "--dry-run"], make_clients=_never_called, out=io.StringIO())
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert line.startswith(f"error: --key {key}: not a KMS key ARN; expected arn:aws:kms:<region>:<12-digit account>:key/<key id>")


@pytest.mark.parametrize(("key", "region", "expected"), [
    (README_KEY, None, "eu-west-1"),
    (README_KEY, "eu-west-1", "eu-west-1"),
    ("arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab", None, "us-east-1"),
    ("arn:aws:kms:eu-west-1:111122223333:alias/platform-secrets", None, "eu-west-1"),
    ("1234abcd-12ab-34cd-56ef-1234567890ab", None, None),  # a bare key id: the profile's region decides
])
def test_region_comes_from_the_key_arn(key: str, region: str | None, expected: str | None) -> None:
    seen: list[str | None] = []

    def clients(r: str | None) -> Any:
        seen.append(r)
        raise encrypt_existing.SetupError("stop here", 1)

    argv = ["--cluster", "prod", "--key", key, *(["--region", region] if region else [])]
    assert encrypt_existing.main(argv, make_clients=clients, out=io.StringIO()) == 1
    assert seen == [expected]


def test_fails_on_a_region_other_than_the_key_arns(capsys: pytest.CaptureFixture[str]) -> None:
    code = encrypt_existing.main(["--cluster", "prod", "--key", README_KEY, "--region", "us-east-1"],
                                 make_clients=_never_called, out=io.StringIO())
    assert code == 2
    assert f"error: --region us-east-1 but key {README_KEY} is in eu-west-1" in capsys.readouterr().err


def test_fails_without_credentials_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """What `make encrypt-existing ... DRY_RUN=1` prints on a laptop with no credentials: the key ARN's region is
    used (no `error: no region`), then the same one line as every account target."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in no_credentials_env(tmp_path).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    out = io.StringIO()
    assert encrypt_existing.main(["--cluster", "prod", "--key", README_KEY, "--dry-run"], out=out) == 1
    assert capsys.readouterr().err.strip().splitlines() == [NO_CREDENTIALS]
    assert out.getvalue() == ""


def test_console_encrypt_existing_help_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    from eks_envelope import console

    with pytest.raises(SystemExit) as exit_info:
        console.main(["encrypt-existing", "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: eks-envelope encrypt-existing ")
