"""Profile service settings."""

from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import Field

from services.common.keys import KeySettings
from services.profile import keyring


class ProfileSettings(KeySettings):
    """Configuration of the profile service, from CRM_* environment variables."""

    # SQLAlchemy URL; embedded mode defaults to a SQLite file in data_dir.
    database_url: str = Field(default="", validation_alias="CRM_PROFILE_DATABASE_URL")
    # The key store of customers' wrapped data keys: a database apart from the archive, with its
    # own (short) backup retention. Embedded mode: a private SQLite file beside the key file.
    keystore_url: str = Field(default="", validation_alias="CRM_PROFILE_KEYSTORE_URL")
    # Churned customers' personal data is erased this many days after they churned; 0: never.
    retention_churned_days: int = Field(default=0, ge=0, validation_alias="CRM_RETENTION_CHURNED_DAYS")
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

    def resolved_keystore_url(self) -> str:
        """The key store URL in force (a private SQLite file when none is configured)."""
        if not self.keystore_url and self.mode == "production":
            raise ValueError("CRM_PROFILE_KEYSTORE_URL is required in production mode")
        return keyring.keystore_url(self.keystore_url, self.data_dir)

    def resolved_database_url(self) -> str:
        """The database URL in force (SQLite under data_dir when none is configured)."""
        if self.database_url:
            return self.database_url
        if self.mode == "production":
            raise ValueError("CRM_PROFILE_DATABASE_URL is required in production mode")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir.resolve() / 'profile.db'}"
