"""A spaCy ``Matcher`` that tries only the patterns whose words the doc holds.

spaCy's ``Matcher`` tries every pattern at every token, so a letter pays for all ~70 phrase rules
when ten at most can match it. :class:`WordGatedMatcher` keeps each pattern in a ``Matcher`` of
its own with its *gate*: per token the pattern cannot do without (no ``OP``, or ``+``), the words
(lower-case form, lemma or spelling) that token must be, when the pattern says. A pattern runs on a
doc only if the doc holds one of those words for each such token. The patterns without a gate and
those that read a custom token attribute (``_``, computed for every token at each run of a
``Matcher`` that has one) share one ``Matcher``, run if one of them may match.

The matches are the full ``Matcher``'s: one per label and span (it de-duplicates the same way),
sorted by label, start and end; the callers read them as a set or sort them themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spacy.attrs import LEMMA, LOWER, ORTH
from spacy.matcher import Matcher
from spacy.strings import get_string_id
from spacy.tokens import Doc
from spacy.vocab import Vocab

_WORD_ATTRS = {"LOWER": LOWER, "LEMMA": LEMMA, "ORTH": ORTH}
_COLUMNS = (LOWER, LEMMA, ORTH)
# A gate: per token the pattern needs, (attribute, the words it may be); empty = always runs.
Gate = tuple[tuple[int, frozenset[int]], ...]


def gate_of(pattern: Sequence[dict[str, Any]]) -> Gate:
    """What a doc must hold for ``pattern`` to match in it."""
    needs: list[tuple[int, frozenset[int]]] = []
    for token in pattern:
        if token.get("OP", "+") != "+":
            continue  # may be absent ("?", "*", "!", "{0,2}")
        for key, value in token.items():
            attr = _WORD_ATTRS.get(key)
            if attr is None:
                continue
            if isinstance(value, str):
                needs.append((attr, frozenset({get_string_id(value)})))
                break
            words = value.get("IN") if isinstance(value, dict) and len(value) == 1 else None
            if isinstance(words, list) and all(isinstance(w, str) for w in words):
                needs.append((attr, frozenset(get_string_id(w) for w in words)))
                break
    return tuple(needs)


class WordGatedMatcher:
    """``Matcher(vocab, validate=True)`` for patterns added one by one, called on a ``Doc``."""

    def __init__(self, vocab: Vocab) -> None:
        self._vocab = vocab
        self._all = Matcher(vocab, validate=True)  # validates each pattern as it is added
        self._single: list[tuple[Gate, Matcher]] = []
        self._shared = Matcher(vocab)  # the patterns without a gate or reading a custom attribute
        self._shared_gates: list[Gate] = []

    def add(self, label: str, patterns: list[list[dict[str, Any]]]) -> None:
        self._all.add(label, patterns)
        for pattern in patterns:
            gate = gate_of(pattern)
            if not gate or any("_" in token for token in pattern):
                self._shared.add(label, [pattern])
                self._shared_gates.append(gate)
                continue
            own = Matcher(self._vocab)
            own.add(label, [pattern])
            self._single.append((gate, own))

    def __len__(self) -> int:
        return len(self._all)

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        if not len(doc):
            return []
        columns = doc.to_array(list(_COLUMNS))
        held = {attr: set(columns[:, i].tolist()) for i, attr in enumerate(_COLUMNS)}

        def opens(gate: Gate) -> bool:
            return all(not words.isdisjoint(held[attr]) for attr, words in gate)

        found: set[tuple[int, int, int]] = set()
        for gate, matcher in self._single:
            if opens(gate):
                found.update(matcher(doc))  # type: ignore[arg-type]
        if any(opens(gate) for gate in self._shared_gates):
            found.update(self._shared(doc))  # type: ignore[arg-type]
        return sorted(found)
