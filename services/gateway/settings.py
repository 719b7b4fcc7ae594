"""Gateway settings."""

from pydantic import Field, field_validator

from services.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Configuration of the REST gateway, from the environment."""

    host: str = Field(default="127.0.0.1", validation_alias="CRM_GATEWAY_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="CRM_GATEWAY_PORT")
    profile_addr: str = Field(default="127.0.0.1:50051", validation_alias="PROFILE_ADDR")
    search_addr: str = Field(default="127.0.0.1:50052", validation_alias="SEARCH_ADDR")
    tagging_addr: str = Field(default="127.0.0.1:50054", validation_alias="TAGGING_ADDR")
    analytics_addr: str = Field(default="127.0.0.1:50055", validation_alias="ANALYTICS_ADDR")
    # Partner request budgets are counted in Redis when set (shared by replicas), else in memory.
    redis_url: str = Field(default="", validation_alias="CRM_REDIS_URL")
    # Largest request body accepted, in bytes.
    max_body_bytes: int = Field(default=1_048_576, gt=0, validation_alias="CRM_GATEWAY_MAX_BODY_BYTES")
    # Longer than the idle timeout of the load balancers in front (60 s is common): a connection
    # the gateway closes while a balancer or client sends on it fails that request.
    keepalive_seconds: int = Field(default=75, ge=1, validation_alias="CRM_GATEWAY_KEEPALIVE_SECONDS")
    # Proxies (load balancer, ingress) whose X-Forwarded-For is believed, as comma-separated
    # CIDRs or addresses; from anyone else the header is ignored and the socket peer is the
    # client. Empty: the gateway is reached directly.
    trusted_proxies: str = Field(default="", validation_alias="CRM_GATEWAY_TRUSTED_PROXIES")
    # Requests to the login and token endpoints one client address may make a minute (shared by
    # replicas through Redis when CRM_REDIS_URL is set).
    auth_requests_per_minute: int = Field(
        default=120, gt=0, validation_alias="CRM_GATEWAY_AUTH_REQUESTS_PER_MINUTE"
    )
    # The development identity's default id (CRM_DEV_IDENTITY, embedded only).
    dev_caller_id: str = Field(default="dev-admin", validation_alias="CRM_DEV_CALLER_ID")

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        from services.gateway.middleware import parse_networks

        parse_networks(value.split(","))  # a bad entry fails at start-up, not per request
        return value

    def trusted_proxy_list(self) -> list[str]:
        """The trusted proxies' CIDRs."""
        return [c.strip() for c in self.trusted_proxies.split(",") if c.strip()]
