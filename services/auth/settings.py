"""Auth service settings."""

from pydantic import Field

from services.common.settings import ServiceSettings

# Every access token names this audience; services accept no other.
AUDIENCE = "crm"


class AuthSettings(ServiceSettings):
    """Configuration of the auth service, from CRM_* environment variables."""

    # SQLAlchemy URL; embedded mode defaults to a SQLite file in data_dir.
    database_url: str = Field(default="", validation_alias="CRM_AUTH_DATABASE_URL")
    listen_address: str = Field(default="127.0.0.1:50053", validation_alias="CRM_AUTH_LISTEN_ADDRESS")
    # The `iss` claim of every token this service signs.
    issuer: str = Field(default="crm-auth", validation_alias="CRM_AUTH_ISSUER")
    access_token_ttl_seconds: int = Field(default=600, gt=0, validation_alias="CRM_AUTH_ACCESS_TOKEN_TTL")
    refresh_token_ttl_seconds: int = Field(
        default=12 * 3600, gt=0, validation_alias="CRM_AUTH_REFRESH_TOKEN_TTL"
    )
    # Lifetime of the single-purpose token of the first-login steps.
    setup_token_ttl_seconds: int = Field(default=600, gt=0, validation_alias="CRM_AUTH_SETUP_TOKEN_TTL")
    # Failed logins (a decaying score, see throttle.py) before attempts are delayed, the first
    # delay, its cap (delays double in between), and how fast failures are forgotten (one per
    # this many seconds). The threshold counts per account; per address it is source_threshold.
    lockout_threshold: int = Field(default=5, gt=0, validation_alias="CRM_AUTH_LOCKOUT_THRESHOLD")
    lockout_base_seconds: int = Field(default=60, gt=0, validation_alias="CRM_AUTH_LOCKOUT_BASE_SECONDS")
    lockout_max_seconds: int = Field(default=900, gt=0, validation_alias="CRM_AUTH_LOCKOUT_MAX_SECONDS")
    lockout_decay_seconds: float = Field(default=300, gt=0, validation_alias="CRM_AUTH_LOCKOUT_DECAY_SECONDS")
    source_threshold: int = Field(default=30, gt=0, validation_alias="CRM_AUTH_SOURCE_THRESHOLD")
    # An address a user completed a login from stays familiar this long (its own failure score).
    familiar_days: int = Field(default=30, gt=0, validation_alias="CRM_AUTH_FAMILIAR_DAYS")
    # Passwords hashed at once (each argon2id hash takes argon2_memory_kib and a core); a call
    # that cannot start hashing within argon2_wait_seconds is refused (RESOURCE_EXHAUSTED).
    argon2_concurrency: int = Field(default=2, ge=1, validation_alias="CRM_AUTH_ARGON2_CONCURRENCY")
    argon2_wait_seconds: float = Field(default=0.5, ge=0, validation_alias="CRM_AUTH_ARGON2_WAIT_SECONDS")
    # argon2id cost; hashes made with other parameters are upgraded at the next login.
    argon2_time_cost: int = Field(default=3, ge=1, validation_alias="CRM_AUTH_ARGON2_TIME_COST")
    argon2_memory_kib: int = Field(default=65536, ge=8, validation_alias="CRM_AUTH_ARGON2_MEMORY_KIB")
    argon2_parallelism: int = Field(default=4, ge=1, validation_alias="CRM_AUTH_ARGON2_PARALLELISM")
    # How long a rotated API client secret keeps working by default.
    client_secret_grace_seconds: int = Field(
        default=24 * 3600, ge=0, validation_alias="CRM_AUTH_CLIENT_SECRET_GRACE_SECONDS"
    )
    # Distinct customers shown to one person or partner within an hour (single reads, lists,
    # searches, segment reads) before a mass_viewing alert is raised (alerts.py).
    mass_viewing_threshold: int = Field(default=200, gt=0, validation_alias="CRM_AUTH_MASS_VIEWING_THRESHOLD")
    # Issuer name shown by authenticator apps.
    totp_issuer: str = Field(default="CRM", validation_alias="CRM_AUTH_TOTP_ISSUER")

    def resolved_database_url(self) -> str:
        """The database URL in force (SQLite under data_dir when none is configured)."""
        if self.database_url:
            return self.database_url
        if self.mode == "production":
            raise ValueError("CRM_AUTH_DATABASE_URL is required in production mode")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir.resolve() / 'auth.db'}"

    def token_lifetime_seconds(self) -> int:
        """The longest lifetime of any token signed here (how long retired keys stay published)."""
        return max(self.access_token_ttl_seconds, self.setup_token_ttl_seconds)
