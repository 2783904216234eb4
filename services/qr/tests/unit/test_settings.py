"""QrSettings: documented fields, the contract's default port, environment overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from certify_qr.settings import QrSettings


def test_every_setting_is_described() -> None:
    for name, field in QrSettings.model_fields.items():
        assert field.description, name


def test_defaults_follow_the_running_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "HOST", "PAYMENT_QR_SIZE_PX", "PAYMENT_QR_ERROR_CORRECTION", "CERTIFY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = QrSettings()
    assert (settings.host, settings.port, settings.service_name) == ("127.0.0.1", 8405, "qr")
    assert (settings.payment_qr_size_px, settings.payment_qr_error_correction) == (512, "M")


def test_environment_overrides_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9405")
    monkeypatch.setenv("PAYMENT_QR_SIZE_PX", "1024")
    settings = QrSettings()
    assert (settings.port, settings.payment_qr_size_px) == (9405, 1024)
    monkeypatch.setenv("PAYMENT_QR_SIZE_PX", "4096")
    with pytest.raises(ValidationError):
        QrSettings()
