from alembic import context

from paht.runtime.migrations import run_env

run_env(context)
