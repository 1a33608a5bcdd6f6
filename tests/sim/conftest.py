"""Fixtures of the conformance suite. `sim`, `kubeconfig`, `kubectl` and `namespace` come from
tests/conftest.py (shared with the integration tests); here: the official client. Helpers to wait
on conditions instead of sleeping are in tests/kubetest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client, config


@pytest.fixture(scope="session")
def api_client(kubeconfig: str) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="session")
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)
