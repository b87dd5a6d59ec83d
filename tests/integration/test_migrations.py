"""Every service's migrations build exactly the schema its models describe, on this test database."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

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
