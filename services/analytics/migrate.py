"""Alembic migrations of the analytics database, run programmatically."""

from pathlib import Path

from alembic import command
from alembic.config import Config


def config(url: str) -> Config:
    """An Alembic config pointing at this service's migrations and a database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the database schema to the latest revision."""
    command.upgrade(config(url), "head")
