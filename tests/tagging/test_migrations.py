"""The tagging migrations build exactly the tables the models describe, on both databases."""

from alembic import command

from services.tagging import migrate


def test_models_and_migrations_agree(tagging_url: str) -> None:
    command.check(migrate.config(tagging_url))  # raises when autogenerate would find a change
