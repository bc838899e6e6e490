"""ClusterDeletionProtection: EKS deletion protection that never blocks the rollback of a failed create.

EKS refuses ``DeleteCluster`` on an ACTIVE cluster with deletion protection on ("Protect EKS
clusters from accidental deletion"). Set in the cluster's template, protection is on from the
moment the cluster exists, so when anything later in the first deploy fails (the verifier, an
add-on), CloudFormation's rollback cannot delete the cluster and the stack ends ROLLBACK_FAILED.

So the cluster is created unprotected, and this custom resource — created last, after a
successful verification, and deleted first — owns the setting:

- Create/Update turn protection to ``protect`` (``UpdateClusterConfig``).
- Delete with ``protect`` true fails with a message that names the deliberate teardown path;
  with ``protect`` false it makes sure protection is off. Every other resource of the cluster's
  construct is one of its dependencies, so nothing is deleted before it has answered.
"""
from __future__ import annotations

from typing import Sequence

from aws_cdk import CustomResource, Duration
from constructs import Construct, IDependable

from .contract import DELETION_PROTECTION_RESOURCE_TYPE
from .props import typed_props

#: The Provider framework's Lambda runs at most 15 minutes; a minute more covers its own reply.
#: Without it, a crashed framework holds the stack for CloudFormation's default hour.
CUSTOM_RESOURCE_SERVICE_TIMEOUT = Duration.minutes(16)


@typed_props
class ClusterDeletionProtection(Construct):
    """Turns EKS deletion protection on after a verified deploy, and off for a deliberate teardown."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        service_token: str,
        protect: bool,
        after: Sequence[IDependable] = (),
    ) -> None:
        """
        :param cluster_name: the EKS cluster whose protection this resource owns.
        :param service_token: the Provider that serves ``Custom::ClusterDeletionProtection``
            (the verifier's).
        :param protect: protection on (production) or off (before a deliberate teardown).
        :param after: everything that must exist before protection goes on, and be deleted only
            after this resource: the verification resource and the cluster's other resources.
        """
        super().__init__(scope, construct_id)
        #: Whether this resource switches deletion protection on (True) or off (False); from the prop.
        self.protect = protect
        #: The ``Custom::ClusterDeletionProtection`` custom resource.
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=service_token,
            resource_type=DELETION_PROTECTION_RESOURCE_TYPE,
            properties={"ClusterName": cluster_name, "Protect": str(protect).lower()},
            service_timeout=CUSTOM_RESOURCE_SERVICE_TIMEOUT,
        )
        self.resource.node.add_dependency(*after)
        #: "true" once the cluster's deletion protection matches ``protect``.
        self.protected = self.resource.get_att_string("Protected")
