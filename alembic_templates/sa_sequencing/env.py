"""Alembic environment for a project that numbers documents with sa_sequencing."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy import engine_from_config
from sqlalchemy import pool

from sa_sequencing import Sequencing
from sa_sequencing.alembic import check_version_locations
from sa_sequencing.alembic import keep_new_revisions_in_project
from sa_sequencing.alembic import table_prefix

# The Alembic Config object: the values of alembic.ini.
config = context.config

# Set up Python logging from alembic.ini.
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

# Fail loudly if path_separator cut "sa_sequencing:migrations/versions" in two.
check_version_locations(config)

# New revisions and merges go to this project's versions directory, never into the
# installed sa_sequencing package, where the next install or deploy would lose them.
# alembic.ini sets revision_environment = true so that this runs for "alembic revision"
# and "alembic merge" too.
keep_new_revisions_in_project(context.script)

# -- Your models ---------------------------------------------------------------------
# Replace the default below with your own metadata, the one Sequencing(Base, ...) was
# called on, so that autogenerate sees your tables and the sequencing tables, e.g.:
#
#     from myapp.models import Base
#     target_metadata = Base.metadata
#
# The default knows the sequencing tables only, named with sa_sequencing.table_prefix
# from alembic.ini (which must equal the table_prefix given to Sequencing).
target_metadata: MetaData = Sequencing(MetaData(), table_prefix=table_prefix(config)).metadata

# -- Extra options ---------------------------------------------------------------------
# Keyword arguments added to context.configure() online and offline, e.g.
# {"version_table": "my_alembic_version", "render_as_batch": True}.
configure_options: dict[str, Any] = {}


def run_migrations_offline() -> None:
    """Run migrations in 'offline' mode: emit SQL to the script output."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **configure_options,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations in 'online' mode, on a connection to the database."""
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            **configure_options,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
