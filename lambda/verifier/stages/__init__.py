"""What the verifier checks, stage by stage: ``verification.run_verification`` (the deploy-time and scheduled
proof, run by ``runner.StageRunner``), the checks it runs (``aws_checks``, ``kube_checks``, ``version_support``),
the scheduled look-back and metrics, the existing-cluster association plan and re-encryption, and the audit.

Stages take their clients as arguments; they never read an event or the environment.
"""
