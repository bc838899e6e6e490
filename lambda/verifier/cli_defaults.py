"""Defaults of the workstation command (`make verify`), the only ones on the handler side.

The deployed verifier gets every value as a required property from the construct
(``constructs/eks_envelope``), which owns the defaults; the CLI runs without CDK, so it keeps this one
copy, and ``tests/handler/test_handler_cli.py`` fails when it drifts from the construct.
"""
from __future__ import annotations

POD_IMAGE = "public.ecr.aws/docker/library/busybox:stable"
POD_TIMEOUT_SECONDS = 300
CLOUDTRAIL_WAIT_SECONDS = 120
CANARY_NAMESPACE = "default"
CANARY_LABEL_KEY = "eks-envelope.io/canary"
CANARY_LABEL_VALUE = "verifier"
#: The whole run: a Lambda gets at most 15 minutes, the CLI the same.
BUDGET_SECONDS = 900.0
