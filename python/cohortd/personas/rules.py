"""Persona → cohort: a shallow decision tree printed in the cohort language, scored by the engine.

A ``DecisionTreeClassifier`` (depth <= ``MAX_DEPTH``, seeded) learns "in
cluster c or not" from the raw features (event counts in the window, 0/1
user-property columns; at most ``TREE_ROWS`` seeded rows).  Each path to a
leaf that predicts the cluster becomes a conjunction; a subtree whose leaves
all agree counts as one leaf.  On one path the tests of one event type
combine into one count condition (counts are integers, so ``x <= 2.5`` is
``<= 2``)::

    [n, inf) -> did("E") >= n in last W      (n = 1: did("E") in last W)
    [0, m]   -> did("E") <= m in last W      (m = 0: not did("E") in last W)
    [n, m]   -> did("E") between n and m in last W

and a property column ``user.p == v`` is tested as ``user.p == "v"`` or
``not user.p == "v"``.  The paths are joined by ``or``.  Because the rule
must select the same population the clustering saw, it is prefixed with
``in_cohort("P")`` when the population is a saved cohort, and with
``did(any) in last W`` unless every path already requires an event.

The text is parsed back by the real parser (it must give the same tree) and
evaluated by the real engine; precision, recall and F1 compare the members
with the cluster's users.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pyroaring import BitMap
from sklearn.tree import DecisionTreeClassifier

from cohortd.lang import ast as A
from cohortd.lang import parse, to_text
from cohortd.personas.features import Features
from cohortd.personas.report import Rule

MAX_DEPTH = 3
TREE_ROWS = 200_000

Test = tuple[int, bool, float]  # (feature, goes right (x > threshold), threshold)


def fit_paths(features: Features, labels: np.ndarray, cluster: int, seed: int) -> list[list[Test]]:
    """Paths (lists of tests) to the leaves of the tree that predict ``cluster``."""
    x = features.raw
    y = labels == cluster
    if x.shape[0] > TREE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(x.shape[0], TREE_ROWS, replace=False))
        x, y = x[rows], y[rows]
    clf = DecisionTreeClassifier(max_depth=MAX_DEPTH, random_state=seed).fit(x, y)
    tree, classes = clf.tree_, clf.classes_

    def predicts(node: int) -> bool:
        return bool(classes[int(np.argmax(tree.value[node][0]))])

    def walk(node: int, path: list[Test]) -> tuple[bool | None, list[list[Test]]]:
        """(all leaves agree on this value, else None; positive paths)."""
        left, right = tree.children_left[node], tree.children_right[node]
        if left == -1:
            yes = predicts(node)
            return yes, [path] if yes else []
        f, t = int(tree.feature[node]), float(tree.threshold[node])
        l_all, l_paths = walk(left, [*path, (f, False, t)])
        r_all, r_paths = walk(right, [*path, (f, True, t)])
        if l_all is not None and l_all == r_all:
            return l_all, [path] if l_all else []
        return None, l_paths + r_paths

    return walk(0, [])[1]


def rule_expr(
    paths: list[list[Test]], features: Features, window: A.Duration, population_cohort: str | None
) -> A.Expr | None:
    """The cohort tree of the positive paths (module docstring); None when no path predicts it."""
    if not paths:
        return None
    n_events = len(features.event_types)
    terms: list[A.Expr] = []
    every_path_needs_events = True
    for path in paths:
        bounds: dict[int, list[float]] = {}
        conds: list[A.Expr] = []
        for f, right, t in path:
            if f >= n_events:
                col = features.property_columns[f - n_events]
                cond: A.Expr = A.UserProp(A.PropCmp(col.prop, "==", col.value))
                conds.append(cond if right else A.Not(cond))
                continue
            lo, hi = bounds.setdefault(f, [0, math.inf])
            bound = math.floor(t)
            bounds[f] = [max(lo, bound + 1), hi] if right else [lo, min(hi, bound)]
        needs_event = False
        for f in sorted(bounds, key=lambda j: features.event_types[j]):
            lo, hi = bounds[f]
            needs_event |= lo >= 1
            conds.append(_count(features.event_types[f], int(lo), hi, window))
        every_path_needs_events &= needs_event
        terms.append(_join(A.And, conds) if conds else A.Did(A.EventRef(None), None, A.Last(window)))
    expr = _join(A.Or, terms)
    if not every_path_needs_events:
        expr = A.And(A.Did(A.EventRef(None), None, A.Last(window)), expr)
    if population_cohort is not None:
        expr = A.And(A.InCohort(population_cohort), expr)
    return expr


def _count(event_type: str, lo: int, hi: float, window: A.Duration) -> A.Expr:
    ref, last = A.EventRef(event_type), A.Last(window)
    if math.isinf(hi):
        return A.Did(ref, None if lo == 1 else A.Compare(">=", lo), last)
    top = int(hi)
    if lo == 0:
        return A.Not(A.Did(ref, None, last)) if top == 0 else A.Did(ref, A.Compare("<=", top), last)
    if lo == top:
        return A.Did(ref, A.Compare("==", lo), last)
    return A.Did(ref, A.Range(lo, top), last)


def _join(op: type[A.And] | type[A.Or], items: list[A.Expr]) -> A.Expr:
    expr = items[0]
    for item in items[1:]:
        expr = op(expr, item)
    return expr


def score(expr: A.Expr, members: BitMap, evaluate: Callable[[str], BitMap]) -> Rule:
    """Print, parse back and evaluate the rule; precision, recall and F1 against ``members``."""
    text = to_text(expr)
    if parse(text) != expr:  # the printer and parser disagree: a bug, never a silent wrong rule
        raise AssertionError(f"rule does not round-trip through the parser: {text}")
    got = evaluate(text)
    hit = got.intersection_cardinality(members)
    precision = hit / len(got) if got else 0.0
    recall = hit / len(members) if members else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Rule(definition=text, size=len(got), precision=precision, recall=recall, f1=f1)
