"""Settings shared by every service: run mode, data folder, logging, telemetry, metrics."""

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    """How the platform runs: all on one machine, or against real external servers."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Base class of every service's settings; values come from the environment."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    mode: Mode = Mode.EMBEDDED
    # Where embedded mode keeps its files (SQLite databases, key file, logs).
    data_dir: Path = Path("var")
    log_level: str = "INFO"
    # Port of the Prometheus /metrics HTTP endpoint of a gRPC service; 0 disables it.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Seconds a gRPC server waits for in-flight calls on SIGTERM.
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)
    # Deadline given to every outgoing gRPC call.
    rpc_deadline_seconds: float = Field(default=5.0, gt=0)
    # The auth service, whose published keys verify every caller's access token.
    auth_addr: str = Field(default="127.0.0.1:50053", validation_alias="AUTH_ADDR")
    # Embedded mode only: accept the unsigned development identity (x-crm-caller-* metadata,
    # X-Dev-* headers at the gateway) from callers without a token. Never in production.
    dev_identity: bool = Field(default=False, validation_alias="CRM_DEV_IDENTITY")
    # This service's own API client, for calls it makes to other services.
    service_client_id: str = Field(default="", validation_alias="CRM_SERVICE_CLIENT_ID")
    service_client_secret: SecretStr = Field(
        default=SecretStr(""), validation_alias="CRM_SERVICE_CLIENT_SECRET"
    )
    # Celery broker of services with background jobs (services/common/jobs.py); embedded mode
    # defaults to a SQLite file under data_dir, which needs no server.
    broker_url: str = Field(default="", validation_alias="CRM_BROKER_URL")

    @model_validator(mode="after")
    def _no_dev_identity_in_production(self) -> "ServiceSettings":
        if self.dev_identity and self.mode != Mode.EMBEDDED:
            raise ValueError("CRM_DEV_IDENTITY is only for the embedded mode")
        return self
