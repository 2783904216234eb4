"""Settings: the key follows the network, production refuses the sandbox and a missing key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from certify_circular.service import load_wallet
from certify_circular.settings import CircularSettings

KEY = "5a" * 32


def test_every_setting_is_described() -> None:
    for name, info in CircularSettings.model_fields.items():
        assert info.description, name


def test_the_network_selects_its_key_and_defaults() -> None:
    testnet = CircularSettings(circular_cep_testnet_private_key=KEY, circular_cep_mainnet_private_key="6b" * 32)
    mainnet = CircularSettings(
        circular_network="mainnet", circular_cep_testnet_private_key=KEY, circular_cep_mainnet_private_key="6b" * 32
    )
    assert testnet.private_key is not None
    assert testnet.private_key.get_secret_value() == KEY
    assert mainnet.private_key is not None
    assert mainnet.private_key.get_secret_value() == "6b" * 32
    assert mainnet.private_key_env_name == "CIRCULAR_CEP_MAINNET_PRIVATE_KEY"


def test_keys_and_chains_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRCULAR_CEP_TESTNET_PRIVATE_KEY", KEY)
    monkeypatch.setenv("CIRCULAR_BLOCKCHAIN", "0x" + "AB" * 32)
    settings = CircularSettings()
    assert settings.circular_blockchain == "ab" * 32
    assert load_wallet(settings) is not None


REDIS = "redis://redis.certify.svc:6379/0"


@pytest.mark.parametrize(
    "nag_url",
    [
        "http://127.0.0.1:8499/nag/NAG.php?cep=",
        "http://sandbox:8499/nag/NAG.php?cep=",
        "https://localhost/NAG.php?cep=",
    ],
)
def test_production_refuses_a_sandbox_or_plain_http_nag(nag_url: str) -> None:
    with pytest.raises(ValidationError, match="CIRCULAR_NAG_URL"):
        CircularSettings(
            certify_env="production", redis_url=REDIS, circular_cep_testnet_private_key=KEY, circular_nag_url=nag_url
        )


def test_production_refuses_a_missing_or_placeholder_key() -> None:
    with pytest.raises(ValidationError, match="CIRCULAR_CEP_TESTNET_PRIVATE_KEY"):
        CircularSettings(certify_env="production", redis_url=REDIS)
    with pytest.raises(ValidationError, match="CIRCULAR_CEP_MAINNET_PRIVATE_KEY"):
        CircularSettings(
            certify_env="production",
            redis_url=REDIS,
            circular_network="mainnet",
            circular_cep_mainnet_private_key="changeme",
        )


def test_production_accepts_a_real_key_and_the_documented_nag() -> None:
    settings = CircularSettings(certify_env="production", redis_url=REDIS, circular_cep_testnet_private_key=KEY)
    assert settings.circular_nag_url is None


def test_production_refuses_to_run_without_redis() -> None:
    # Without shared state a restart forgets idempotency keys and replicas hand out the same nonces.
    with pytest.raises(ValidationError, match="REDIS_URL"):
        CircularSettings(certify_env="production", redis_url="", circular_cep_testnet_private_key=KEY)


def test_a_malformed_key_stops_the_start_without_quoting_it() -> None:
    settings = CircularSettings(circular_cep_testnet_private_key="zz" * 32)
    with pytest.raises(ValueError, match="CIRCULAR_CEP_TESTNET_PRIVATE_KEY") as caught:
        load_wallet(settings)
    assert "zz" * 32 not in str(caught.value)
