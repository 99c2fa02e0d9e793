"""The gunicorn settings every service runs with."""
import gc
import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def test_a_worker_freezes_what_it_loaded_so_full_collections_skip_it():
    settings = runpy.run_path(str(CONF))
    assert gc.get_freeze_count() == 0
    collected_before = len(gc.get_objects())  # what a full collection walks
    try:
        settings["post_worker_init"](worker=None)
        assert gc.get_freeze_count() > collected_before // 2
        assert len(gc.get_objects()) < collected_before // 10
    finally:
        gc.unfreeze()
