"""Alembic environment of the analytics service (online mode only)."""

from alembic import context
from sqlalchemy import create_engine

from services.analytics.models import AnalyticsBase

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=AnalyticsBase.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
