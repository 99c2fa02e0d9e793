from shared.alembic_env import run
from services.decision import all_models

run(all_models.Base.metadata)
