"""Alembic environment of the tagging service (online mode only)."""

from alembic import context
from sqlalchemy import create_engine

from services.tagging.models import TaggingBase

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=TaggingBase.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
