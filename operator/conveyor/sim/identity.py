"""Who a request comes from: the user name the authenticator settled on, and the groups it implies.

The sim knows two kinds of bearer tokens (see `ApiService.token_for_service_account`): the admin
token of the kubeconfig, and ServiceAccount tokens. What must hold, as in kube:
- the admin is a member of `system:masters`, the group RBAC never denies;
- a ServiceAccount user is `system:serviceaccount:<ns>:<name>`, in the groups
  `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`;
- every authenticated user is in `system:authenticated`, the anonymous user in
  `system:unauthenticated` only.
"""

from __future__ import annotations

from dataclasses import dataclass

ADMIN_USER = "kubernetes-admin"
# The user in-process callers (controllers, the lifecycle) act as; a superuser like the admin.
IN_PROCESS_USER = "system:admin"
ANONYMOUS_USER = "system:anonymous"
MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    username: str
    groups: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """authentication.k8s.io/v1 UserInfo."""
        return {"username": self.username, "groups": list(self.groups)}

    @property
    def is_superuser(self) -> bool:
        return MASTERS_GROUP in self.groups


def service_account_of(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount user name, None for any other user."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = username[len(SERVICE_ACCOUNT_PREFIX):].partition(":")
    return (namespace, name) if sep and namespace and name else None


def user_info(username: str) -> UserInfo:
    """The groups of a user the sim authenticated under `username`."""
    if username in (ADMIN_USER, IN_PROCESS_USER):
        return UserInfo(username, (MASTERS_GROUP, AUTHENTICATED_GROUP))
    if username == ANONYMOUS_USER:
        return UserInfo(username, (UNAUTHENTICATED_GROUP,))
    account = service_account_of(username)
    if account is not None:
        namespace = account[0]
        return UserInfo(username, (*service_account_groups(namespace), AUTHENTICATED_GROUP))
    return UserInfo(username, (AUTHENTICATED_GROUP,))


def service_account_groups(namespace: str) -> tuple[str, str]:
    """The groups every ServiceAccount of `namespace` is in (besides system:authenticated)."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
