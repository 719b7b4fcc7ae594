"""Profile service settings."""

from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import Field

from services.common.settings import ServiceSettings


class ProfileSettings(ServiceSettings):
    """Configuration of the profile service, from CRM_* environment variables."""

    # SQLAlchemy URL; embedded mode defaults to a SQLite file in data_dir.
    database_url: str = Field(default="", validation_alias="CRM_PROFILE_DATABASE_URL")
    listen_address: str = Field(default="127.0.0.1:50051", validation_alias="CRM_PROFILE_LISTEN_ADDRESS")
    # Time zone of the business day used in customer IDs.
    business_timezone: str = Field(default="Asia/Shanghai", validation_alias="CRM_BUSINESS_TIMEZONE")
    # Tier thresholds over the last 12 months' order amount, in CNY.
    tier_a_threshold: Decimal = Field(default=Decimal(500_000), validation_alias="CRM_TIER_A_THRESHOLD")
    tier_b_threshold: Decimal = Field(default=Decimal(100_000), validation_alias="CRM_TIER_B_THRESHOLD")

    @property
    def tz(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.business_timezone)

    def resolved_database_url(self) -> str:
        """The database URL in force (SQLite under data_dir when none is configured)."""
        if self.database_url:
            return self.database_url
        if self.mode == "production":
            raise ValueError("CRM_PROFILE_DATABASE_URL is required in production mode")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir.resolve() / 'profile.db'}"
