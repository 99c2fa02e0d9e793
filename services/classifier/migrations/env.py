from shared.alembic_env import run
from services.classifier.models import Base

run(Base.metadata)
