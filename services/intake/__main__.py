import sys

from shared.cli import main
from services.intake.app import make_runtime
from services.intake.bench import COMMANDS
from services.intake.worker import build_worker

sys.exit(main("intake", runtime_factory=make_runtime, app_spec="services.intake.app:create_app()",
              build_worker=build_worker, extra_commands=COMMANDS))
