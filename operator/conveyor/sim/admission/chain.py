"""The validating admission phase of a write: ValidatingAdmissionPolicies first, then validating
webhooks, as kube-apiserver orders its admission plugins.

The API service asks `configured` before every write, and only when it holds builds the would-be
object and awaits `admit`; so with no ValidatingAdmissionPolicyBinding and no
ValidatingWebhookConfiguration stored, a write pays two dict lookups and nothing else. The admission
configuration kinds themselves are never subject to admission (`exempt`), as in kube, so a broken
policy or webhook can always be removed.

Warnings have one path whatever produces them (a policy's Warn action, a webhook's answer): each
check adds them to the write's own warning list as it runs, so they reach the client with the
response, or with the error when a later check refuses the write, as kube's warning recorder does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.sim.admission import matching, policies, webhooks
from conveyor.sim.admission.attributes import AdmissionAttributes

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService
    from conveyor.sim.resources import ResourceType
    from conveyor.sim.storage import Store

GROUP = matching.ADMISSION_GROUP


def configured(store: Store) -> bool:
    """Whether any admission configuration exists (O(1): the store counts each kind's objects)."""
    # A policy acts only through a binding, so bindings (not policies) are what switch admission on.
    return bool(store.count(GROUP, policies.BINDINGS) or store.count(GROUP, webhooks.CONFIGURATIONS))


def exempt(rt: ResourceType) -> bool:
    return matching.is_exempt(rt.group, rt.plural)


async def admit(api: ApiService, attrs: AdmissionAttributes, warnings: list[str]) -> None:
    """Adds the checks' warnings to `warnings`; raises the StatusError of the first check that
    refuses the write (the warnings added so far stay: they are sent with the error)."""
    if matching.is_exempt(attrs.group, attrs.resource):
        return
    subject = matching.subject_of(api, attrs)
    policies.validate_with_policies(api, subject, warnings)
    await webhooks.validate_with_webhooks(api, subject, warnings)
