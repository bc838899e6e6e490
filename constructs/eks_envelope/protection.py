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

from dataclasses import dataclass
from typing import Any, Sequence

from constructs import Construct, IDependable

from .contract import DELETION_PROTECTION_RESOURCE_TYPE, ProtectionProperties
from .custom_resource import CUSTOM_RESOURCE_SERVICE_TIMEOUT, custom_resource
from .props import Props, props_from, typed_props
from .validation import Problems, check_cluster_name

__all__ = ["ClusterDeletionProtection", "ClusterDeletionProtectionProps", "CUSTOM_RESOURCE_SERVICE_TIMEOUT"]


@typed_props
@dataclass(frozen=True)
class ClusterDeletionProtectionProps(Props):
    """The props of :class:`ClusterDeletionProtection`, as one frozen object."""

    #: the EKS cluster whose protection this resource owns.
    cluster_name: str
    #: the Provider that serves ``Custom::ClusterDeletionProtection``
    #: (``EnvelopeEncryptionVerifier.serve_deletion_protection()``).
    service_token: str
    #: protection on (production) or off (before a deliberate teardown).
    protect: bool
    #: everything that must exist before protection goes on, and be deleted only after this resource: the
    #: verification resource and the cluster's other resources. :default: - nothing
    after: Sequence[IDependable] = ()

    def check(self, problems: Problems) -> None:
        check_cluster_name(problems, "cluster_name", self.cluster_name)
        if not self.service_token.strip():
            problems.add("service_token", self.service_token,
                         "give the verifier's service token (EnvelopeEncryptionVerifier.serve_deletion_protection())")


@typed_props
class ClusterDeletionProtection(Construct):
    """Turns EKS deletion protection on after a verified deploy, and off for a deliberate teardown."""

    def __init__(
        self, scope: Construct, construct_id: str, *, props: ClusterDeletionProtectionProps | None = None, **kwargs: Any
    ) -> None:
        """
        :param props: a ClusterDeletionProtectionProps, or its fields as keyword arguments (not both); each is
            documented there.
        """
        super().__init__(scope, construct_id)
        props = props_from(ClusterDeletionProtectionProps, props, kwargs, owner=self)
        props.validate()
        #: The props in effect: ``props``, or the keyword arguments as a ClusterDeletionProtectionProps.
        self.props = props
        #: Whether this resource switches deletion protection on (True) or off (False); from the prop.
        self.protect = props.protect
        #: The ``Custom::ClusterDeletionProtection`` custom resource.
        self.resource = custom_resource(
            self, service_token=props.service_token, resource_type=DELETION_PROTECTION_RESOURCE_TYPE,
            properties=ProtectionProperties(cluster_name=props.cluster_name, protect=props.protect).to_properties(),
        )
        self.resource.node.add_dependency(*props.after)
        #: "true" once the cluster's deletion protection matches ``protect``.
        self.protected = self.resource.get_att_string("Protected")
