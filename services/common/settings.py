"""Settings shared by every service: run mode, data folder, logging, telemetry, metrics."""

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    """How the platform runs: all on one machine, or against real external servers."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a service's mutual TLS: its certificate (for serving and calling alike), its
    private key, and the CA that signs every platform service's certificate."""

    cert: Path
    key: Path
    ca: Path

    def stamp(self) -> tuple[int, ...]:
        """When the files last changed (modification times): renewals replace them in place."""
        return tuple(os.stat(path).st_mtime_ns for path in (self.cert, self.key, self.ca))


# The platform's services: a service's own token is accepted only from a peer whose certificate
# names one of them (CRM_GRPC_PEER_SERVICES; docs/authorization.md, "Service identity").
PLATFORM_SERVICES = "auth,profile,search,tagging,analytics,gateway"


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
    # Seals page tokens (services/common/page_tokens.py): the same for every replica of a
    # service; embedded mode keeps a generated key in data_dir instead.
    page_token_secret: SecretStr = Field(default=SecretStr(""), validation_alias="CRM_PAGE_TOKEN_SECRET")
    # Mutual TLS of every gRPC server and channel (docs/deployment.md, "Certificates"): this
    # service's certificate chain and key (PEM files, read again when they change), and the CA
    # whose certificates it accepts from callers and from the services it calls. All three or none.
    grpc_tls_cert: Path | None = Field(default=None, validation_alias="CRM_GRPC_TLS_CERT")
    grpc_tls_key: Path | None = Field(default=None, validation_alias="CRM_GRPC_TLS_KEY")
    grpc_tls_ca: Path | None = Field(default=None, validation_alias="CRM_GRPC_TLS_CA")
    # Production mode refuses plaintext gRPC unless this says, on purpose, that something else
    # (a service mesh's sidecars) encrypts and authenticates every connection.
    grpc_plaintext: bool = Field(default=False, validation_alias="CRM_GRPC_PLAINTEXT")
    # Server reflection (for grpcurl); unset: on in the embedded mode, off in production.
    grpc_reflection: bool | None = Field(default=None, validation_alias="CRM_GRPC_REFLECTION")
    # Port of a plaintext server that answers only the health service, for Kubernetes' gRPC
    # probes (the kubelet cannot present a certificate); 0: none.
    grpc_health_port: int = Field(default=0, ge=0, le=65535, validation_alias="CRM_GRPC_HEALTH_PORT")
    # Names a peer certificate must carry (common name or DNS name) for a service's own token to
    # be accepted over mutual TLS; comma-separated.
    grpc_peer_services: str = Field(default=PLATFORM_SERVICES, validation_alias="CRM_GRPC_PEER_SERVICES")

    @model_validator(mode="after")
    def _no_dev_identity_in_production(self) -> "ServiceSettings":
        if self.dev_identity and self.mode != Mode.EMBEDDED:
            raise ValueError("CRM_DEV_IDENTITY is only for the embedded mode")
        return self

    @model_validator(mode="after")
    def _grpc_transport(self) -> "ServiceSettings":
        given = [f for f in (self.grpc_tls_cert, self.grpc_tls_key, self.grpc_tls_ca) if f]
        if given and len(given) < 3:
            raise ValueError("set all of CRM_GRPC_TLS_CERT, CRM_GRPC_TLS_KEY and CRM_GRPC_TLS_CA, or none")
        if given and self.grpc_plaintext:
            raise ValueError("CRM_GRPC_PLAINTEXT=true contradicts the CRM_GRPC_TLS_* files; choose one")
        return self

    def grpc_tls(self) -> TlsFiles | None:
        """The mutual-TLS files of gRPC servers and channels; None: plaintext (the embedded
        mode's default on loopback, or production's explicit CRM_GRPC_PLAINTEXT).

        Production without either is refused here, where every gRPC server and channel is built
        at start-up; commands that make no call (migrate) do not need certificates.
        """
        if self.grpc_tls_cert and self.grpc_tls_key and self.grpc_tls_ca:
            return TlsFiles(cert=self.grpc_tls_cert, key=self.grpc_tls_key, ca=self.grpc_tls_ca)
        if self.mode == Mode.PRODUCTION and not self.grpc_plaintext:
            raise ValueError(
                "production mode serves and calls gRPC over mutual TLS only: set CRM_GRPC_TLS_CERT, "
                "CRM_GRPC_TLS_KEY and CRM_GRPC_TLS_CA, or CRM_GRPC_PLAINTEXT=true where a service "
                "mesh does mutual TLS for every connection"
            )
        return None

    def reflection_enabled(self) -> bool:
        """Whether gRPC servers offer reflection (CRM_GRPC_REFLECTION, else embedded mode only)."""
        return self.mode == Mode.EMBEDDED if self.grpc_reflection is None else self.grpc_reflection

    def peer_services(self) -> frozenset[str]:
        """Names of the platform services a peer certificate may carry."""
        return frozenset(n.strip() for n in self.grpc_peer_services.split(",") if n.strip())

    def metrics_host(self) -> str:
        """Where /metrics listens: loopback in the embedded mode, every interface in production
        (Prometheus scrapes the pod's address)."""
        return "127.0.0.1" if self.mode == Mode.EMBEDDED else "0.0.0.0"  # noqa: S104
