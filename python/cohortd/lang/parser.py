"""Text → tree for the cohort language (grammar in docs/cohort-language.md).

Hand-written tokenizer and recursive-descent parser rather than a generator,
so every rejection names the exact line, column and what would have been
accepted there.  Validation of numbers (negative counts, zero durations,
empty windows) happens here too: a tree that comes out of ``parse`` is one the
engine can evaluate.  So do the size limits of ``lang/limits.py`` (conditions,
predicates, sequence steps, ``in`` values, nesting depth, text length): the
parser never recurses deeper than ``MAX_DEPTH`` and reports where a limit was
crossed.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeVar, overload

from cohortd.errors import ParseError
from cohortd.lang import ast as A
from cohortd.lang import limits as L
from cohortd.lang.shorthand import MAX_REGULAR_PERIODS
from cohortd.times import DAY_MS

__all__ = ["parse", "parse_instant", "parse_duration"]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MIN_MS = (date(1, 1, 1).toordinal() - _EPOCH_ORDINAL) * DAY_MS
_MAX_MS = (date(9999, 12, 31).toordinal() - _EPOCH_ORDINAL + 1) * DAY_MS - 1

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", re.ASCII)
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))?)?",
    re.ASCII,
)
_DIGITS = "0123456789"
_DIGITS_NONEMPTY = tuple(_DIGITS)
_OPS = ("==", "!=", "<=", ">=", "<", ">")
_PUNCT = "(),.%*:"
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_AGG_FUNCS = ("sum", "avg", "min", "max", "distinct")


# What a token's value is, by kind: IDENT (lower-cased word), STRING, OP and PUNCT -> str;
# INT and DATE (epoch ms) -> int; FLOAT -> float; DURATION -> Duration; EOF -> None.
TokenValue = str | int | float | A.Duration | None


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT STRING INT FLOAT DURATION DATE OP PUNCT EOF
    text: str  # source text (for messages)
    value: TokenValue
    line: int
    column: int

    # Typed views of ``value`` for a token whose kind the parser has already checked.
    @property
    def str_value(self) -> str:
        """The value of an IDENT, STRING, OP or PUNCT token."""
        assert isinstance(self.value, str), self.kind
        return self.value

    @property
    def int_value(self) -> int:
        """The value of an INT token, or a DATE token's epoch ms."""
        assert isinstance(self.value, int), self.kind
        return self.value

    @property
    def number_value(self) -> int | float:
        """The value of an INT or FLOAT token."""
        assert isinstance(self.value, int | float), self.kind
        return self.value

    @property
    def duration_value(self) -> A.Duration:
        """The value of a DURATION token."""
        assert isinstance(self.value, A.Duration), self.kind
        return self.value


def _accepts_zero(cmp: A.Comparison) -> bool:
    """Whether a count of 0 satisfies ``cmp`` (``< 3``, ``>= 0``, ``between 0 and 2``, ``!= 1``)."""
    if isinstance(cmp, A.Range):
        return cmp.lo <= 0 <= cmp.hi
    return {"==": 0 == cmp.value, "!=": 0 != cmp.value, "<": 0 < cmp.value, "<=": 0 <= cmp.value,
            ">": 0 > cmp.value, ">=": 0 >= cmp.value}[cmp.op]  # fmt: skip


