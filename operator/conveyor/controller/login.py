"""Credentials for kopf, from the same kubeconfig file the official client reads.

kopf and the official client each open their own connections; both must reach the same server with
the same identity: HTTPS with the server's CA, a bearer token or a client certificate. The official
(sync) loader parses the kubeconfig (it writes inline CA/cert data to temporary files) and its
result is handed to kopf as ConnectionInfo.
"""

from __future__ import annotations

import kopf
from kubernetes import client as sync_client
from kubernetes import config as sync_config


def connection_from_kubeconfig(path: str) -> kopf.ConnectionInfo:
    configuration = sync_client.Configuration()
    sync_config.load_kube_config(config_file=path, client_configuration=configuration)
    token = configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken")
    if token and token.lower().startswith("bearer "):
        token = token[len("bearer ") :]
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        token=token or None,
        username=configuration.username or None,
        password=configuration.password or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )
