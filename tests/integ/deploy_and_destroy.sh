#!/usr/bin/env bash
# The deploy lifecycle for real, in production posture (docs/integ.md, docs/lifecycle.md):
#
#   1. a deliberately failing first deploy (the verifier's canary pod image cannot be pulled): the
#      stack must end ROLLBACK_COMPLETE and leave no cluster and no key alias behind;
#   2. a redeploy with the same names, which must succeed; the integ assertions are reported;
#   3. the documented production teardown: deploy with -c deletion_protection=false, then destroy;
#      afterwards only the stack's two KMS keys may remain (they are then scheduled for deletion,
#      7 days, so the test leaks nothing that costs money).
#
# Everything is destroyed again from a trap on EXIT, also when a step fails or you press Ctrl-C.
# Needs AWS credentials and a bootstrapped account/region (`cdk bootstrap`). Usage (repository root):
#
#   tests/integ/deploy_and_destroy.sh <env-name> [extra cdk args...]     # or: make integ-deploy ENV=<env-name>
#
# Environment: PY (python with aws-cdk-lib; default .venv/bin/python), CDK (default cdk), AWS (default aws),
# UNPULLABLE_IMAGE (the canary image of step 1; default below), KEEP=1 keeps whatever is deployed for
# debugging (you then destroy it yourself; it costs money per hour).
set -uo pipefail

ENV_NAME="${1:-integ}"
shift || true
PY="${PY:-.venv/bin/python}"
CDK="${CDK:-cdk}"
# Not for children: the aws-cdk CLI reads CDK_* variables as options, and CDK itself as an empty one
# ("Unknown option(s): --").
export -n CDK
AWS="${AWS:-aws}"
# `.invalid` is reserved (RFC 2606): this registry can never resolve, so the pull always fails.
UNPULLABLE_IMAGE="${UNPULLABLE_IMAGE:-registry.invalid/eks-envelope/unpullable:never}"
STACK="EksEnvelope-$ENV_NAME"
APP="$PY tests/integ/integ_envelope.py"
OUT_DIR="$(mktemp -d -t eks-envelope-integ.XXXXXX)"
OUTPUTS="$OUT_DIR/outputs.json"
# Production posture: retained keys, deletion protection, termination protection.
CDK_ARGS=(--app "$APP" --output "$OUT_DIR/cdk.out" -c "env_name=$ENV_NAME" -c ephemeral=false "$@")
TEARDOWN_ARGS=("${CDK_ARGS[@]}" -c deletion_protection=false)
KEYS=()

say() { echo "==> $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

stack_status() {
  "$AWS" cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].StackStatus' --output text 2>/dev/null \
    || echo "DOES_NOT_EXIST"
}

lift_termination_protection() {
  "$AWS" cloudformation update-termination-protection --no-enable-termination-protection --stack-name "$STACK" >/dev/null
}

