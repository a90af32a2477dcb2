"""Alembic migrations of the allocation service's database (run by :func:`bitframe.service.db.migrate`)."""
