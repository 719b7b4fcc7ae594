"""Gateway settings."""

from pydantic import Field

from services.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Configuration of the REST gateway, from the environment."""

    host: str = Field(default="127.0.0.1", validation_alias="CRM_GATEWAY_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="CRM_GATEWAY_PORT")
    profile_addr: str = Field(default="127.0.0.1:50051", validation_alias="PROFILE_ADDR")
    search_addr: str = Field(default="127.0.0.1:50052", validation_alias="SEARCH_ADDR")
    tagging_addr: str = Field(default="127.0.0.1:50054", validation_alias="TAGGING_ADDR")
    # Partner request budgets are counted in Redis when set (shared by replicas), else in memory.
    redis_url: str = Field(default="", validation_alias="CRM_REDIS_URL")
    # Largest request body accepted, in bytes.
    max_body_bytes: int = Field(default=1_048_576, gt=0, validation_alias="CRM_GATEWAY_MAX_BODY_BYTES")
    # Longer than the idle timeout of the load balancers in front (60 s is common): a connection
    # the gateway closes while a balancer or client sends on it fails that request.
    keepalive_seconds: int = Field(default=75, ge=1, validation_alias="CRM_GATEWAY_KEEPALIVE_SECONDS")
    # The development identity's default id (CRM_DEV_IDENTITY, embedded only).
    dev_caller_id: str = Field(default="dev-admin", validation_alias="CRM_DEV_CALLER_ID")
