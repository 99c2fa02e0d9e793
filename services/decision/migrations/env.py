from shared.alembic_env import run
from services.decision.models import Base
import services.decision.audit.models  # noqa: F401  (the audit tables live on the same Base)
import services.decision.casework  # noqa: F401  (reason templates, notes, saved filters, settings)

run(Base.metadata)
