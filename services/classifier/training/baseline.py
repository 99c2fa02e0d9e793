"""TF-IDF character n-gram + logistic regression baseline (comparison only)."""
from __future__ import annotations

import numpy as np

from ..inference import LABELS
from .data import normalise


class TfidfBaseline:
    def __init__(self, seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=1,
                                   sublinear_tf=True, preprocessor=normalise)
        self.clf = LogisticRegression(C=10.0, max_iter=2000, random_state=seed)

    def fit(self, texts, labels):
        X = self.vec.fit_transform(texts)
        self.clf.fit(X, [LABELS.index(l) for l in labels])
        return self

    def predict_proba(self, texts) -> np.ndarray:
        p = self.clf.predict_proba(self.vec.transform(texts))
        out = np.zeros((len(texts), len(LABELS)))
        for j, cls in enumerate(self.clf.classes_):
            out[:, int(cls)] = p[:, j]
        return out
