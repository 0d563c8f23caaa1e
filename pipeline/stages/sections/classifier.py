"""A small sentence classifier: how much a sentence reads like a need, or like an ask for more sessions.

Trained once per process, at start-up, from the labelled sentences under ``rules/`` (see
``rules/sections-training/README.md`` for who wrote them and how): one logistic regression per label
on word 1-2-grams and character 2-5-grams of the sentence's canonical form
(:func:`~pipeline.stages.sections.normalize.canonical`). Both labels are trained on the same
sentences, so the n-gram features (fitted without the labels) are fitted once and computed once
per letter for both regressions. Fixed solver (liblinear), fixed seed, no
shuffling: two processes trained on the same files give the same coefficients and the same scores.
Nothing is downloaded and nothing is written; the scores are probabilities in [0, 1].

It is one witness among several: the section checks combine it with the phrase rules and with
what the parse says about each clause (who asks, for whom, negated or not), see ``decide.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from pipeline.rules import RulesError
from pipeline.stages.sections.normalize import canonical

LABELS = ("needs", "recommendation")


@dataclass(frozen=True)
class SentenceClassifier:
    features: FeatureUnion
    models: dict[str, LogisticRegression]
    digest: str  # sha256 of the training rows, to tell two trainings apart

    def scores(self, sentences: Sequence[str]) -> dict[str, list[float]]:
        """Per label, the probability of each sentence (rounded, so platforms agree to the digit)."""
        if not sentences:
            return {label: [] for label in self.models}
        matrix = features_of(self.features, [canonical(s) for s in sentences])
        return {
            label: [round(float(p), 6) for p in model.predict_proba(matrix)[:, 1]]
            for label, model in self.models.items()
        }


def features_of(union: FeatureUnion, texts: list[str]) -> sparse.csr_matrix:
    """``union.transform(texts)`` without its joblib round trip, which cost as much as the n-grams:
    each vectorizer's matrix side by side, as the union stacks them (its vectorizers are sparse and
    unweighted; see :func:`_features`)."""
    return sparse.hstack([vectorizer.transform(texts) for _name, vectorizer in union.transformer_list]).tocsr()


def _features() -> FeatureUnion:
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w[\w']*\b")),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )


def _regression(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", class_weight="balanced", random_state=0)


def read_rows(path: Path) -> list[dict[str, object]]:
    """The labelled sentences of one JSONL file: ``text`` plus a boolean per label."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise RulesError(f"{path}: file not found") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RulesError(f"{path}: line {number}: not JSON") from exc
        if not isinstance(row.get("text"), str) or not all(isinstance(row.get(k), bool) for k in LABELS):
            raise RulesError(f"{path}: line {number}: needs 'text' and boolean {', '.join(LABELS)}")
        rows.append(row)
    return rows


@lru_cache(maxsize=4)
def _train(rows_json: str, c: float) -> SentenceClassifier:
    rows = json.loads(rows_json)
    features = _features()
    matrix = features.fit_transform([canonical(r["text"]) for r in rows])
    models = {}
    for label in LABELS:
        labels = np.array([bool(r[label]) for r in rows])
        if labels.all() or not labels.any():
            raise RulesError(f"sentence classifier: the training sentences need both values of '{label}'")
        models[label] = _regression(c).fit(matrix, labels)
    return SentenceClassifier(features=features, models=models, digest=hashlib.sha256(rows_json.encode()).hexdigest())


def train(paths: Sequence[Path], *, c: float) -> SentenceClassifier:
    """Train on every labelled sentence of ``paths`` (once per process for the same rows)."""
    rows = [{"text": r["text"], **{k: r[k] for k in LABELS}} for path in paths for r in read_rows(path)]
    return _train(json.dumps(rows, sort_keys=True), c)
