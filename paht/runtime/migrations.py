"""Alembic, one migration history per service, run as its own step (`paht migrate`), never on a request."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import MetaData

from paht.runtime import db
from paht.runtime.settings import Settings


def alembic_config(migrations: Path, settings: Settings, service: str, metadata: MetaData) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("sqlalchemy.url", db.url_for(settings, service).replace("%", "%%"))
    cfg.attributes["settings"] = settings
    cfg.attributes["service"] = service
    cfg.attributes["metadata"] = metadata
    return cfg


def _with_alembic(migrations: Path, settings: Settings, service: str, metadata: MetaData, run) -> None:
    """Run an Alembic command on the service's schema (created if missing), in one transaction."""
    engine = db.make_engine(settings, service)
    try:
        db.ensure_schema(engine, db.schema_for(settings, service))
        cfg = alembic_config(migrations, settings, service, metadata)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            run(cfg)
    finally:
        engine.dispose()


def upgrade(migrations: Path, settings: Settings, service: str, metadata: MetaData, revision: str = "head") -> None:
    _with_alembic(migrations, settings, service, metadata, lambda cfg: command.upgrade(cfg, revision))


def revision(migrations: Path, settings: Settings, service: str, metadata: MetaData, message: str) -> None:
    """Autogenerate a new revision by comparing the models with an up-to-date database (developers)."""
    _with_alembic(migrations, settings, service, metadata, lambda cfg: command.revision(cfg, message=message, autogenerate=True))


def run_env(context: EnvironmentContext) -> None:
    """Body of every service's env.py: migrate on the connection `upgrade` hands over."""
    cfg = context.config
    settings: Settings = cfg.attributes["settings"]
    service: str = cfg.attributes["service"]
    schema = db.schema_for(settings, service)
    connection = cfg.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=cfg.attributes["metadata"],
        version_table="alembic_version",
        version_table_schema=schema,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
