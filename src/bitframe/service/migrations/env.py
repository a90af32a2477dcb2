"""Alembic environment: run migrations on the connection :func:`bitframe.service.db.migrate` passes in.

Also usable from the ``alembic`` command (``sqlalchemy.url`` in an ini file) for
developers writing a new revision (``alembic revision --autogenerate``).
"""

from __future__ import annotations

from alembic import context

from bitframe.service.db import make_engine, metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("set sqlalchemy.url in the alembic ini file, or migrate through bitframe.service.db.migrate")
    engine = make_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
