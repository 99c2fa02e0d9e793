import sys

from shared.cli import main
from services.notifier.app import make_runtime
from services.notifier.cli import COMMANDS
from services.notifier.worker import build_worker

sys.exit(main("notifier", runtime_factory=make_runtime, app_spec="services.notifier.app:create_app()",
              build_worker=build_worker, extra_commands=COMMANDS))
