"""Property tests: every tree prints to text that parses back to the same tree.

Trees are compared by ``repr`` as well as ``==`` because dataclass equality
treats ``True == 1`` and ``5 == 5.0`` as equal, and the printer must not
turn a bool into an int or an int into a float.
"""

from __future__ import annotations

from cohortd.lang import ast as A
from cohortd.lang import parse, to_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.strategies import event_refs, exprs, filters, windows

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VOCAB = dict(
    event_types=["Feature Used", "Session Start", 'Quote " and \\ slash'],
    props={"feature_area": "string", "amount": "float", "seats": "int", "trial": "bool", "count": "int"},
    string_values=["dashboard", "billing", "", 'with "quotes"'],
    user_props={"plan": "string", "projects_created": "int", "not": "bool"},
    cohort_names=["power users", "churn\\risk"],
)


def _assert_round_trip(tree: A.Expr) -> None:
    text = to_text(tree)
    back = parse(text)
    assert back == tree, text
    assert repr(back) == repr(tree), text
    assert to_text(back) == text


@SETTINGS
@given(exprs(cohort_names=None))
def test_round_trip_arbitrary_names(tree: A.Expr) -> None:
    _assert_round_trip(tree)


@SETTINGS
@given(exprs(**VOCAB))
def test_round_trip_fixed_vocabulary(tree: A.Expr) -> None:
    _assert_round_trip(tree)


@SETTINGS
@given(exprs(cohort_names=None, max_depth=0))
def test_single_conditions_round_trip(tree: A.Expr) -> None:
    _assert_round_trip(tree)


@SETTINGS
@given(windows(), event_refs())
def test_every_window_round_trips(window: A.Window, ev: A.EventRef) -> None:
    _assert_round_trip(A.Did(ev, None, window))


@SETTINGS
@given(filters(max_depth=3))
def test_deep_filters_round_trip(f: A.Filter) -> None:
    _assert_round_trip(A.Did(A.EventRef("E", f)))


@SETTINGS
@given(exprs(cohort_names=None, max_depth=2), st.sampled_from([str.upper, str.title, str.lower]))
def test_keyword_case_and_layout_do_not_matter(tree: A.Expr, recase) -> None:
    """Re-spell the canonical text: other keyword case, newlines, comments; same tree."""
    text = to_text(tree)
    respelled = _respell(text, recase)
    assert parse(respelled) == tree, respelled


def _respell(text: str, recase) -> str:
    """Recase bare words and put a comment + newline after every space outside strings."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            # the printer quotes keyword-spelled names, so a bare keyword is always a keyword
            out.append(recase(word) if word.lower() in _KEYWORDS else word)
            i = j
        elif c == " ":
            out.append("  # comment\n\t")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


_KEYWORDS = {
    "and", "or", "not", "in", "where", "any", "did", "first", "nth", "top", "by", "count", "sum", "avg",
    "min", "max", "distinct", "active_days", "active_periods", "sequence", "within", "user", "in_cohort",
    "last", "between", "ago", "since", "ever", "exists", "contains", "true", "false",
}  # fmt: skip
