import sys

from shared.cli import main
from services.intake.app import make_runtime
from services.intake.cli import COMMANDS
from services.intake.worker import build_worker

# gevent: a request waits for its group commit (services/intake/batching.py) in a greenlet, not
# in an OS thread contending for the interpreter lock; on 2 CPUs this served 35–40% more
# reports per second than gthread 3 × 12 (`python -m services.intake bench --worker-class ...`).
sys.exit(main("intake", runtime_factory=make_runtime, app_spec="services.intake.app:create_app()",
              build_worker=build_worker, extra_commands=COMMANDS, web_worker_class="gevent"))
