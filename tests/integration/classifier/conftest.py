import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shipped_dir():
    from services.classifier.inference import MODELS_ROOT, current_model_dir

    d = current_model_dir(MODELS_ROOT)
    if not (d / "config.json").is_file():
        pytest.skip(f"no shipped classifier at {d}")
    return d


@pytest.fixture(scope="session")
def shipped(shipped_dir):
    from services.classifier.inference import AbuseClassifier, read_metadata

    meta = read_metadata(shipped_dir)
    return AbuseClassifier(shipped_dir, quantize=meta.get("quantize", True))
