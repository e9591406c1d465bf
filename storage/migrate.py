"""Apply the Alembic migrations to a database: ``python -m storage.migrate``."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    # "heads": migrations written side by side on branches from the same parent all apply.
    command.upgrade(alembic_config(database_url), "heads")


async def upgrade_async(database_url: str) -> None:
    """Alembic's env runs its own event loop, so run it off the caller's loop."""
    await asyncio.to_thread(upgrade, database_url)


if __name__ == "__main__":
    upgrade(get_settings().database_url)
