"""Alembic environment: the engine comes from ``pipeline.store.migrate`` (or the URL option)."""

from alembic import context
from sqlmodel import SQLModel

import pipeline.store  # noqa: F401  (registers the tables on SQLModel.metadata)
from pipeline.store import make_engine

config = context.config
engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
