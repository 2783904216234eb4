"""Settings: environment over YAML over defaults, list parsing, production guard, docs rows."""

from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from certify_common.settings import ServiceSettings, describe, markdown_table, require_real_secret


class DemoSettings(ServiceSettings):
    service_name = "demo"
    port: int = Field(8123, description="Port.")
    api_secret: str = Field("changeme", description="A secret.")

    def check_production(self) -> None:
        require_real_secret("API_SECRET", self.api_secret)


def test_environment_wins_over_the_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "certify.yaml"
    config.write_text("port: 9000\nlog_level: DEBUG\n")
    monkeypatch.setenv("CERTIFY_CONFIG", str(config))
    monkeypatch.setenv("PORT", "9100")
    settings = DemoSettings()
    assert (settings.port, settings.log_level) == (9100, "DEBUG")


def test_allowed_hosts_accept_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "quote:*, quote.certify.svc:8404")
    assert DemoSettings().allowed_hosts == ["quote:*", "quote.certify.svc:8404"]


def test_empty_redis_url_means_no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")
    assert DemoSettings().redis_url is None


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTIFY_ENV", "production")
    with pytest.raises(ValidationError, match="API_SECRET"):
        DemoSettings()
    monkeypatch.setenv("API_SECRET", "s3cr3t-real-value")
    assert DemoSettings().certify_env == "production"


def test_describe_lists_every_field_with_its_default() -> None:
    rows = {env: default for env, default, _ in describe(DemoSettings)}
    assert rows["PORT"] == "8123"
    assert rows["REDIS_URL"] == "unset"
    assert rows["ALLOWED_HOSTS"] == "127.0.0.1:*,localhost:*,[::1]:*"
    assert "| `API_SECRET` | `changeme` | A secret. |" in markdown_table(DemoSettings)
