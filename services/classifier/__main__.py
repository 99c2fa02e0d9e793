import sys

from shared.cli import main
from services.classifier.app import make_runtime
from services.classifier.worker import build_worker


def _extra_commands():
    try:
        from services.classifier.cli import COMMANDS
    except ImportError:
        return {}
    return COMMANDS


sys.exit(main("classifier", runtime_factory=make_runtime, app_spec="services.classifier.app:create_app()",
              build_worker=build_worker, extra_commands=_extra_commands()))
