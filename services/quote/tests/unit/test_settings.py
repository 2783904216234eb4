"""QuoteSettings: documented defaults, environment overrides, guards, and a README that matches them."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from certify_common.settings import markdown_table
from certify_quote.settings import QuoteSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_described() -> None:
    for name, field in QuoteSettings.model_fields.items():
        assert field.description, name


def test_the_readme_table_matches_the_settings_class() -> None:
    assert markdown_table(QuoteSettings) in README.read_text()


def test_defaults_follow_the_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in QuoteSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = QuoteSettings()
    assert (settings.port, settings.coingecko_url) == (8404, "https://api.coingecko.com/api/v3")
    assert (settings.price_cache_ttl_s, settings.price_max_stale_s) == (300, 3600)
    assert (str(settings.cirx_fee), str(settings.default_margin_percent), settings.quote_validity_s) == ("4", "65", 300)
    assert settings.max_data_bytes == 10 * 1024 * 1024


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRX_FEE", "4.5")
    monkeypatch.setenv("COINGECKO_URL", "https://pro-api.coingecko.com/api/v3")
    monkeypatch.setenv("COINGECKO_API_KEY_HEADER", "x-cg-pro-api-key")
    monkeypatch.setenv("COINGECKO_API_KEY", "CG-secret-value-123")
    settings = QuoteSettings()
    assert (str(settings.cirx_fee), settings.coingecko_api_key_header) == ("4.5", "x-cg-pro-api-key")
    assert settings.coingecko_api_key is not None
    assert "CG-secret-value-123" not in repr(settings)


def test_an_unknown_api_key_header_is_refused() -> None:
    with pytest.raises(ValidationError):
        QuoteSettings(coingecko_api_key_header="authorization")  # type: ignore[arg-type]


def test_a_default_margin_above_the_maximum_is_refused() -> None:
    with pytest.raises(ValidationError):
        QuoteSettings(default_margin_percent=70, max_margin_percent=50)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8499", "http://sandbox:8499", "http://api.coingecko.com/api/v3"])
def test_production_refuses_a_local_or_plain_http_price_source(url: str) -> None:
    with pytest.raises(ValidationError):
        QuoteSettings(certify_env="production", coingecko_url=url)


def test_production_accepts_the_real_coingecko() -> None:
    assert QuoteSettings(certify_env="production").certify_env == "production"


def test_the_mcp_body_limit_fits_the_largest_document_in_its_widest_encoding() -> None:
    settings = QuoteSettings()
    widest = 2 * (settings.max_data_bytes + 1)  # 10 MiB + 1 byte as hex, so it reaches the tool and is refused there
    assert settings.max_request_body_bytes >= widest + 64 * 1024


@pytest.mark.parametrize(
    ("url", "header"),
    [
        ("https://api.coingecko.com/api/v3", "x-cg-pro-api-key"),
        ("https://pro-api.coingecko.com/api/v3", "x-cg-demo-api-key"),
    ],
)
def test_a_key_header_that_does_not_fit_the_coingecko_host_is_refused(url: str, header: str) -> None:
    with pytest.raises(ValidationError):
        QuoteSettings(coingecko_url=url, coingecko_api_key="CG-key-12345678", coingecko_api_key_header=header)  # type: ignore[arg-type]


def test_a_pro_key_on_the_pro_host_is_accepted() -> None:
    settings = QuoteSettings(
        coingecko_url="https://pro-api.coingecko.com/api/v3",
        coingecko_api_key="CG-key-12345678",  # type: ignore[arg-type]
        coingecko_api_key_header="x-cg-pro-api-key",
    )
    assert settings.coingecko_api_key_header == "x-cg-pro-api-key"
