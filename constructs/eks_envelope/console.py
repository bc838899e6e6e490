"""The ``eks-envelope`` command: the verifier's own code, run from a workstation or CI.

    eks-envelope verify --cluster NAME [--region R] [--key ARN] [--pod-check] [--cloudtrail] [--json]
    eks-envelope encrypt-existing ...   (when this version ships it)
    eks-envelope audit [--accounts ID,ID | --organization --role-name R] [--regions R,R] [--json FILE]
    eks-envelope --version

``verify`` runs ``verifier.entry.cli.main`` of the Lambda handler (the same stages the custom resource runs
on every deploy); ``make verify`` in a checkout calls this module too. The commands are imported as the
package the wheel ships (``eks_envelope._handler.verifier.entry``; ``handler.register`` makes that name work in
a checkout). Nothing here imports aws-cdk-lib: the command needs no Node.js.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Sequence

from . import __version__
from .handler import register

PROG = "eks-envelope"
#: The handler's commands, as the library imports them.
COMMANDS = f"{__package__}._handler.verifier.entry"
#: Subcommand -> (command module of the handler, one-line description).
SUBCOMMANDS = {
    "verify": ("cli", "verify envelope encryption of an EKS cluster end to end (the deploy-time checks)"),
    "encrypt-existing": ("encrypt_existing", "put an existing cluster's secrets under your KMS key"),
    "audit": ("audit_cli", "audit every EKS cluster of accounts and regions, read-only (docs/audit.md)"),
}


def _usage() -> str:
    lines = [f"usage: {PROG} <command> [options]   ({PROG} <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<18}{about}" for name, (_module, about) in SUBCOMMANDS.items()]
    lines += ["", f"  --version         print {PROG}'s version"]
    return "\n".join(lines)


def _load(module_name: str) -> Any | None:
    """Import a command of the handler; None when this version does not ship it."""
    register()
    name = f"{COMMANDS}.{module_name}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name == name:
            return None
        if err.name in ("boto3", "botocore"):
            raise _Refused(f"boto3 is missing: pip install '{PROG}[verify]'") from None
        raise


class _Refused(Exception):
    """One line for the person at the keyboard."""


def _verify(argv: Sequence[str], cli: Any) -> int:
    """Run the verifier CLI; on a workstation, explain what stands between it and the cluster."""
    if any(a in ("-h", "--help") for a in argv):
        return cli.main(list(argv))
    from . import workstation

    try:
        workstation.caller_arn(workstation.aws_session(_option(argv, "--region")))
    except workstation.WorkstationError as err:
        raise _Refused(str(err)) from None
    code = cli.main(list(argv))
    if code == 1 and "--json" not in argv:
        advice = _endpoint_advice(argv)
        if advice:
            print(f"\nfrom this machine: {advice}", file=sys.stderr)
    return code


def _option(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name V`` or ``--name=V`` in argv (the verifier's own parser validates it)."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def _endpoint_advice(argv: Sequence[str], describe: Callable[[str], dict[str, Any]] | None = None) -> str | None:
    """Laptop advice when the cluster's endpoint is out of reach (the handler's advice is for the Lambda)."""
    from . import workstation

    name = _option(argv, "--cluster")
    if not name:
        return None
    try:
        if describe is None:
            eks = workstation.aws_session(_option(argv, "--region")).client("eks")
            describe = lambda n: eks.describe_cluster(name=n)["cluster"]  # noqa: E731
        return workstation.endpoint_advice(describe(name))
    except Exception:  # noqa: BLE001 - advice is best effort; the report above already says what failed
        return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"{PROG} {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        print(f"{PROG}: unknown command {command!r}\n{_usage()}", file=sys.stderr)
        return 2
    try:
        module = _load(SUBCOMMANDS[command][0])
        if module is None:
            raise _Refused(f"{command} is not available in version {__version__}")
        sys.argv[0] = f"{PROG} {command}"
        if command == "verify":
            return _verify(rest, module)
        if command == "audit":  # the report names the release that wrote it
            return int(module.main(rest, version=__version__) or 0)
        return int(module.main(rest) or 0)
    except _Refused as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