schedule_key_deletion() {
  local key
  for key in "${KEYS[@]}"; do
    "$AWS" kms schedule-key-deletion --key-id "$key" --pending-window-in-days 7 >/dev/null \
      && echo "key $key scheduled for deletion (7 days)"
  done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ "${KEEP:-}" == "1" ]]; then
    echo "KEEP=1: environment '$ENV_NAME' left as it is; remove it with the production teardown:" >&2
    echo "  $CDK deploy --app \"$APP\" -c env_name=$ENV_NAME -c ephemeral=false -c deletion_protection=false $STACK" >&2
    echo "  $CDK destroy --app \"$APP\" -c env_name=$ENV_NAME -c ephemeral=false -c deletion_protection=false --all --force" >&2
    exit "$status"
  fi
  local current
  current="$(stack_status)"
  if [[ "$current" != "DOES_NOT_EXIST" ]]; then
    say "destroying environment '$ENV_NAME' (runs on success and on failure; stack is $current)"
    lift_termination_protection || true
    case "$current" in
      CREATE_COMPLETE|UPDATE_COMPLETE|UPDATE_ROLLBACK_COMPLETE)
        "$CDK" deploy "${TEARDOWN_ARGS[@]}" "$STACK" --require-approval never || true ;;
    esac
    if ! "$CDK" destroy "${TEARDOWN_ARGS[@]}" --all --force; then
      echo "DESTROY FAILED: delete the stacks $STACK-assertions and $STACK in the CloudFormation console;" >&2
      echo "an EKS cluster still protected needs: $AWS eks update-cluster-config --name eks-envelope-$ENV_NAME --no-deletion-protection" >&2
      status=1
    fi
  fi
  # Only once the stack is gone: a key of a stack that failed to delete may still encrypt a live cluster.
  if [[ "$(stack_status)" == "DOES_NOT_EXIST" ]]; then
    schedule_key_deletion
  elif (( ${#KEYS[@]} )); then
    echo "keys ${KEYS[*]} not scheduled for deletion: $STACK still exists" >&2
  fi
  rm -rf "$OUT_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. a first deploy that fails: it must roll back completely
say "1/3 deliberately failing first deploy of $STACK (canary image $UNPULLABLE_IMAGE cannot be pulled; ~25 minutes)"
if "$CDK" deploy "${CDK_ARGS[@]}" -c "verifier_pod_image=$UNPULLABLE_IMAGE" "$STACK" --require-approval never; then
  fail "the deploy with an unpullable canary image succeeded: the verifier's pod check did not run"
fi
status="$(stack_status)"
[[ "$status" == "ROLLBACK_COMPLETE" ]] || fail "after the failed first deploy $STACK is $status, expected ROLLBACK_COMPLETE"
echo "PASS  failed first deploy rolled back: $STACK is ROLLBACK_COMPLETE"
if "$AWS" eks describe-cluster --name "eks-envelope-$ENV_NAME" >/dev/null 2>&1; then
  fail "cluster eks-envelope-$ENV_NAME still exists after the rollback"
fi
alias_left="$("$AWS" kms list-aliases --query "Aliases[?AliasName=='alias/eks-envelope-$ENV_NAME-secrets'].AliasName" --output text)"
[[ -z "$alias_left" || "$alias_left" == "None" ]] || fail "key alias $alias_left still exists after the rollback"
echo "PASS  rollback left no cluster and no key alias behind"
# A stack whose creation failed can only be deleted; termination protection refuses even that, and
# `cdk deploy` would try (docs/lifecycle.md, "Termination protection and a failed first deploy").
lift_termination_protection || fail "could not turn off termination protection of $STACK"
"$AWS" cloudformation delete-stack --stack-name "$STACK" || fail "could not delete the ROLLBACK_COMPLETE stack $STACK"
"$AWS" cloudformation wait stack-delete-complete --stack-name "$STACK" || fail "deleting the ROLLBACK_COMPLETE stack $STACK failed"

# ---- 2. a redeploy with the same names must succeed
say "2/3 redeploy of environment '$ENV_NAME' with the same names (~20 minutes; the verifier runs at the end)"
"$CDK" deploy "${CDK_ARGS[@]}" --all --require-approval never --outputs-file "$OUTPUTS"
deploy_status=$?
report_status=1
if [[ -s "$OUTPUTS" ]]; then
  say "assertion results"
  "$PY" tests/integ/report_assertions.py "$OUTPUTS"
  report_status=$?
else
  echo "no stack outputs written: the deploy failed before the assertions ran" >&2
fi
if (( deploy_status != 0 )); then
  echo "DEPLOY FAILED (exit $deploy_status): see the CloudFormation events above; a failed verifier names the broken link" >&2
  exit "$deploy_status"
fi
(( report_status == 0 )) || exit "$report_status"
read -r -a KEYS <<< "$("$AWS" cloudformation describe-stack-resources --stack-name "$STACK" \
  --query "StackResources[?ResourceType=='AWS::KMS::Key'].PhysicalResourceId" --output text)"

# ---- 3. the documented production teardown
say "3/3 production teardown: deploy with -c deletion_protection=false, then destroy"
"$CDK" deploy "${TEARDOWN_ARGS[@]}" "$STACK" --require-approval never || fail "the teardown deploy of $STACK failed"
protected="$("$AWS" cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].EnableTerminationProtection' --output text)"
if [[ "$protected" == "True" || "$protected" == "true" ]]; then
  echo "note: termination protection is still on after the teardown deploy; turning it off as README says"
  lift_termination_protection || fail "could not turn off termination protection of $STACK"
fi
"$CDK" destroy "${TEARDOWN_ARGS[@]}" --all --force || fail "destroy after the teardown deploy failed"
status="$(stack_status)"
[[ "$status" == "DOES_NOT_EXIST" ]] || fail "after the teardown $STACK is $status"
if "$AWS" eks describe-cluster --name "eks-envelope-$ENV_NAME" >/dev/null 2>&1; then
  fail "cluster eks-envelope-$ENV_NAME still exists after the teardown"
fi
(( ${#KEYS[@]} == 2 )) || fail "expected the stack's two KMS keys, found ${#KEYS[@]}: ${KEYS[*]}"
for key in "${KEYS[@]}"; do
  state="$("$AWS" kms describe-key --key-id "$key" --query 'KeyMetadata.KeyState' --output text)"
  [[ "$state" == "Enabled" ]] || fail "key $key is $state after the teardown, expected Enabled (kept)"
done
echo "PASS  teardown removed the stack and the cluster; what remains: the two keys (${KEYS[*]}), Enabled"