def _describe(tok: Token) -> str:
    if tok.kind == "EOF":
        return "end of input"
    if tok.kind == "STRING":
        return f"string {tok.text}"
    return f"'{tok.text}'"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def error(self, message: str, pos: int, expected: str | None = None) -> ParseError:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return ParseError(message, line, column, expected)

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        text = self.text
        n = len(text)
        while True:
            # skip whitespace and comments
            while self.pos < n:
                c = text[self.pos]
                if c == "\n":
                    self.pos += 1
                    self.line += 1
                    self.line_start = self.pos
                elif c.isspace():
                    self.pos += 1
                elif c == "#":
                    end = text.find("\n", self.pos)
                    self.pos = n if end < 0 else end
                else:
                    break
            start = self.pos
            column = start - self.line_start + 1
            if start >= n:
                out.append(Token("EOF", "", None, self.line, column))
                return out
            kind, tok_text, value = self._one(start)
            out.append(Token(kind, tok_text, value, self.line, column))

    def _one(self, start: int) -> tuple[str, str, TokenValue]:
        text = self.text
        c = text[start]
        if c == '"':
            return self._string(start)
        if c in _DIGITS or (c == "-" and text[start + 1 : start + 2] in _DIGITS_NONEMPTY):
            m = _DATE.match(text, start)
            if m:
                self.pos = m.end()
                return "DATE", m.group(0), self._instant(m)
            return self._number(start)
        m = _IDENT.match(text, start)
        if m:
            self.pos = m.end()
            return "IDENT", m.group(0), m.group(0).lower()
        for op in _OPS:
            if text.startswith(op, start):
                self.pos = start + len(op)
                return "OP", op, op
        if c in _PUNCT:
            self.pos = start + 1
            return "PUNCT", c, c
        if c in "=!":
            raise self.error(f"unexpected '{c}'", start, "'==' or '!='")
        raise self.error(f"unexpected character {c!r}", start)

    def _string(self, start: int) -> tuple[str, str, TokenValue]:
        text = self.text
        i = start + 1
        parts: list[str] = []
        while True:
            if i >= len(text) or text[i] == "\n":
                raise self.error("unterminated string", start, "a closing '\"' on the same line")
            c = text[i]
            if c == '"':
                self.pos = i + 1
                return "STRING", text[start : i + 1], "".join(parts)
            if c == "\\":
                esc = text[i + 1] if i + 1 < len(text) else ""
                if esc not in _ESCAPES:
                    raise self.error("unknown escape in string", i, '\\" \\\\ \\n \\r or \\t')
                parts.append(_ESCAPES[esc])
                i += 2
            else:
                parts.append(c)
                i += 1

    def _number(self, start: int) -> tuple[str, str, TokenValue]:
        m = _NUMBER.match(self.text, start)
        assert m is not None  # caller saw a digit
        end = m.end()
        is_float = m.group(1) is not None or m.group(2) is not None
        unit_m = _IDENT.match(self.text, end)
        if unit_m:
            unit = unit_m.group(0)
            if unit not in A.MS_PER_UNIT:
                raise self.error(f"unknown duration unit '{unit}'", end, "one of ms, s, m, h, d, w")
            if is_float:
                raise self.error("a duration must be a whole number", start, "an integer before the unit")
            self.pos = unit_m.end()
            return "DURATION", self.text[start : self.pos], A.Duration(int(m.group(0)), unit)
        self.pos = end
        if is_float:
            value = float(m.group(0))
            if not math.isfinite(value):
                raise self.error("number out of range", start)
            return "FLOAT", m.group(0), value
        value = int(m.group(0))
        if abs(value) > sys.float_info.max:  # every comparison of a figure is in floats
            raise self.error("number out of range", start)
        return "INT", m.group(0), value

    def _instant(self, m: re.Match[str]) -> int:
        start = m.start()
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        try:
            ordinal = date(y, mo, d).toordinal()
        except ValueError:
            raise self.error(
                f"invalid date '{m.group(0)[:10]}'", start, "a calendar date YYYY-MM-DD"
            ) from None
        ms = (ordinal - _EPOCH_ORDINAL) * DAY_MS
        if m.group(4) is not None:
            hh, mm = int(m.group(4)), int(m.group(5))
            ss = int(m.group(6) or 0)
            frac = m.group(7) or ""
            if hh > 23 or mm > 59 or ss > 59:
                raise self.error(
                    f"invalid time in '{m.group(0)}'", start, "HH:MM:SS within 00:00:00-23:59:59"
                )
            if len(frac) > 3:
                raise self.error("instants have millisecond precision", start, "at most 3 fractional digits")
            if m.group(8) is None and m.group(9) is None:
                raise self.error("an instant needs a time zone", m.end(), "'Z' or an offset like +02:00")
            ms += hh * 3_600_000 + mm * 60_000 + ss * 1000 + (int(frac.ljust(3, "0")) if frac else 0)
            if m.group(9) is not None:
                oh, om = int(m.group(10)), int(m.group(11))
                if oh > 23 or om > 59:
                    raise self.error("invalid UTC offset", m.start(9), "an offset like +02:00")
                offset = (oh * 60 + om) * 60_000
                ms -= offset if m.group(9) == "+" else -offset
        if not _MIN_MS <= ms <= _MAX_MS:
            raise self.error("instant out of range", start)
        return ms


