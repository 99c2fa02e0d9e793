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
def tiny_model_dir(tmp_path_factory):
    from tools.tiny_model import build_tiny_random_model

    return build_tiny_random_model(tmp_path_factory.mktemp("tiny_classifier"))


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir):
    from services.classifier.inference import AbuseClassifier

    return AbuseClassifier(tiny_model_dir)
