from shared.alembic_env import run
from services.decision.models import Base
import services.decision.audit.models  # noqa: F401  (the audit tables live on the same Base)

run(Base.metadata)
