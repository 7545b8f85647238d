"""Lint on a cluster: the warnings one process gives, from every shard's data (not a sample).

The lint rules (``engine/lint.py``) run in the router over a merged
:class:`~cohortd.engine.schema.Vocabulary`: every shard sends its event types
(rows, time bounds, property value counts) and its user property values, with
string values as text; the router gives the strings its own codes and adds
the figures (``TypeStats.merged``).  A shard sends its part only when its data
version moved since the router last read it.

The overlap rule (``overlaps-cohort``) adds, over the shards, the size of the
definition's members and, per saved cohort, its size and the intersection;
Jaccard from the sums is the one-process score.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from pyroaring import BitMap

from cohortd.cluster.face import ProjectFace
from cohortd.engine.lint import lint, overlap_warnings
from cohortd.engine.schema import PropertyStats, TypeStats, Vocabulary
from cohortd.types import LintWarning

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["ClusterLint", "shard_lint_counts", "shard_vocabulary"]

ShardVocabulary = tuple[
    int, dict[str, TypeStats], dict[str, str], dict[str, str], int | None, dict[str, list[str]]
]
"""(data version, types with string values as text, event schema, user schema, latest event, user strings)."""


def shard_vocabulary(p: Project, known_version: int | None) -> ShardVocabulary | None:
    """A shard's vocabulary with string values decoded; None when its data version is ``known_version``."""
    store = p.engine.store
    version = int(store.version)
    if version == known_version:
        return None
    vocab = p.know.vocabulary()

    def text(codes: np.ndarray) -> np.ndarray:
        return np.array(store.values.decode(codes.astype(np.uint32)).to_pylist(), dtype=object)

    types = {}
    for name, st in vocab.types.items():
        props = {
            prop: PropertyStats(ps.present, text(ps.values), ps.counts)
            if vocab.event_props.get(prop) == "string"
            else ps
            for prop, ps in st.props.items()
        }
        types[name] = TypeStats(st.events, st.first_seen, st.last_seen, BitMap(), props)
    strings = {}
    for prop in vocab.user_props:
        codes = vocab.user_values(prop)  # current and past values (None unless a string property)
        if codes is not None:
            strings[prop] = text(codes).tolist()
    return version, types, vocab.event_props, vocab.user_props, vocab.latest_event_ms, strings


def shard_lint_counts(
    p: Project, name: str | None, definition: Any, ms: int, thresholds: Any, percentiles: list[str]
) -> tuple[int, dict[str, tuple[int, int]]]:
    """(members of the definition here, per other live saved cohort: (its size, the intersection)).

    ``thresholds`` are the router's global ``q`` of every percentile involved; the saved cohorts
    named in ``percentiles`` are evaluated with them (their maintained members use this shard's q).
    """
    expr = p.engine.definition(definition)
    p.registry.check_refs(expr, name)
    resolve = p.registry.resolve
    members = p.engine.evaluate(expr, as_of=ms, resolve=resolve, top_thresholds=thresholds).bitmap
    others = {}
    for other in p.registry.live_names():
        if other == name:
            continue
        if other in percentiles:
            saved = p.registry.expr(other)
            bitmap = p.engine.evaluate(saved, as_of=ms, resolve=resolve, top_thresholds=thresholds).bitmap
        else:
            bitmap = p._evaluate_saved(other, viewed=False).bitmap
        others[other] = (len(bitmap), members.intersection_cardinality(bitmap))
    return len(members), others


class _Strings:
    """The router's codes of string values (the ``values`` a ``Vocabulary`` decodes with)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.codes: dict[str, int] = {}

    def encode(self, texts: Any) -> np.ndarray:
        out = np.empty(len(texts), np.uint32)
        for i, t in enumerate(texts):
            code = self.codes.get(t)
            if code is None:
                code = self.codes[t] = len(self.texts)
                self.texts.append(t)
            out[i] = code
        return out

    def get(self, text: str) -> int | None:
        return self.codes.get(text)

    def value(self, code: int) -> str:
        return self.texts[int(code)]


class _UserValues:
    """The ``index`` a ``Vocabulary`` reads string user property values from."""

    def __init__(self, stats: dict[str, tuple[int, np.ndarray, np.ndarray]]) -> None:
        self.stats = stats

    def user_stats(self) -> dict[str, tuple[int, np.ndarray, np.ndarray]]:
        return self.stats

    def past_user_values(self, prop: str) -> None:
        """None: each shard's strings already hold the values its users had before."""
        return None


