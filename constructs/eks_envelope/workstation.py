"""What a laptop needs around the verifier and a deploy: credentials, the caller's role, the endpoint.

The verifier's checks run the same everywhere; their advice is written for the Lambda inside the
cluster's VPC. From a workstation the usual obstacles are others (no credentials, a private API
endpoint, an SSO session instead of a role ARN), and this module explains those, one line each.
boto3 is imported lazily: ``pip install 'eks-envelope[verify]'`` brings it.

    python -m eks_envelope.workstation credentials           # exit 1 with one line when none work
    python -m eks_envelope.workstation admin-arns me[,ARN...] [cdk.json]  # admin_principal_arns, cdk.json's kept
    python -m eks_envelope.workstation release-failed-stacks cdk.out  # before `cdk deploy --app cdk.out`
    python -m eks_envelope.workstation confirm-destroy STACK  # `make destroy`: type the stack's name
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
from typing import Any, Sequence

#: Where credentials come from, for messages.
CREDENTIALS_HINT = "set AWS_PROFILE, or run `aws configure` / `aws sso login`"

_ASSUMED_ROLE_RE = re.compile(r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$")
_IAM_USER_OR_ROLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(user|role)/.+$")


class WorkstationError(Exception):
    """A problem the person at the keyboard fixes; its message is one line."""


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise WorkstationError("boto3 is missing: pip install 'eks-envelope[verify]'") from None
    return boto3


def aws_session(region: str | None = None) -> Any:
    # Off an EC2 instance, the metadata lookup would add seconds before "no credentials".
    os.environ.setdefault("AWS_METADATA_SERVICE_TIMEOUT", "1")
    os.environ.setdefault("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1")
    return _boto3().session.Session(region_name=region)


def caller_arn(session: Any = None) -> str:
    """The caller's ARN from STS GetCallerIdentity; WorkstationError when no credentials work."""
    from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

    try:
        session = session or aws_session()
        found = session.get_credentials()
    except ProfileNotFound as err:  # AWS_PROFILE names a profile the config files do not have (or is empty)
        raise WorkstationError(f"AWS profile {err.kwargs.get('profile')!r} not found: {CREDENTIALS_HINT}") from None
    if found is None:
        raise WorkstationError(f"no AWS credentials found: {CREDENTIALS_HINT}")
    try:
        sts = session.client("sts", region_name=session.region_name or "us-east-1")
        return sts.get_caller_identity()["Arn"]
    except ClientError as err:
        raise WorkstationError(
            f"AWS rejected your credentials ({err.response['Error'].get('Code')}): {CREDENTIALS_HINT}") from None
    except BotoCoreError as err:
        raise WorkstationError(f"cannot check your AWS credentials ({err}): {CREDENTIALS_HINT}") from None


def role_arn_for(arn: str, iam: Any = None) -> str:
    """The IAM ARN an EKS access entry needs for a caller ARN from GetCallerIdentity.

    A user ARN is kept; an assumed-role session becomes its role's ARN, path included (IAM
    GetRole supplies it: SSO roles live under ``aws-reserved/sso.amazonaws.com/...``). The root
    user and federated sessions cannot be mapped and are refused.
    """
    if _IAM_USER_OR_ROLE_RE.match(arn):
        return arn
    if re.match(r"^arn:aws[a-z-]*:iam::\d{12}:root$", arn):
        raise WorkstationError(
            f"you are signed in as the account root user ({arn}), which EKS access entries cannot name: "
            "sign in with an IAM role, or pass ADMIN=arn:aws:iam::<account>:role/<name>")
    match = _ASSUMED_ROLE_RE.match(arn)
    if not match:
        raise WorkstationError(
            f"cannot map {arn} to an IAM role or user: pass ADMIN=arn:aws:iam::<account>:role/<name>")
    return iam_role_arn(iam or aws_session().client("iam"), match["role"])