T = TypeVar("T")


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0
        # where each property comparison / aggregated property was written, so a type
        # check against the schema (after parsing) can still name the line and column
        self.positions: dict[object, tuple[int, int]] = {}
        self.nesting = 0  # open parentheses and 'not's: bounds the parser's recursion
        self.conditions = 0
        self.predicates = 0

    def at(self, node: T, tok: Token) -> T:
        self.positions.setdefault(node, (tok.line, tok.column))
        return node

    # ------------------------------------------------------------ helpers
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    @staticmethod
    def fail(tok: Token, message: str, expected: str | None = None) -> ParseError:
        return ParseError(message, tok.line, tok.column, expected)

    def unexpected(self, expected: str) -> ParseError:
        return self.fail(self.tok, f"unexpected {_describe(self.tok)}", expected)

    @staticmethod
    def is_kw(tok: Token, *words: str) -> bool:
        return tok.kind == "IDENT" and tok.value in words

    def at_kw(self, *words: str) -> bool:
        return self.is_kw(self.tok, *words)

    def expect_kw(self, word: str) -> Token:
        if not self.at_kw(word):
            raise self.unexpected(f"'{word}'")
        return self.advance()

    def at_punct(self, p: str) -> bool:
        return self.tok.kind == "PUNCT" and self.tok.value == p

    def expect_punct(self, p: str, expected: str | None = None) -> Token:
        if not self.at_punct(p):
            raise self.unexpected(expected or f"'{p}'")
        return self.advance()

    # ---------------------------------------------------------- algebra
    def parse(self) -> A.Expr:
        expr = self.accounts() if self.at_kw("accounts") and self.peek().value == "(" else self.or_expr()
        if self.tok.kind != "EOF":
            raise self.unexpected("'and', 'or' or end of input")
        L.check_shape(expr, self.positions)  # depth as on the wire (chains are one level)
        return expr

    def nest(self, tok: Token) -> None:
        """Enter a '(' or 'not'; past MAX_DEPTH a clean error instead of a RecursionError."""
        self.nesting += 1
        if self.nesting > L.MAX_DEPTH:
            message = L.limit_message(f"nested deeper than {L.MAX_DEPTH} levels", L.MAX_DEPTH, "MAX_DEPTH")
            raise self.fail(tok, message)

    def limit(self, tok: Token, count: int, limit: int, what: str, name: str) -> None:
        if count > limit:
            raise self.fail(tok, L.limit_message(what, limit, name))

    def or_expr(self) -> A.Expr:
        left = self.and_expr()
        while self.at_kw("or"):
            self.advance()
            left = A.Or(left, self.and_expr())
        return left

    def and_expr(self) -> A.Expr:
        left = self.not_expr()
        while self.at_kw("and"):
            self.advance()
            left = A.And(left, self.not_expr())
        return left

    def not_expr(self) -> A.Expr:
        tok = self.tok
        if self.at_kw("not"):
            self.nest(tok)
            self.advance()
            node = self.at(A.Not(self.not_expr()), tok)
            self.nesting -= 1
            return node
        if self.at_punct("("):
            self.nest(tok)
            self.advance()
            inner = self.or_expr()
            self.expect_punct(")", "')', 'and' or 'or'")
            self.nesting -= 1
            return inner
        self.conditions += 1
        self.limit(tok, self.conditions, L.MAX_CONDITIONS, f"more than {L.MAX_CONDITIONS:,} conditions",
                   "MAX_CONDITIONS")  # fmt: skip
        return self.at(self.condition(), tok)

    # ---------------------------------------------------------- accounts
    # cohort := "accounts" "(" prop ")" ":" a_or | or_expr   (docs/cohort-language.md, "Accounts")
    def accounts(self) -> A.Accounts:
        self.advance()
        self.expect_punct("(")
        group = self.prop_name(any_word=True)
        self.expect_punct(")", "')' after the group type")
        self.expect_punct(":", "':' and the account conditions")
        return A.Accounts(group, self.a_or())

    def a_or(self) -> A.Expr:
        left = self.a_and()
        while self.at_kw("or"):
            self.advance()
            left = A.Or(left, self.a_and())
        return left

    def a_and(self) -> A.Expr:
        left = self.a_not()
        while self.at_kw("and"):
            self.advance()
            left = A.And(left, self.a_not())
        return left

    def a_not(self) -> A.Expr:
        tok = self.tok
        if self.at_kw("not") or self.at_punct("("):
            self.nest(tok)
            self.advance()
            if self.is_kw(tok, "not"):
                node: A.Expr = self.at(A.Not(self.a_not()), tok)
            else:
                node = self.a_or()
                self.expect_punct(")", "')', 'and' or 'or'")
            self.nesting -= 1
            return node
        self.conditions += 1
        self.limit(tok, self.conditions, L.MAX_CONDITIONS, f"more than {L.MAX_CONDITIONS:,} conditions",
                   "MAX_CONDITIONS")  # fmt: skip
        if self.at_kw("count"):
            self.advance()
            for word in ("of", "users", "who"):
                self.expect_kw(word)
            self.nest(tok)
            inner = self.not_expr()
            self.nesting -= 1
            if not (self.tok.kind == "OP" or self.at_kw("between")):
                bare = self.toks[self.i - 1].kind == "INT"  # `did(E) >= 5` with nothing after it
                if bare and isinstance(inner, A.Did) and inner.cmp and isinstance(inner.window, A.Ever):
                    return self.at(A.UserCount(A.Did(inner.event), inner.cmp), tok)  # the users' count
                raise self.unexpected(
                    "a comparison of the number of users (>= 5); a condition ending in a comparison "
                    "needs parentheses: count of users who (did(E) >= 3) >= 5"
                )
            cmp = self.comparison(count=True, required=True)
            assert cmp is not None
            return self.at(A.UserCount(inner, cmp), tok)
        if self.at_kw("account"):
            self.advance()
            self.expect_punct(".", "'.' and an account property name")
            prop = self.prop_name(any_word=True)
            return self.at(A.AccountProp(self.predicate_tail(prop)), tok)
        raise self.unexpected("an account condition: count of users who ... OP n, or account.<property>")

    # -------------------------------------------------------- conditions
    def condition(self) -> A.Condition:
        tok = self.tok
        if tok.kind != "IDENT":
            raise self.unexpected("a condition")
        kw = tok.str_value
        if kw == "did":
            self.advance()
            event = self.paren_event()
            if self.tok.kind == "OP" and (
                self.is_kw(self.peek(), "did")
                or (self.peek().kind == "INT" and self.peek(2).kind == "PUNCT" and self.peek(2).value == "*")
            ):
                return self.count_compare(event)
            cmp_tok = self.tok
            cmp = self.comparison(count=True, required=False)
            if self.at_kw("on"):
                return self.did_on_periods(event, cmp, cmp_tok)
            if self.at_kw("within"):
                return self.did_within_of_first(event, cmp)
            return A.Did(event, cmp, self.window())
        if kw in _AGG_FUNCS:
            self.advance()
            self.expect_punct("(")
            prop_tok = self.tok
            prop = self.prop_name()
            self.expect_punct(",")
            event = self.event_ref()
            self.expect_punct(")")
            cmp = self.comparison(count=kw == "distinct", required=True)
            return self.at(A.Aggregate(kw, prop, event, cmp, self.window()), prop_tok)
        if kw == "active_days":
            self.advance()
            event = self.paren_event()
            cmp = self.comparison(count=True, required=True)
            return A.ActiveDays(event, cmp, self.window())
        if kw == "active_periods":
            self.advance()
            self.expect_punct("(")
            event = self.event_ref()
            self.expect_punct(",")
            period = self.duration()
            self.expect_punct(")")
            cmp = self.comparison(count=True, required=True)
            return A.ActivePeriods(event, period, cmp, self.window())
        if kw == "sequence":
            return self.sequence()
        if kw == "first":
            self.advance()
            self.expect_kw("did")
            event = self.paren_event()
            return A.FirstDid(event, self.window())
        if kw == "nth":
            return self.nth_did()
        if kw in ("stopped", "restarted", "regularly"):
            return self.shorthand(kw)
        if kw == "top":
            return self.top()
        if kw == "user":
            self.advance()
            self.expect_punct(".", "'.' and a user property name")
            prop = self.prop_name(any_word=True)
            return A.UserProp(self.predicate_tail(prop))
        if kw == "had":
            self.advance()
            if not self.at_kw("user"):
                raise self.unexpected('user.<property> (had user.plan == "trial" in last 30d)')
            self.advance()
            self.expect_punct(".", "'.' and a user property name")
            prop = self.prop_name(any_word=True)
            return A.HadUserProp(self.predicate_tail(prop), self.window())
        if kw == "in_cohort":
            self.advance()
            self.expect_punct("(")
            if self.tok.kind != "STRING":
                raise self.unexpected("a quoted cohort name")
            name = self.advance().str_value
            self.expect_punct(")")
            return A.InCohort(name)
        raise self.unexpected("a condition")

    def sequence(self) -> A.Sequence:
        self.advance()
        self.expect_punct("(")
        steps = [self.event_ref()]
        while self.at_punct(","):
            self.advance()
            step_tok = self.tok
            steps.append(self.event_ref())
            what = f"a sequence of more than {L.MAX_SEQUENCE_STEPS} steps"
            self.limit(step_tok, len(steps), L.MAX_SEQUENCE_STEPS, what, "MAX_SEQUENCE_STEPS")
        if len(steps) < 2 and self.at_punct(")"):
            raise self.fail(self.tok, "a sequence needs at least two steps", "',' and another event")
        self.expect_punct(")", "',' or ')'")
        within = None
        if self.at_kw("within"):
            self.advance()
            within = self.duration()
        return A.Sequence(tuple(steps), within, self.window())

    def count_compare(self, left: A.EventRef) -> A.CountCompare:
        op = self.advance().value
        factor = 1
        if self.tok.kind == "INT":
            tok = self.advance()
            if not 1 <= tok.int_value <= A.MAX_FACTOR:
                raise self.fail(
                    tok, f"factor {tok.text} is outside 1..{A.MAX_FACTOR:,}", "a whole number >= 1"
                )
            factor = tok.int_value
            self.expect_punct("*")
        self.expect_kw("did")
        right = self.paren_event()
        return A.CountCompare(left, str(op), factor, right, self.window())

    def positive_int(self, what: str, limit: int) -> int:
        tok = self.tok
        if tok.kind != "INT":
            raise self.unexpected(f"{what}: an integer >= 1")
        self.advance()
        if not 1 <= tok.int_value <= limit:
            raise self.fail(tok, f"{what} {tok.text} is outside 1..{limit:,}", "an integer >= 1")
        return int(tok.int_value)

    def did_on_periods(self, event: A.EventRef, cmp: A.Comparison | None, cmp_tok: Token) -> A.DidOnPeriods:
        if cmp is not None and _accepts_zero(cmp):
            raise self.fail(
                cmp_tok,
                "a per-period count that accepts 0 (periods without events are never counted)",
                "a count of at least 1, like '>= 3' or 'between 1 and 5'",
            )
        self.advance()  # on
        periods = self.positive_int("number of periods", A.MAX_PERIODS)
        period = None
        if self.at_kw("days", "day"):
            self.advance()
        elif self.at_kw("periods", "period"):
            self.advance()
            self.expect_kw("of")
            period = self.duration()
        else:
            raise self.unexpected("'days' or 'periods of' and a duration (on 4 days, on 2 periods of 1w)")
        return A.DidOnPeriods(event, cmp, periods, period, self.window())

    def did_within_of_first(self, event: A.EventRef, cmp: A.Comparison | None) -> A.DidWithinOfFirst:
        self.advance()  # within
        within = self.duration()
        self.expect_kw("of")
        self.expect_kw("first")
        self.expect_kw("did")
        anchor = self.paren_event()
        return A.DidWithinOfFirst(event, cmp, within, anchor, self.window())

    def shorthand(self, kw: str) -> A.Shorthand:
        self.advance()
        self.expect_punct("(")
        event = self.event_ref()
        self.expect_punct(",", f"',' and a period ({kw}(E, 30d))")
        period = self.duration()
        if kw == "stopped":
            self.expect_punct(")")
            return A.Stopped(event, period)
        if kw == "restarted":
            self.expect_punct(")")
            return A.Restarted(event, period)
        self.expect_punct(",", "',' and 'K of N' (regularly(E, 1w, 4 of 6))")
        times = self.positive_int("number of active periods", MAX_REGULAR_PERIODS)
        self.expect_kw("of")
        of_tok = self.tok
        periods = self.positive_int("number of periods", MAX_REGULAR_PERIODS)
        if times > periods:
            raise self.fail(of_tok, f"{times} of {periods}: more active periods than periods",
                            f"a number of periods >= {times}")  # fmt: skip
        self.expect_punct(")")
        return A.Regularly(event, period, times, periods)

    def nth_did(self) -> A.NthDid:
        self.advance()
        self.expect_kw("did")
        self.expect_punct("(")
        event = self.event_ref()
        self.expect_punct(",", "',' and the position (nth did(E, 3))")
        tok = self.tok
        if tok.kind != "INT":
            raise self.unexpected("a position: an integer >= 1")
        self.advance()
        if tok.int_value < 1:
            raise self.fail(tok, f"position {tok.text} is below 1", "an integer >= 1 (1 is the first event)")
        if tok.int_value > A.MAX_NTH:
            raise self.fail(tok, f"position {tok.text} is too large", f"an integer <= {A.MAX_NTH:,}")
        self.expect_punct(")")
        return A.NthDid(event, tok.int_value, self.window())

    def top(self) -> A.Top:
        self.advance()
        tok = self.tok
        if tok.kind not in ("INT", "FLOAT"):
            raise self.unexpected("a percentage")
        self.advance()
        if not 0 < tok.number_value <= 100:
            raise self.fail(tok, f"percentage {tok.text} is outside (0, 100]", "a number in (0, 100]")
        percent = float(tok.number_value)
        self.expect_punct("%")
        self.expect_kw("by")
        mtok = self.tok
        if self.is_kw(mtok, "count"):
            self.advance()
            metric: A.Metric = A.MetricCount(self.paren_event())
        elif self.is_kw(mtok, "sum"):
            self.advance()
            self.expect_punct("(")
            prop_tok = self.tok
            prop = self.prop_name()
            self.expect_punct(",")
            event = self.event_ref()
            self.expect_punct(")")
            metric = self.at(A.MetricSum(prop, event), prop_tok)
        elif self.is_kw(mtok, "active_days"):
            self.advance()
            metric = A.MetricActiveDays(self.paren_event())
        else:
            raise self.unexpected("count(...), sum(...) or active_days(...)")
        return A.Top(percent, metric, self.window())

    # ------------------------------------------------- numbers and windows
    def number(self, count: bool) -> tuple[int | float, Token]:
        tok = self.tok
        if tok.kind not in ("INT", "FLOAT"):
            raise self.unexpected("a non-negative integer" if count else "a number")
        self.advance()
        if count:
            if tok.kind == "FLOAT":
                raise self.fail(
                    tok, f"a count must be a whole number, not {tok.text}", "a non-negative integer"
                )
            if tok.number_value < 0:
                raise self.fail(tok, f"negative count {tok.text}", "a non-negative integer")
        return tok.number_value, tok

    @overload
    def comparison(self, count: bool, required: Literal[True]) -> A.Comparison: ...

    @overload
    def comparison(self, count: bool, required: bool) -> A.Comparison | None: ...

    def comparison(self, count: bool, required: bool) -> A.Comparison | None:
        tok = self.tok
        if tok.kind == "OP":
            self.advance()
            value, _ = self.number(count)
            return A.Compare(tok.str_value, value)
        if self.is_kw(tok, "between") and self.peek().kind in ("INT", "FLOAT"):
            self.advance()
            lo, _ = self.number(count)
            self.expect_kw("and")
            hi, hi_tok = self.number(count)
            if lo > hi:
                raise self.fail(
                    hi_tok, f"empty range: {hi_tok.text} is below the lower bound", f"a number >= {lo}"
                )
            return A.Range(lo, hi)
        if required:
            raise self.unexpected("a comparison (== != < <= > >= or 'between N and M')")
        return None

    def duration(self) -> A.Duration:
        tok = self.tok
        if tok.kind != "DURATION":
            raise self.unexpected("a duration like 30d")
        self.advance()
        if tok.duration_value.value <= 0:
            raise self.fail(tok, f"duration {tok.text} must be positive", "a duration greater than zero")
        return tok.duration_value

    def instant(self) -> tuple[int, Token]:
        tok = self.tok
        if tok.kind != "DATE":
            raise self.unexpected("a date like 2026-01-01 or an instant like 2026-01-01T12:00:00Z")
        self.advance()
        return tok.int_value, tok

    def window(self) -> A.Window:
        tok = self.tok
        if self.is_kw(tok, "ever"):
            self.advance()
            return A.Ever()
        if self.is_kw(tok, "in") and self.is_kw(self.peek(), "this"):
            self.advance()
            self.advance()
            return A.ThisPeriod(self.calendar_unit(A.CALENDAR_UNITS, plural=False))
        if self.is_kw(tok, "in") and self.is_kw(self.peek(), "last"):
            self.advance()
            self.advance()
            return self.last_window()
        if self.is_kw(tok, "since"):
            self.advance()
            return A.Since(self.instant()[0])
        if self.is_kw(tok, "between"):
            self.advance()
            if self.tok.kind == "DURATION":
                start_tok = self.tok
                start = self.duration()
                self.expect_kw("ago")
                self.expect_kw("and")
                end = self.duration()
                self.expect_kw("ago")
                if start.ms <= end.ms:
                    raise self.fail(
                        start_tok,
                        f"empty window: {start_tok.text} ago is not before the end",
                        "the larger duration first (between 90d ago and 60d ago)",
                    )
                return A.Ago(start, end)
            start_ms, start_tok = self.instant()
            self.expect_kw("and")
            end_ms, _ = self.instant()
            if start_ms >= end_ms:
                raise self.fail(start_tok, "empty window: the start is not before the end", "start < end")
            return A.Dates(start_ms, end_ms)
        return A.Ever()

    def last_window(self) -> A.Window:
        """After ``in last``: a duration, ``[N] calendar <unit>[s]`` or ``N month[s]|year[s]``."""
        if self.at_kw("calendar"):
            self.advance()
            return A.LastCalendar(1, self.calendar_unit(A.CALENDAR_UNITS, plural=False))
        if self.tok.kind != "INT":
            return A.Last(self.duration())
        tok = self.advance()
        if not 1 <= tok.int_value <= A.MAX_CALENDAR_COUNT:
            raise self.fail(
                tok, f"count {tok.text} is outside 1..{A.MAX_CALENDAR_COUNT:,}", "a whole number >= 1"
            )
        if self.at_kw("calendar"):
            self.advance()
            return A.LastCalendar(tok.int_value, self.calendar_unit(A.CALENDAR_UNITS, plural=True))
        return A.LastSpan(tok.int_value, self.calendar_unit(A.SPAN_UNITS, plural=True))

    def calendar_unit(self, units: tuple[str, ...], plural: bool) -> str:
        """A calendar unit word (``month``; with ``plural``, ``months`` too), case-insensitive."""
        tok = self.tok
        word = tok.str_value.lower() if tok.kind == "IDENT" else ""
        unit = word[:-1] if plural and word.endswith("s") and word[:-1] in units else word
        if unit not in units:
            names = ", ".join(units)
            raise self.unexpected(f"a calendar unit ({names}{'; plural allowed' if plural else ''})")
        self.advance()
        return unit

    # ---------------------------------------------------- events, filters
    def paren_event(self) -> A.EventRef:
        self.expect_punct("(")
        event = self.event_ref()
        self.expect_punct(")", "')', 'and', 'or' or a filter operator")
        return event

    def event_ref(self) -> A.EventRef:
        tok = self.tok
        if tok.kind == "STRING":
            event_type: str | None = tok.str_value
        elif self.is_kw(tok, "any"):
            event_type = None
        else:
            raise self.unexpected("a quoted event type or any")
        self.advance()
        filt = None
        if self.at_kw("where"):
            self.advance()
            filt = self.f_or()
        return A.EventRef(event_type, filt)

    def f_or(self) -> A.Filter:
        left = self.f_and()
        while self.at_kw("or"):
            self.advance()
            left = A.FOr(left, self.f_and())
        return left

    def f_and(self) -> A.Filter:
        left = self.f_not()
        while self.at_kw("and"):
            self.advance()
            left = A.FAnd(left, self.f_not())
        return left

    def f_not(self) -> A.Filter:
        tok = self.tok
        if self.at_kw("not"):
            self.nest(tok)
            self.advance()
            node = self.at(A.FNot(self.f_not()), tok)
            self.nesting -= 1
            return node
        if self.at_punct("("):
            self.nest(tok)
            self.advance()
            inner = self.f_or()
            self.expect_punct(")", "')', 'and' or 'or'")
            self.nesting -= 1
            return inner
        return self.predicate_tail(self.prop_name())

    def prop_name(self, any_word: bool = False) -> str:
        """A property name: an identifier or a quoted string (the printer quotes keywords)."""
        tok = self.tok
        if tok.kind == "STRING" or (tok.kind == "IDENT" and (any_word or tok.value != "not")):
            self.advance()
            return tok.str_value if tok.kind == "STRING" else tok.text
        raise self.unexpected("a property name")

    def predicate_tail(self, prop: str) -> A.Predicate:
        tok = self.tok
        self.predicates += 1
        what = f"more than {L.MAX_PREDICATES:,} property predicates"
        self.limit(tok, self.predicates, L.MAX_PREDICATES, what, "MAX_PREDICATES")
        if tok.kind == "OP":
            self.advance()
            literal = self.tok
            return self.at(A.PropCmp(prop, tok.str_value, self.value()), literal)
        negated = False
        if self.is_kw(tok, "not"):
            self.advance()
            negated = True
            if not self.at_kw("in", "exists"):
                raise self.unexpected("'in' or 'exists' after 'not'")
        if self.at_kw("in"):
            self.advance()
            self.expect_punct("(")
            literal = self.tok
            values = [self.value()]
            while self.at_punct(","):
                self.advance()
                value_tok = self.tok
                values.append(self.value())
                what = f"an 'in' list of more than {L.MAX_IN_VALUES:,} values"
                self.limit(value_tok, len(values), L.MAX_IN_VALUES, what, "MAX_IN_VALUES")
            self.expect_punct(")", "',' or ')'")
            return self.at(A.PropIn(prop, tuple(values), negated), literal)
        if self.at_kw("exists"):
            self.advance()
            return A.PropExists(prop, negated)
        if self.at_kw("contains"):
            self.advance()
            if self.tok.kind != "STRING":
                raise self.unexpected("a quoted string after 'contains'")
            literal = self.tok
            return self.at(A.PropContains(prop, self.advance().str_value), literal)
        raise self.unexpected("a filter operator (== != < <= > >= in, not in, exists, not exists, contains)")

    def value(self) -> A.Value:
        tok = self.tok
        if tok.kind == "STRING":
            self.advance()
            return tok.str_value
        if tok.kind in ("INT", "FLOAT"):
            self.advance()
            return tok.number_value
        if self.is_kw(tok, "true", "false"):
            self.advance()
            return tok.value == "true"
        raise self.unexpected("a value (string, number, true or false)")