def merge_vocabularies(parts: list[ShardVocabulary]) -> Vocabulary:
    """One vocabulary of every shard's data: figures add, string values coded by the router."""
    strings = _Strings()
    types: dict[str, TypeStats] = {}
    event_props: dict[str, str] = {}
    user_props: dict[str, str] = {}
    user_codes: dict[str, list[np.ndarray]] = {}
    for _, shard_types, shard_events, shard_users, _, shard_strings in parts:
        event_props.update(shard_events)
        user_props.update(shard_users)
        for name, st in shard_types.items():
            props = {}
            for prop, ps in st.props.items():
                if ps.values.dtype == object:  # string values: the router's codes, sorted
                    codes = strings.encode(ps.values)
                    order = np.argsort(codes)
                    ps = PropertyStats(ps.present, codes[order], ps.counts[order])
                props[prop] = ps
            recoded = TypeStats(st.events, st.first_seen, st.last_seen, BitMap(), props)
            types[name] = types[name].merged(recoded) if name in types else recoded
        for prop, texts in shard_strings.items():
            user_codes.setdefault(prop, []).append(strings.encode(texts))
    users = {}
    for prop, shard_codes in user_codes.items():
        values, counts = np.unique(np.concatenate(shard_codes), return_counts=True)
        users[prop] = (0, values, counts)
    latest = max((p[4] for p in parts if p[4] is not None), default=None)
    return Vocabulary(types, event_props, user_props, latest, strings, _UserValues(users))


class ClusterLint(ProjectFace):
    """The lint of a cluster project (mixed into ``ClusterProject``); the vocabulary is cached."""

    _vocab_lock: threading.Lock
    _vocab_parts: dict[int, ShardVocabulary]
    _vocab: tuple[tuple[tuple[int, int], ...], Vocabulary] | None

    def _init_lint(self) -> None:
        self._vocab_lock = threading.Lock()
        self._vocab_parts = {}
        self._vocab = None

    def vocabulary(self) -> Vocabulary:
        """Every shard's vocabulary merged; only shards whose data moved send theirs again."""
        with self._vocab_lock:
            work = {
                s: (self.name, self._vocab_parts[s][0] if s in self._vocab_parts else None)
                for s in range(self.shards.count)
            }
            # warnings are advisory: a shard that is down counts with the part last read from it
            for s, part in self.shards.call("vocabulary", work, partial=True).items():
                if part is not None:
                    self._vocab_parts[s] = part
            have = [s for s in range(self.shards.count) if s in self._vocab_parts]
            key = tuple((s, self._vocab_parts[s][0]) for s in have)
            if self._vocab is None or self._vocab[0] != key:
                self._vocab = (key, merge_vocabularies([self._vocab_parts[s] for s in have]))
            return self._vocab[1]

    def warnings(self, name: str | None = None, definition: Any = None) -> list[LintWarning]:
        """The lint an evaluate or explain answer carries, against every shard's data."""
        from cohortd.lang import as_expr

        self._check_target(name, definition)
        expr = self._resolve(name) if name is not None else as_expr(definition)
        assert expr is not None
        return lint(expr, vocabulary=self.vocabulary())

    def lint(self, definition: Any, name: str | None = None) -> list[LintWarning]:
        """Validate on every shard and lint as one process does: data rules and the overlap rule."""
        from cohortd.lang import as_expr

        live = [r.name for r in self.catalog.list(False) if r.name != name]
        percentiles = [c for c in live if self._tops(c, None)]
        ms, thresholds = self._plan([None, *percentiles], definition, self._clock(), False)
        counts = self.shards.all("lint_counts", self.name, name, definition, ms, thresholds, percentiles)
        size = sum(c[0] for c in counts.values())
        inter: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for _, others in counts.values():
            for other, (n, both) in others.items():
                sizes[other] = sizes.get(other, 0) + n
                inter[other] = inter.get(other, 0) + both
        scores = {}
        for other in sizes:
            union = size + sizes[other] - inter[other]
            scores[other] = inter[other] / union if union else 0.0
        return lint(as_expr(definition), name, vocabulary=self.vocabulary()) + overlap_warnings(scores)