def iam_role_arn(iam: Any, role_name: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except (ClientError, BotoCoreError) as err:
        code = err.response["Error"].get("Code") if isinstance(err, ClientError) else type(err).__name__
        sso = " (an SSO permission set's role)" if role_name.startswith("AWSReservedSSO_") else ""
        raise WorkstationError(
            f"cannot map your session of role {role_name}{sso} to the role's ARN: iam:GetRole failed ({code}); "
            "pass ADMIN=<the role ARN, path included> instead") from None


def admin_arns(spec: str, session: Any = None, *, keep: Sequence[str] = ()) -> list[str]:
    """``me`` (the caller's role) and/or ARNs, comma-separated, added to ``keep`` for ``admin_principal_arns``."""
    arns: list[str] = list(keep)
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        resolved = role_arn_for(caller_arn(session)) if item == "me" else item
        if resolved not in arns:
            arns.append(resolved)
    if not arns:
        raise WorkstationError("ADMIN is empty: use ADMIN=me or ADMIN=arn:aws:iam::<account>:role/<name>")
    return arns


def endpoint_advice(cluster: dict[str, Any], public_ip: str | None = None) -> str | None:
    """Why a workstation cannot reach this cluster's API server, and the ways that work; None if it can."""
    vpc = cluster.get("resourcesVpcConfig", {})
    name = cluster.get("name", "<cluster>")
    cidrs = vpc.get("publicAccessCidrs") or []
    if not vpc.get("endpointPublicAccess"):
        reason = f"the API endpoint of {name} is private: only addresses inside its VPC reach it"
    elif public_ip and not any(_contains(c, public_ip) for c in cidrs):
        reason = f"the public endpoint of {name} admits only {', '.join(cidrs)}, not your address {public_ip}"
    elif not public_ip and cidrs and not any(_contains(c, "0.0.0.0") and c.endswith("/0") for c in cidrs):
        reason = f"the public endpoint of {name} admits only {', '.join(cidrs)}; if your address is not among them"
    else:
        return None
    return (
        f"{reason}. Either run `make verify` from a machine in that VPC (an SSM session, CloudShell in the VPC, "
        "a CI runner there), or allow your address for a while: make deploy CONTEXT='-c public_access_cidrs=<your ip>/32' "
        "(and deploy again without it afterwards)."
    )


def _contains(cidr: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _configured_admins(cdk_json: Sequence[str]) -> list[str]:
    """admin_principal_arns of a cdk.json: `-c admin_principal_arns=...` replaces them, so ADMIN keeps them."""
    if not cdk_json:
        return []
    with open(cdk_json[0], encoding="utf-8") as f:
        configured = json.load(f).get("context", {}).get("admin_principal_arns") or []
    return [configured] if isinstance(configured, str) else list(configured)


def stack_names(assembly_dir: str) -> list[str]:
    """The CloudFormation stack names of a synthesized cloud assembly (its manifest.json)."""
    with open(os.path.join(assembly_dir, "manifest.json"), encoding="utf-8") as f:
        artifacts = json.load(f).get("artifacts", {})
    return [
        (artifact.get("properties") or {}).get("stackName") or artifact_id
        for artifact_id, artifact in artifacts.items()
        if artifact.get("type") == "aws:cloudformation:stack"
    ]


def release_failed_stacks(names: Sequence[str], cloudformation: Any = None) -> list[str]:
    """Lift termination protection of stacks that a failed first deploy left in ROLLBACK_COMPLETE.

    The CDK CLI turns termination protection on before it executes a stack's first change set, so a
    first deploy that fails leaves a ROLLBACK_COMPLETE stack that the next ``cdk deploy`` must delete
    and cannot. Such a stack holds nothing (every resource of a failed create is removed: no resource
    here keeps a plain Retain policy), so lifting its protection loses nothing. Stacks in any other
    state are left alone. Returns the names released.
    """
    from botocore.exceptions import ClientError

    cloudformation = cloudformation or aws_session().client("cloudformation")
    released = []
    for name in names:
        try:
            (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as err:
            if "does not exist" in str(err):
                continue
            raise WorkstationError(f"cannot read stack {name}: {err.response['Error'].get('Message')}") from None
        if stack.get("StackStatus") == "ROLLBACK_COMPLETE" and stack.get("EnableTerminationProtection"):
            cloudformation.update_termination_protection(StackName=name, EnableTerminationProtection=False)
            released.append(name)
    return released


def confirm_destroy(stack: str, answer_from: Any = None, prompt_to: Any = None) -> None:
    """Ask for the stack's name before `make destroy`; WorkstationError unless it is typed back.

    Without a terminal there is nobody to ask: refused, with the switches that skip the question.
    """
    answer_from = answer_from or sys.stdin
    prompt_to = prompt_to or sys.stderr
    if not answer_from.isatty():
        raise WorkstationError(
            f"make destroy asks you to type the stack's name ({stack}) and there is no terminal: "
            "pass FORCE=1 to destroy without asking (CI=true does the same)")
    print(f"Destroy stack {stack}? Type its name to confirm: ", end="", file=prompt_to, flush=True)
    answer = answer_from.readline().strip()
    if answer != stack:
        raise WorkstationError(f"{answer!r} is not {stack!r}: nothing destroyed")


def _main(argv: Sequence[str]) -> int:
    try:
        if argv[:1] == ["credentials"]:
            caller_arn()
            return 0
        if argv[:1] == ["admin-arns"] and len(argv) in (2, 3):
            print(json.dumps(admin_arns(argv[1], keep=_configured_admins(argv[2:])), separators=(",", ":")))
            return 0
        if argv[:1] == ["confirm-destroy"] and len(argv) == 2:
            confirm_destroy(argv[1])
            return 0
        if argv[:1] == ["release-failed-stacks"] and len(argv) == 2:
            for name in release_failed_stacks(stack_names(argv[1])):
                print(f"{name}: a failed first deploy left it in ROLLBACK_COMPLETE, holding nothing; termination "
                      "protection lifted so this deploy can replace it", file=sys.stderr)
            return 0
    except WorkstationError as err:
        print(f"eks-envelope: {err}", file=sys.stderr)
        return 1
    print("\n".join(line.strip() for line in __doc__.strip().splitlines()[-4:]), file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
