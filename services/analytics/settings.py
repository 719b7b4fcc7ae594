"""Analytics service settings."""

from pydantic import Field

from services.common.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Configuration of the analytics service, from the environment."""

    # SQLAlchemy URL; embedded mode defaults to a SQLite file in data_dir.
    database_url: str = Field(default="", validation_alias="CRM_ANALYTICS_DATABASE_URL")
    listen_address: str = Field(default="127.0.0.1:50055", validation_alias="CRM_ANALYTICS_LISTEN_ADDRESS")
    profile_addr: str = Field(default="127.0.0.1:50051", validation_alias="PROFILE_ADDR")
    # Whether this process follows the profile change feed (one follower; many API replicas).
    run_follower: bool = Field(default=True, validation_alias="CRM_ANALYTICS_FOLLOWER")
    feed_batch: int = Field(default=500, ge=1, le=1000, validation_alias="CRM_ANALYTICS_FEED_BATCH")
    feed_poll_seconds: float = Field(default=0.2, gt=0, validation_alias="CRM_ANALYTICS_FEED_POLL_SECONDS")

    def resolved_database_url(self) -> str:
        """The database URL in force (SQLite under data_dir when none is configured)."""
        if self.database_url:
            return self.database_url
        if self.mode == "production":
            raise ValueError("CRM_ANALYTICS_DATABASE_URL is required in production mode")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir.resolve() / 'analytics.db'}"
