import sys

from shared.cli import main
from services.decision.app import make_runtime
from services.decision.cli import COMMANDS
from services.decision.worker import build_worker

sys.exit(main("decision", runtime_factory=make_runtime, app_spec="services.decision.app:create_app()",
              build_worker=build_worker, extra_commands=COMMANDS))
