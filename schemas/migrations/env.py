"""Alembic environment: runs on the connection the hub hands over (``hub.db.upgrade``),
or on ``HUB_DATABASE_URL`` when started from the ``alembic`` command line."""

from alembic import context

import schemas

config = context.config
target_metadata = schemas.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from hub.db import make_engine
        from hub.settings import HubSettings

        engine = make_engine(HubSettings().db_url)
        with engine.begin() as connection:
            context.configure(connection=connection, target_metadata=target_metadata,
                              render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
