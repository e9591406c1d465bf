"""The Temporal connection settings for a managed service or a TLS frontend: what
``temporal_client.connect`` hands the SDK for each combination, and the refusal of a client
certificate without its key."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import TLSConfig

import temporal_client
from settings import Settings


def _settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def connect_arguments(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What connect passes to Client.connect, without a server."""
    seen: dict[str, Any] = {}

    async def fake_connect(target_host: str, **kwargs: Any) -> str:
        seen.update(kwargs, target_host=target_host)
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    return seen


async def test_the_dev_server_gets_plain_grpc_and_no_key(connect_arguments: dict[str, Any]) -> None:
    await temporal_client.connect(_settings())
    assert connect_arguments["tls"] is False
    assert "api_key" not in connect_arguments


async def test_an_api_key_travels_with_tls(connect_arguments: dict[str, Any]) -> None:
    await temporal_client.connect(_settings(temporal_address="eu-west-1.aws.api.temporal.io:7233",
                                            temporal_namespace="orders.a1b2c", temporal_api_key="cloud-key"))
    assert connect_arguments["tls"] is True
    assert connect_arguments["api_key"] == "cloud-key"
    assert connect_arguments["namespace"] == "orders.a1b2c"


async def test_a_client_certificate_gives_mutual_tls(tmp_path: Path, connect_arguments: dict[str, Any]) -> None:
    cert, key, ca = tmp_path / "client.pem", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    ca.write_bytes(b"CA")
    await temporal_client.connect(_settings(temporal_tls_cert=cert, temporal_tls_key=key, temporal_tls_ca=ca))
    tls = connect_arguments["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (b"CERT", b"KEY", b"CA")


def test_tls_alone_uses_the_system_roots() -> None:
    assert temporal_client.tls_config(_settings(temporal_tls=True)) is True


@pytest.mark.parametrize("given", ["temporal_tls_cert", "temporal_tls_key"])
def test_a_certificate_without_its_key_is_refused(given: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ORDERFLOW_TEMPORAL_TLS_CERT and ORDERFLOW_TEMPORAL_TLS_KEY go together"):
        _settings(**{given: tmp_path / "half.pem"})
