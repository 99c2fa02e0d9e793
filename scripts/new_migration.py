"""Generate an Alembic revision for a service from its models (autogenerate).

    .venv/bin/python scripts/new_migration.py decision "add appeals"

Upgrades a scratch SQLite database to head, then writes the difference between the models
and that schema as a new revision in services/<service>/migrations/versions/.
"""
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    service, message = sys.argv[1], sys.argv[2]
    db = Path(tempfile.mkdtemp()) / "scratch.db"
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    cfg.attributes["db_url"] = f"sqlite:///{db}"
    heads = ScriptDirectory.from_config(cfg).get_heads()
    if len(heads) > 1:
        sys.exit(f"several heads {heads}: chain the newest revision after the other first")
    command.upgrade(cfg, "head")
    command.revision(cfg, message=message, autogenerate=True)


if __name__ == "__main__":
    main()
