#!/usr/bin/env bash
# Deploy the integration test app for real, report its assertions, and destroy everything again,
# also when the deploy or an assertion fails (trap on EXIT). Needs AWS credentials and a
# bootstrapped account/region (`cdk bootstrap`). Usage (from the repository root):
#
#   tests/integ/deploy_and_destroy.sh <env-name> [extra cdk args...]     # or: make integ-deploy ENV=<env-name>
#
# Environment: PY (python with aws-cdk-lib; default .venv/bin/python), CDK (default cdk),
# KEEP=1 keeps the stacks for debugging (you then destroy them yourself; they cost money per hour).
set -uo pipefail

ENV_NAME="${1:-integ}"
shift || true
PY="${PY:-.venv/bin/python}"
CDK="${CDK:-cdk}"
APP="$PY tests/integ/integ_envelope.py"
OUT_DIR="$(mktemp -d -t eks-envelope-integ.XXXXXX)"
OUTPUTS="$OUT_DIR/outputs.json"
CDK_ARGS=(--app "$APP" --output "$OUT_DIR/cdk.out" -c "env_name=$ENV_NAME" "$@")

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ "${KEEP:-}" == "1" ]]; then
    echo "KEEP=1: stacks of environment '$ENV_NAME' left deployed; remove them with:" >&2
    echo "  $CDK destroy --app \"$APP\" -c env_name=$ENV_NAME --all --force" >&2
    exit "$status"
  fi
  echo "==> destroying environment '$ENV_NAME' (runs on success and on failure)"
  if ! "$CDK" destroy "${CDK_ARGS[@]}" --all --force; then
    echo "DESTROY FAILED: delete the stacks EksEnvelope-$ENV_NAME-assertions and EksEnvelope-$ENV_NAME" >&2
    echo "in the CloudFormation console, or re-run: $CDK destroy --app \"$APP\" -c env_name=$ENV_NAME --all --force" >&2
    status=1
  fi
  rm -rf "$OUT_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> deploying environment '$ENV_NAME' (EKS takes ~15-20 minutes; the verifier runs at the end)"
"$CDK" deploy "${CDK_ARGS[@]}" --all --require-approval never --outputs-file "$OUTPUTS"
deploy_status=$?

report_status=1
if [[ -s "$OUTPUTS" ]]; then
  echo "==> assertion results"
  "$PY" tests/integ/report_assertions.py "$OUTPUTS"
  report_status=$?
else
  echo "no stack outputs written: the deploy failed before the assertions ran" >&2
fi

if (( deploy_status != 0 )); then
  echo "DEPLOY FAILED (exit $deploy_status): see the CloudFormation events above; a failed verifier names the broken link" >&2
  exit "$deploy_status"
fi
exit "$report_status"
