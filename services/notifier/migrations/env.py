from shared.alembic_env import run
from services.notifier.models import Base

run(Base.metadata)