def parse(text: str) -> A.Expr:
    """Parse one cohort expression; raises ``ParseError`` with line and column on any rejection."""
    return _parser(text).parse()


def parse_with_positions(text: str) -> tuple[A.Expr, dict[object, tuple[int, int]]]:
    """``parse``, plus the (line, column) of every property comparison and aggregated property,
    for checks that need the schema (a literal of the wrong type) to point at the source."""
    parser = _parser(text)
    return parser.parse(), parser.positions


def _parser(text: str) -> _Parser:
    if len(text) > L.MAX_TEXT_CHARS:
        lexer = _Lexer(text)
        what = f"a definition of {len(text):,} characters"
        raise lexer.error(L.limit_message(what, L.MAX_TEXT_CHARS, "MAX_TEXT_CHARS"), L.MAX_TEXT_CHARS)
    return _Parser(_Lexer(text).tokens())


def parse_instant(text: str) -> int:
    """Epoch ms of one date or ISO-8601 instant, with the same rules as inside a window."""
    tokens = _Lexer(text).tokens()
    if tokens[0].kind != "DATE" or tokens[1].kind != "EOF":
        bad = tokens[0] if tokens[0].kind != "DATE" else tokens[1]
        raise ParseError(f"unexpected {_describe(bad)}", bad.line, bad.column, "one date or instant")
    return tokens[0].int_value


def parse_duration(text: str) -> A.Duration:
    """One positive duration such as ``30d``."""
    parser = _Parser(_Lexer(text).tokens())
    duration = parser.duration()
    if parser.tok.kind != "EOF":
        raise parser.unexpected("end of input after the duration")
    return duration


def parse_event(text: str) -> A.EventRef:
    """One event reference such as ``"Feature Used" where plan == "free"`` or ``any``."""
    parser = _Parser(_Lexer(text).tokens())
    event = parser.event_ref()
    if parser.tok.kind != "EOF":
        raise parser.unexpected("end of input after the event")
    return event
