"""Every service's migrations build exactly the schema its models describe, on this test database."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import re

from sqlalchemy import text

from paht.runtime import db, migrations
from paht.runtime.registry import spec_of
from paht.runtime.settings import SERVICES

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_models_and_run_twice(settings, service):
    spec = spec_of(service)
    migrations.upgrade(spec.migrations, settings, service, spec.metadata)
    migrations.upgrade(spec.migrations, settings, service, spec.metadata)  # idempotent: already at head
    engine = db.make_engine(settings, service)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [d for d in compare_metadata(context, spec.metadata) if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
        assert diff == [], f"{service}: models and migrations differ: {diff}"
        assert db.ping(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_partial_indexes_keep_the_models_conditions(settings, service):
    """Alembic compares no index's WHERE: a partial index whose model condition changed (a status added to the
    waiting or in-hand ones) would keep its old condition, and the planner would stop using it without a word. Each
    partial index in the database names the same values as its model's condition."""
    spec = spec_of(service)
    migrations.upgrade(spec.migrations, settings, service, spec.metadata)
    engine = db.make_engine(settings, service)
    try:
        partial = [(index, index.dialect_options[engine.dialect.name]["where"]) for table in spec.metadata.tables.values()
                   for index in table.indexes if index.dialect_options[engine.dialect.name]["where"] is not None]
        with engine.connect() as conn:
            for index, where in partial:
                model = str(where.compile(engine, compile_kwargs={"literal_binds": True}))
                if engine.dialect.name == "postgresql":
                    stored = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :n"),
                                          {"n": index.name}).scalar_one()
                else:
                    stored = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                                          {"n": index.name}).scalar_one()
                condition = stored[stored.upper().index(" WHERE "):]
                assert sorted(re.findall(r"'([^']*)'", condition)) == sorted(re.findall(r"'([^']*)'", model)), (
                    f"{service}: {index.name} holds {condition!r}, its model says {model!r}: a migration must recreate it")
    finally:
        engine.dispose()
