"""Entry points: the Lambda's (``dispatch``, and ``association`` for existing clusters) and the commands.

Lambda: ``dispatch.on_event`` routes a scheduled run (``scheduled``), the deletion-protection resource
(``protection``) and the verification resource (``verification``); ``association.on_event`` serves the
existing-cluster association. Commands: ``cli`` (``eks-envelope verify``), ``encrypt_existing`` and
``audit_cli`` (``eks-envelope audit``). Each reads its input through ``contract`` and runs the ``stages``.
"""
