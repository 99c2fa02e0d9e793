from shared.alembic_env import run
from services.decision.models import Base

run(Base.metadata)
