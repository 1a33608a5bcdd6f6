"""Who a request acts as, and whether it may: impersonation, then the authorization mode.

What must hold (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go, authorization.go):
- Every HTTP request is authorized, resource or not, before it is routed; in-process callers of
  `ApiService` (controllers, the kubelet, the lifecycle) act as the system and are never asked.
- Mode "RBAC" (the default, as kube-apiserver enforces it) asks `rbac.Authorizer`; "AlwaysAllow"
  allows every authenticated request, for experiments that must leave RBAC out of the picture.
- `Impersonate-User` (a ServiceAccount user name counts as impersonating the ServiceAccount, in its
  namespace) and each `Impersonate-Group` / `Impersonate-Uid` need the `impersonate` verb on
  users / serviceaccounts / groups / uids, checked for the requester, in that order; the first
  refusal is the answer, worded as a 403 on that object. Once allowed, the request is authorized
  as the impersonated user: its groups are exactly the ones asked for (a ServiceAccount's own
  groups when none are), plus system:authenticated (system:unauthenticated for system:anonymous);
  it never inherits the requester's, so impersonating the admin's name does not make one a master.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.sim.errors import StatusError, forbidden, forbidden_path, internal
from conveyor.sim.identity import (
    ANONYMOUS_USER,
    AUTHENTICATED_GROUP,
    UNAUTHENTICATED_GROUP,
    UserInfo,
    service_account_groups,
    service_account_of,
)
from conveyor.sim.rbac import Attributes, Authorizer

RBAC_MODE = "RBAC"
ALWAYS_ALLOW = "AlwaysAllow"
MODES = (RBAC_MODE, ALWAYS_ALLOW)
DEFAULT_MODE = RBAC_MODE

IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_GROUP = "Impersonate-Group"
IMPERSONATE_UID = "Impersonate-Uid"


def refusal(user: UserInfo, attrs: Attributes, reason: str = "") -> StatusError:
    """The 403 kube answers when `user` may not do `attrs`."""
    if not attrs.is_resource_request:
        return forbidden_path(user.username, attrs.verb, attrs.path, reason)
    return forbidden(user.username, attrs.verb, attrs.resource, attrs.group, attrs.namespace or None,
                     attrs.name or None, attrs.subresource, reason)


class RequestAuthorizer:
    """The authorization step of the HTTP server, in one of `MODES`."""

    def __init__(self, authorizer: Authorizer, mode: str = DEFAULT_MODE) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown authorization mode {mode!r}; expected one of {', '.join(MODES)}")
        self.authorizer = authorizer
        self.mode = mode

    @property
    def enforcing(self) -> bool:
        return self.mode != ALWAYS_ALLOW

    def check(self, user: UserInfo, attrs: Attributes) -> None:
        """Raise the 403 when `user` may not do what `attrs` describe."""
        if self.mode == ALWAYS_ALLOW:
            return
        allowed, reason = self.authorizer.authorize(user, attrs)
        if not allowed:
            raise refusal(user, attrs, reason)

    def acting_as(self, requester: UserInfo, headers: Mapping[str, Any]) -> UserInfo:
        """The user the request is authorized as: the requester, or whom it may impersonate."""
        getall = getattr(headers, "getall", None)
        groups: list[str] = list(getall(IMPERSONATE_GROUP, ())) if getall else (
            [headers[IMPERSONATE_GROUP]] if IMPERSONATE_GROUP in headers else [])
        username = headers.get(IMPERSONATE_USER) or ""
        uid = headers.get(IMPERSONATE_UID) or ""
        if not username:
            if groups or uid:
                asked = [f"Group {g!r}" for g in groups] + ([f"UID {uid!r}"] if uid else [])
                raise internal(f"requested [{', '.join(asked)}] without impersonating a user")
            return requester
        account = service_account_of(username)
        if account is not None:
            self.check(requester, Attributes("impersonate", "", "serviceaccounts", name=account[1],
                                              namespace=account[0]))
        else:
            self.check(requester, Attributes("impersonate", "", "users", name=username))
        for group in groups:
            self.check(requester, Attributes("impersonate", "", "groups", name=group))
        if uid:
            self.check(requester, Attributes("impersonate", "authentication.k8s.io", "uids", name=uid))
        if account is not None and not groups:
            groups = list(service_account_groups(account[0]))
        extra = UNAUTHENTICATED_GROUP if username == ANONYMOUS_USER else AUTHENTICATED_GROUP
        if extra not in groups:
            groups.append(extra)
        return UserInfo(username, tuple(groups))
