"""Typed settings: environment variables over an optional YAML file named by ``CERTIFY_CONFIG``.

Each service subclasses :class:`ServiceSettings`; field names are the environment variable names
(case-insensitive). In Kubernetes the YAML file is mounted from a ConfigMap; secrets come from the
environment. Field types shared by every service (comma lists, ``network=url`` maps, URLs) are in
:mod:`certify_common.settings_types`. :func:`describe` renders the documentation table README.md carries
(a test keeps the two in agreement).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from certify_common.settings_types import CommaList

Environment = Literal["development", "test", "production"]

#: Secrets shipped in examples or defaults; production refuses them.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "dev", "development", "secret", "test"})


class ServiceSettings(BaseSettings):
    """Settings every service shares. Subclasses set ``service_name`` and a ``port`` default."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, validate_default=True)

    service_name: ClassVar[str] = "certify"
    #: Why this service needs ``REDIS_URL`` in production (state every replica must share); None: it does not.
    redis_required_because: ClassVar[str | None] = None

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of the JSON logs.")
    certify_env: Environment = Field(
        "development",
        description="development, test or production; production refuses the sandbox, SQLite and placeholder secrets.",
    )
    allowed_hosts: CommaList[str] = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*", "[::1]:*"],
        description=(
            "Host headers accepted on /mcp (DNS-rebinding protection), comma-separated; `name:*` allows any port."
        ),
    )
    redis_url: str | None = Field(
        None, description="redis://… shared by replicas and workers; unset means an in-process fallback."
    )

    redis_prefix: str = Field(
        "certify",
        description="Prefix of every Redis key this service writes (lets deployments and tests share a server).",
    )

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _production_guard(self) -> ServiceSettings:
        if self.certify_env == "production":
            if self.redis_required_because is not None and not self.redis_url:
                raise ValueError(f"REDIS_URL must be set in production: {self.redis_required_because}")
            self.check_production()
        return self

    def check_production(self) -> None:
        """Raise ``ValueError`` when a setting is unfit for production. Subclasses extend it."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CERTIFY_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def require_real_secret(name: str, value: str | None) -> None:
    """Refuse a missing or placeholder secret (used by production guards)."""
    if value is None or value.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} must be set to a real secret in production")


def _default_text(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe(settings_cls: type[ServiceSettings]) -> list[tuple[str, str, str]]:
    """(ENV_NAME, default, description) for every field, in declaration order."""
    rows = []
    for name, info in settings_cls.model_fields.items():
        rows.append((name.upper(), _default_text(info), info.description or ""))
    return rows


def markdown_table(settings_cls: type[ServiceSettings]) -> str:
    """The README table for one settings class."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for env, default, text in describe(settings_cls):
        lines.append(f"| `{env}` | `{default}` | {text} |")
    return "\n".join(lines)
