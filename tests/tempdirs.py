"""One private temporary directory per test run, removed at exit (no aws_cdk import: jsii must
start after TMPDIR points here, or its kernel and CDK's default outdirs land in the system temp)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_SESSION_TMP: list[Path] = []


def contain_temp_dirs(prefix: str = "eks-envelope-tests-") -> Path:
    """Send every temporary directory of this process and its children into one, removed at exit.

    Test apps, CDK's own default outdirs (``cdk.App()`` without ``outdir``), jsii's kernel and
    subprocesses all honour TMPDIR; pointing it at a private directory removed at interpreter exit
    (after jsii's kernel has stopped: atexit runs in reverse order) leaves the system temp
    directory as it was found. Idempotent.
    """
    if not _SESSION_TMP:
        session = Path(tempfile.mkdtemp(prefix=prefix))
        _SESSION_TMP.append(session)
        os.environ["TMPDIR"] = str(session)
        tempfile.tempdir = str(session)
        atexit.register(shutil.rmtree, session, ignore_errors=True)
    return _SESSION_TMP[0]


def leftovers(tmp: Path) -> list[str]:
    """What a run left in ``tmp``: everything counts. The Makefile turns the aws-cdk CLI's telemetry off (its
    payload file would outlive the run), and the scanners keep their cache in their own virtualenv."""
    return sorted(p.name for p in tmp.iterdir())


def run_leaving_nothing(command: list[str]) -> int:
    """Run ``command`` with TMPDIR a fresh directory; fail (exit 1) when the run leaves anything in it.

    `make check` runs the scan (with its synth) and the test suite this way, so the real run (every worker, every subprocess) is what is
    checked: a test run leaves the system temp directory as it found it.
    """
    import subprocess
    import sys

    tmp = Path(tempfile.mkdtemp(prefix="make-check-tmp-"))
    try:
        code = subprocess.call(command, env={**os.environ, "TMPDIR": str(tmp)})
        left = leftovers(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if left:
        print(f"the test run left temporary files behind in TMPDIR: {', '.join(left[:10])}", file=sys.stderr)
        return code or 1
    return code


if __name__ == "__main__":  # python -m tests.tempdirs COMMAND...
    import sys

    sys.exit(run_leaving_nothing(sys.argv[1:]))
