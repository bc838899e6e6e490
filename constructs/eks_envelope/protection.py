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

from dataclasses import dataclass, fields
from typing import Sequence

from constructs import Construct, IDependable

from .contract import DELETION_PROTECTION_RESOURCE_TYPE, ProtectionProperties
from .custom_resource import CUSTOM_RESOURCE_SERVICE_TIMEOUT, custom_resource
from .props import typed_props
from .validation import Problems, check_cluster_name

__all__ = ["ClusterDeletionProtection", "ClusterDeletionProtectionProps", "CUSTOM_RESOURCE_SERVICE_TIMEOUT"]


@typed_props
@dataclass(frozen=True)
class ClusterDeletionProtectionProps:
    """What a ClusterDeletionProtection owns, validated as a whole: the constructor's keyword arguments.

    :param cluster_name: the EKS cluster whose protection this resource owns.
    :param service_token: the Provider that serves ``Custom::ClusterDeletionProtection``
        (``EnvelopeEncryptionVerifier.serve_deletion_protection()``).
    :param protect: protection on (production) or off (before a deliberate teardown).
    :param after: everything that must exist before protection goes on, and be deleted only
        after this resource: the verification resource and the cluster's other resources. :default: - nothing
    """

    cluster_name: str
    service_token: str
    protect: bool
    after: Sequence[IDependable] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "after", tuple(self.after))
        problems = Problems()
        check_cluster_name(problems, "ClusterDeletionProtectionProps.cluster_name", self.cluster_name)
        if not self.service_token.strip():
            problems.add("ClusterDeletionProtectionProps.service_token", self.service_token,
                         "give the verifier's service token (EnvelopeEncryptionVerifier.serve_deletion_protection())")
        problems.raise_if_any()


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
        """The keyword arguments are the fields of :class:`ClusterDeletionProtectionProps` (documented there);
        :meth:`from_props` takes the object itself.
        """
        super().__init__(scope, construct_id)
        #: The props this resource was built from, validated as a whole.
        self.props = props = ClusterDeletionProtectionProps(
            cluster_name=cluster_name, service_token=service_token, protect=protect, after=after)
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

    @classmethod
    def from_props(cls, scope: Construct, construct_id: str, props: ClusterDeletionProtectionProps) -> ClusterDeletionProtection:
        """The resource built from a props object (the same fields as the keyword arguments)."""
        return cls(scope, construct_id, **{f.name: getattr(props, f.name) for f in fields(props)})
