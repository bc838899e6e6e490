"""The verifier handler: the Lambda behind the custom resources and the schedule, and the ``eks-envelope`` commands.

Stdlib and boto3 only. The Lambda imports it as the package ``verifier``; the wheel ships it as
``eks_envelope._handler.verifier``. Kept empty so a cold start imports only what an entry point needs.
"""
