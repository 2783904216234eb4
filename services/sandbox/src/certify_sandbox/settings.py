"""Sandbox settings."""

from __future__ import annotations

from pydantic import Field, model_validator

from certify_common.settings import ServiceSettings


class SandboxSettings(ServiceSettings):
    """The sandbox refuses to start in production: it is a test double for the world."""

    service_name = "sandbox"
    port: int = Field(8499, ge=1, le=65535, description="TCP port to listen on.")

    @model_validator(mode="after")
    def _never_in_production(self) -> SandboxSettings:
        if self.certify_env == "production":
            raise ValueError("the sandbox is refused when CERTIFY_ENV=production")
        return self
