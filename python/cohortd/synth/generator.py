"""Deterministic synthetic SaaS event stream (fully vectorised numpy, written in chunks).

What the stream looks like
--------------------------
* Users sign up over the period ``[end_ms - days, end_ms)`` (more of them towards
  the end: a growing product).  Every user's first event is ``Signup Submitted``.
* About 62 % of users *activate*: ``Onboarding Started``, usually
  ``Onboarding Completed`` and exactly one ``First Feature Used`` (minutes to hours
  after signup; one activated user in ten is a slow activator who takes 2-20 days).
  ``Feature Used`` only ever happens after a user's ``First Feature Used``.
* Activity is power-law: each user has a Pareto(1.5) weight (capped at 200x);
  sessions per active day are Poisson with a rate proportional to the weight.
  A session is ``Session Start``, one or more in-session events a few seconds
  apart, then ``Session End`` carrying ``duration_s``.
* Churn: 45 % of activated users (90 % of the others) stop after an exponential
  lifetime.  Subscribers who churn mostly send ``Subscription Cancelled``; a few
  active subscribers cancel too.  Subscriptions (directly or after a 14-day trial)
  send ``Subscription Started`` and then ``Subscription Renewed`` every 30 days,
  with ``revenue`` and ``plan`` on them.  ``Purchase`` (add-ons) carries ``revenue``
  (multiples of 0.25, so sums are exact whatever order an engine adds them in).
* Free users see ``paywall_modal_viewed`` now and then.
* The user table holds the *current* state: ``plan`` (free/trial/paid),
  ``country`` and ``projects_created`` (= that user's ``Project Created`` events).

Size
----
The number of events is about ``users * per-user mean``.  The mean grows with
``days`` (users have more time to be active, less than linearly because of churn):
with the default activity a user averages about 20 events over 30 days, 45 over
90 days and 140 over 365 days.  Pass
``target_events`` to scale session activity so the total lands near that number
instead (within a few percent), e.g. ``users=200_000, target_events=10_000_000``.

Determinism and memory
----------------------
Users are generated in blocks of :data:`BLOCK_USERS` (fewer when users are very
active, see :func:`users_per_block`); block ``b`` draws from
``SeedSequence([seed, stream, b])``, so the output depends only on
``(users, days, seed, end_ms, target_events)``.  Each block is sorted by
``(user_id, time)`` and written as its own row group(s) with
``pyarrow.parquet.ParquetWriter``: memory is bounded by one block, so 100M+ events
are fine.  The file as a whole is ordered by user, then time.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cohortd.times import DAY_MS

MIN_MS = 60_000
BLOCK_USERS = 32_768
BLOCK_EVENTS = 4_000_000
ROW_GROUP_ROWS = 1 << 20

# ------------------------------------------------------------------ vocabulary
EVENT_TYPES: tuple[str, ...] = (
    # lifecycle
    "Signup Submitted",
    "Email Verified",
    "Onboarding Started",
    "Onboarding Completed",
    "First Feature Used",
    "Trial Started",
    "Subscription Started",
    "Subscription Renewed",
    "Subscription Cancelled",
    # sessions
    "Session Start",
    "Session End",
    # messaging (outside sessions)
    "Email Opened",
    "Email Clicked",
    "Push Notification Received",
    # in-session
    "Page Viewed",
    "Feature Used",
    "Dashboard Viewed",
    "Search Performed",
    "Project Opened",
    "Project Created",
    "Document Created",
    "Document Edited",
    "Document Shared",
    "Comment Added",
    "File Uploaded",
    "File Downloaded",
    "Teammate Invited",
    "Invite Accepted",
    "Integration Connected",
    "Report Exported",
    "Settings Updated",
    "Notification Clicked",
    "Help Center Viewed",
    "Support Ticket Created",
    "Template Used",
    "API Key Created",
    "paywall_modal_viewed",
    "Upgrade Button Clicked",
    "Checkout Started",
    "Purchase",
)
_CODE = {name: i for i, name in enumerate(EVENT_TYPES)}

# in-session event mix: (event type, weight for non-subscribers, weight for subscribers)
_SESSION_MIX: tuple[tuple[str, float, float], ...] = (
    ("Page Viewed", 0.22, 0.20),
    ("Feature Used", 0.20, 0.24),
    ("Dashboard Viewed", 0.07, 0.08),
    ("Search Performed", 0.06, 0.06),
    ("Project Opened", 0.06, 0.07),
    ("Document Edited", 0.06, 0.07),
    ("Document Created", 0.03, 0.035),
    ("Project Created", 0.025, 0.03),
    ("Comment Added", 0.03, 0.04),
    ("File Uploaded", 0.025, 0.03),
    ("File Downloaded", 0.02, 0.02),
    ("Document Shared", 0.015, 0.02),
    ("Teammate Invited", 0.008, 0.012),
    ("Invite Accepted", 0.004, 0.006),
    ("Integration Connected", 0.004, 0.008),
    ("Report Exported", 0.012, 0.02),
    ("Settings Updated", 0.01, 0.01),
    ("Notification Clicked", 0.015, 0.015),
    ("Help Center Viewed", 0.01, 0.008),
    ("Support Ticket Created", 0.003, 0.004),
    ("Template Used", 0.01, 0.012),
    ("API Key Created", 0.002, 0.004),
    ("paywall_modal_viewed", 0.035, 0.003),
    ("Upgrade Button Clicked", 0.008, 0.001),
    ("Checkout Started", 0.003, 0.002),
    ("Purchase", 0.004, 0.02),
)
_MIX_CODES = np.array([_CODE[n] for n, _, _ in _SESSION_MIX], dtype=np.int16)
_MIX_CUM_FREE = np.cumsum([w for _, w, _ in _SESSION_MIX]) / sum(w for _, w, _ in _SESSION_MIX)
_MIX_CUM_PAID = np.cumsum([w for _, _, w in _SESSION_MIX]) / sum(w for _, _, w in _SESSION_MIX)

FEATURE_AREAS = (
    "dashboard",
    "editor",
    "reports",
    "search",
    "integrations",
    "automation",
    "collaboration",
    "api",
)
_FEATURE_P = np.array([0.24, 0.20, 0.18, 0.10, 0.08, 0.08, 0.08, 0.04])
PLATFORMS = ("web", "ios", "android", "desktop")
_PLATFORM_P = np.array([0.55, 0.20, 0.15, 0.10])
TIERS = ("pro", "team", "business")
_TIER_P = np.array([0.70, 0.25, 0.05])
_TIER_PRICE = np.array([29.0, 99.0, 299.0])
USER_PLANS = ("free", "trial", "paid")
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "CA", "AU", "NL", "ES", "JP", "PL", "SE", "MX", "IT")
_COUNTRY_P = np.array(
    [0.32, 0.09, 0.08, 0.06, 0.09, 0.06, 0.05, 0.04, 0.03, 0.03, 0.04, 0.03, 0.02, 0.03, 0.03]
)
_COUNTRY_P = _COUNTRY_P / _COUNTRY_P.sum()

# activity knobs (per user with weight 1, per day of active life)
SESSIONS_PER_DAY = 0.1
MID_EVENTS_MEAN = 5.0  # in-session events per session = 1 + Poisson(MID_EVENTS_MEAN - 1)
EMAILS_PER_DAY = 0.06
PARETO_SHAPE = 1.5
WEIGHT_CAP = 200.0

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("feature_area", pa.string()),
        pa.field("revenue", pa.float64()),
        pa.field("platform", pa.string()),
        pa.field("duration_s", pa.int64()),
        pa.field("plan", pa.string()),
    ]
)
USERS_SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("plan", pa.string(), nullable=False),
        pa.field("country", pa.string(), nullable=False),
        pa.field("projects_created", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    events_path: Path
    users_path: Path
    users: int
    events: int
    start_ms: int
    end_ms: int
    seed: int
    activity_scale: float
    seconds: float
    event_counts: dict[str, int] = field(default_factory=dict)


def default_end_ms() -> int:
    """Start of the current UTC day, in epoch ms (so no generated event is in the future)."""
    now = datetime.now(UTC)
    return int(datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp()) * 1000


def users_path_for(out: Path) -> Path:
    """``events.parquet`` -> ``events.users.parquet``."""
    out = Path(out)
    return out.with_name(out.stem + ".users.parquet")


def user_ids(first: int, count: int, width: int) -> pa.StringArray:
    """``u`` + zero-padded decimal ids ``first .. first+count-1``, built without Python strings."""
    ids = np.arange(first, first + count, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (ids[:, None] // powers[None, :]) % 10 + ord("0")
    buf = np.empty((count, width + 1), dtype=np.uint8)
    buf[:, 0] = ord("u")
    buf[:, 1:] = digits
    offsets = np.arange(0, (count + 1) * (width + 1), width + 1, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


# ----------------------------------------------------------------- per user
@dataclass
class _Users:
    n: int
    signup: np.ndarray
    end_active: np.ndarray
    activated: np.ndarray
    weight: np.ndarray
    verified_ms: np.ndarray  # -1 = none
    onb_start_ms: np.ndarray
    onb_done_ms: np.ndarray
    ffu_ms: np.ndarray  # int64 max = never
    trial_ms: np.ndarray
    sub_ms: np.ndarray
    tier: np.ndarray
    cancel_ms: np.ndarray
    n_renew: np.ndarray
    platform: np.ndarray
    country: np.ndarray
    plan: np.ndarray
    sess_base: np.ndarray  # expected sessions at activity scale 1
    email_lambda: np.ndarray

    def fixed_events(self) -> float:
        """Expected number of non-session events (lifecycle + email) in this block."""
        n = float(self.n)
        for arr in (
            self.verified_ms,
            self.onb_start_ms,
            self.onb_done_ms,
            self.trial_ms,
            self.sub_ms,
            self.cancel_ms,
        ):
            n += float(np.count_nonzero(arr >= 0))
        n += float(np.count_nonzero(self.ffu_ms < np.iinfo(np.int64).max))
        return n + float(self.n_renew.sum()) + float(self.email_lambda.sum())


def _block_users(seed: int, block: int, n: int, start_ms: int, end_ms: int) -> _Users:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, block]))
    period = end_ms - start_ms
    never = np.iinfo(np.int64).max

    signup = start_ms + (rng.random(n) ** 0.75 * max(period - 3_600_000, 1)).astype(np.int64)
    activated = rng.random(n) < 0.62
    weight = np.minimum(rng.pareto(PARETO_SHAPE, n) + 1.0, WEIGHT_CAP)
    weight = np.where(activated, weight, weight * 0.08)
    churns = rng.random(n) < np.where(activated, 0.45, 0.90)
    lifetime = np.where(activated, rng.exponential(40.0, n), rng.exponential(4.0, n)) * DAY_MS
    end_active = np.where(churns, np.minimum(signup + MIN_MS + lifetime.astype(np.int64), end_ms), end_ms)

    verified = rng.random(n) < 0.85
    verified_ms = np.where(verified, signup + 30_000 + rng.exponential(600_000, n).astype(np.int64), -1)
    onb_start_ms = np.where(activated, signup + 5_000 + rng.exponential(60_000, n).astype(np.int64), -1)
    onb_done = activated & (rng.random(n) < 0.8)
    onb_done_ms = np.where(onb_done, onb_start_ms + 1_000 + rng.exponential(480_000, n).astype(np.int64), -1)

    slow = rng.random(n) < 0.10
    fast_delay = np.exp(rng.normal(math.log(3_600.0), 1.6, n)) * 1000.0
    slow_delay = rng.uniform(2.0, 20.0, n) * DAY_MS
    ffu_delay = np.where(slow, slow_delay, np.minimum(fast_delay, 30.0 * DAY_MS)).astype(np.int64)
    ffu_ms = np.where(activated, signup + MIN_MS + ffu_delay, never)

    trial = activated & (rng.random(n) < 0.22)
    trial_ms = signup + MIN_MS + rng.exponential(3.0 * DAY_MS, n).astype(np.int64)
    converts = trial & (rng.random(n) < 0.45)
    direct = activated & ~trial & (rng.random(n) < 0.06)
    direct_ms = signup + MIN_MS + rng.exponential(20.0 * DAY_MS, n).astype(np.int64)
    sub_at = np.where(converts, trial_ms + 14 * DAY_MS, direct_ms)
    subscribed = (converts | direct) & (sub_at < end_active) & (sub_at < end_ms)
    trial_ok = trial & (trial_ms < end_active) & (trial_ms < end_ms)
    tier = rng.choice(len(TIERS), n, p=_TIER_P).astype(np.int8)

    r_cancel = rng.random(n)
    u_cancel = rng.random(n)
    churned_active = end_active < end_ms
    cancelled = subscribed & ((churned_active & (r_cancel < 0.85)) | (~churned_active & (r_cancel < 0.08)))
    cancel_at = np.where(churned_active, end_active, sub_at + (u_cancel * (end_ms - sub_at)).astype(np.int64))
    cancel_at = np.maximum(cancel_at, sub_at + 1_000)
    cancelled &= cancel_at < end_ms
    renew_stop = np.where(cancelled, cancel_at, end_ms)
    n_renew = np.where(subscribed, np.maximum((renew_stop - sub_at - 1) // (30 * DAY_MS), 0), 0)

    platform = rng.choice(len(PLATFORMS), n, p=_PLATFORM_P).astype(np.int8)
    country = rng.choice(len(COUNTRIES), n, p=_COUNTRY_P).astype(np.int8)

    in_trial = trial_ok & ~subscribed & (trial_ms + 14 * DAY_MS > end_ms)
    plan = np.where(subscribed & ~cancelled, 2, np.where(in_trial, 1, 0)).astype(np.int8)

    span_days = np.maximum(end_active - signup - MIN_MS, 0) / DAY_MS
    return _Users(
        n=n,
        signup=signup,
        end_active=end_active,
        activated=activated,
        weight=weight,
        verified_ms=np.where(verified_ms < end_ms, verified_ms, -1),
        onb_start_ms=np.where(onb_start_ms < end_ms, onb_start_ms, -1),
        onb_done_ms=np.where((onb_done_ms < end_ms) & (onb_start_ms < end_ms), onb_done_ms, -1),
        ffu_ms=np.where(ffu_ms < end_ms, ffu_ms, never),
        trial_ms=np.where(trial_ok, trial_ms, -1),
        sub_ms=np.where(subscribed, sub_at, -1),
        tier=tier,
        cancel_ms=np.where(cancelled, cancel_at, -1),
        n_renew=n_renew,
        platform=platform,
        country=country,
        plan=plan,
        sess_base=SESSIONS_PER_DAY * weight * span_days,
        email_lambda=EMAILS_PER_DAY * span_days,
    )


# ------------------------------------------------------------------- events
class _Cols:
    """Column fragments of one block, concatenated at the end."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        user: np.ndarray,
        t: np.ndarray,
        etype: np.ndarray | int,
        *,
        feature: np.ndarray | None = None,
        revenue: np.ndarray | None = None,
        platform: np.ndarray | None = None,
        duration: np.ndarray | None = None,
        plan: np.ndarray | None = None,
    ) -> None:
        m = len(user)
        if m == 0:
            return

        def filled(a: np.ndarray | None, fill: float | int, dtype: type) -> np.ndarray:
            return np.full(m, fill, dtype=dtype) if a is None else np.asarray(a, dtype=dtype)

        self.parts.append(
            {
                "user": np.asarray(user, dtype=np.int64),
                "t": np.asarray(t, dtype=np.int64),
                "etype": np.broadcast_to(np.asarray(etype, dtype=np.int16), (m,)),
                "feature": filled(feature, -1, np.int8),
                "revenue": filled(revenue, np.nan, np.float64),
                "platform": filled(platform, -1, np.int8),
                "duration": filled(duration, -1, np.int64),
                "plan": filled(plan, -1, np.int8),
            }
        )

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _one_of(idx: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sel = np.flatnonzero(mask)
    return sel, idx[sel]


def _block_events(u: _Users, seed: int, block: int, scale: float, end_ms: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, block]))
    cols = _Cols()
    users = np.arange(u.n, dtype=np.int64)

    # lifecycle
    cols.add(users, u.signup, _CODE["Signup Submitted"], platform=u.platform)
    for name, arr in (
        ("Email Verified", u.verified_ms),
        ("Onboarding Started", u.onb_start_ms),
        ("Onboarding Completed", u.onb_done_ms),
    ):
        sel, t = _one_of(arr, arr >= 0)
        cols.add(sel, t, _CODE[name], platform=u.platform[sel])
    sel, t = _one_of(u.ffu_ms, u.ffu_ms < np.iinfo(np.int64).max)
    ffu_feature = rng.choice(len(FEATURE_AREAS), len(sel), p=_FEATURE_P)
    cols.add(sel, t, _CODE["First Feature Used"], feature=ffu_feature, platform=u.platform[sel])
    sel, t = _one_of(u.trial_ms, u.trial_ms >= 0)
    cols.add(sel, t, _CODE["Trial Started"], plan=u.tier[sel])
    sel, t = _one_of(u.sub_ms, u.sub_ms >= 0)
    cols.add(sel, t, _CODE["Subscription Started"], revenue=_TIER_PRICE[u.tier[sel]], plan=u.tier[sel])
    sel, t = _one_of(u.cancel_ms, u.cancel_ms >= 0)
    cols.add(sel, t, _CODE["Subscription Cancelled"], plan=u.tier[sel])
    ren_user = np.repeat(users, u.n_renew)
    if len(ren_user):
        k = np.arange(len(ren_user)) - np.repeat(np.cumsum(u.n_renew) - u.n_renew, u.n_renew) + 1
        cols.add(
            ren_user,
            u.sub_ms[ren_user] + k * 30 * DAY_MS,
            _CODE["Subscription Renewed"],
            revenue=_TIER_PRICE[u.tier[ren_user]],
            plan=u.tier[ren_user],
        )

    # messaging, uniform over the active life
    span = np.maximum(u.end_active - u.signup - MIN_MS, 0)
    n_mail = rng.poisson(u.email_lambda)
    mail_user = np.repeat(users, n_mail)
    mail_t = u.signup[mail_user] + MIN_MS + (rng.random(len(mail_user)) * span[mail_user]).astype(np.int64)
    mail_type = np.array(
        [_CODE["Email Opened"], _CODE["Email Clicked"], _CODE["Push Notification Received"]], dtype=np.int16
    )[rng.choice(3, len(mail_user), p=[0.55, 0.15, 0.30])]
    cols.add(mail_user, mail_t, mail_type)

    # sessions
    n_sess = rng.poisson(u.sess_base * scale)
    n_sess = np.where(u.activated, np.maximum(n_sess, 1), n_sess)
    s_user = np.repeat(users, n_sess)
    n_s = len(s_user)
    s_start = u.signup[s_user] + MIN_MS + (rng.random(n_s) * span[s_user]).astype(np.int64)
    own = rng.random(n_s) < 0.8
    other = rng.choice(len(PLATFORMS), n_s, p=_PLATFORM_P)
    s_platform = np.where(own, u.platform[s_user], other).astype(np.int8)
    k = 1 + rng.poisson(MID_EVENTS_MEAN - 1.0, n_s)
    m_sess = np.repeat(np.arange(n_s), k)
    m_user = s_user[m_sess]
    gaps = 1_000 + rng.exponential(40_000.0, len(m_sess)).astype(np.int64)
    csum = np.cumsum(gaps)
    before = np.concatenate(([0], csum))[np.cumsum(k) - k]  # total gap before each session's first event
    m_t = s_start[m_sess] + csum - before[m_sess]
    s_total = csum[np.cumsum(k) - 1] - before
    s_end = s_start + s_total + 1_000 + rng.exponential(20_000.0, n_s).astype(np.int64)

    subscriber = (u.sub_ms >= 0)[m_user] & (m_t >= u.sub_ms[m_user])
    draw = rng.random(len(m_sess))
    m_type = np.where(
        subscriber,
        _MIX_CODES[np.searchsorted(_MIX_CUM_PAID, draw, side="right").clip(max=len(_MIX_CODES) - 1)],
        _MIX_CODES[np.searchsorted(_MIX_CUM_FREE, draw, side="right").clip(max=len(_MIX_CODES) - 1)],
    )
    # features are used only after a user's First Feature Used
    early = (m_type == _CODE["Feature Used"]) & (m_t <= u.ffu_ms[m_user])
    m_type = np.where(early, _CODE["Page Viewed"], m_type).astype(np.int16)
    m_feature = np.where(
        m_type == _CODE["Feature Used"], rng.choice(len(FEATURE_AREAS), len(m_sess), p=_FEATURE_P), -1
    )
    is_purchase = m_type == _CODE["Purchase"]
    # prices in quarters of a unit: exact in binary floating point, so sums do not depend on the
    # order in which an engine adds them (cross-engine comparisons stay exact)
    price = np.maximum(np.round(rng.lognormal(math.log(35.0), 0.9, len(m_sess)) * 4.0) / 4.0, 0.25)
    m_revenue = np.where(is_purchase, price, np.nan)

    cols.add(s_user, s_start, _CODE["Session Start"], platform=s_platform)
    cols.add(m_user, m_t, m_type, feature=m_feature, revenue=m_revenue, platform=s_platform[m_sess])
    cols.add(s_user, s_end, _CODE["Session End"], platform=s_platform, duration=(s_end - s_start) // 1000)

    ev = cols.concat()
    keep = ev["t"] < end_ms
    if not keep.all():
        ev = {k2: v[keep] for k2, v in ev.items()}
    start_ms = int(u.signup.min()) if u.n else 0
    order = np.argsort((ev["user"] << 42) | (ev["t"] - start_ms), kind="stable")
    return {k2: v[order] for k2, v in ev.items()}


def _codes_to_strings(codes: np.ndarray, vocab: tuple[str, ...]) -> pa.Array:
    codes = np.asarray(codes)
    idx = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pc.take(pa.array(vocab, pa.string()), idx)


def _events_table(ev: dict[str, np.ndarray], ids: pa.StringArray) -> pa.Table:
    rev = ev["revenue"]
    dur = ev["duration"]
    return pa.Table.from_arrays(
        [
            pc.take(ids, pa.array(ev["user"])),
            _codes_to_strings(ev["etype"], EVENT_TYPES),
            pa.array(ev["t"], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            _codes_to_strings(ev["feature"], FEATURE_AREAS),
            pa.array(rev, pa.float64(), mask=np.isnan(rev)),
            _codes_to_strings(ev["platform"], PLATFORMS),
            pa.array(dur, pa.int64(), mask=dur < 0),
            _codes_to_strings(ev["plan"], TIERS),
        ],
        schema=EVENTS_SCHEMA,
    )


def users_per_block(users: int, days: int, target_events: int | None) -> int:
    """Users per block: :data:`BLOCK_USERS`, halved while a block would hold more than
    about :data:`BLOCK_EVENTS` events (heavy per-user activity), so memory stays bounded.
    A function of the arguments only, so the output stays deterministic."""
    per_user = target_events / users if target_events is not None else 1.5 * days + 10.0
    size = BLOCK_USERS
    while size > 1 and size * per_user > BLOCK_EVENTS:
        size //= 2
    return size


def _blocks(users: int, size: int) -> Iterator[tuple[int, int, int]]:
    for b, first in enumerate(range(0, users, size)):
        yield b, first, min(size, users - first)


def _expected_events(scale: float, base: list[np.ndarray], act: list[np.ndarray], fixed: float) -> float:
    per_session = 2.0 + MID_EVENTS_MEAN
    total = fixed
    for lam0, a in zip(base, act, strict=True):
        lam = lam0 * scale
        # activated users get at least one session: E[max(Poisson(l), 1)] = l + exp(-l)
        sessions = lam.sum() + np.exp(-lam[a]).sum()
        total += per_session * float(sessions)
    return total


def _solve_scale(target: int, users: int, size: int, seed: int, start_ms: int, end_ms: int) -> float:
    base: list[np.ndarray] = []
    act: list[np.ndarray] = []
    fixed = 0.0
    for b, _, n in _blocks(users, size):
        u = _block_users(seed, b, n, start_ms, end_ms)
        base.append(u.sess_base)
        act.append(u.activated)
        fixed += u.fixed_events()
    lo, hi = 0.0, 1.0
    while _expected_events(hi, base, act, fixed) < target and hi < 1e6:
        lo, hi = hi, hi * 2.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if _expected_events(mid, base, act, fixed) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def generate(
    users: int,
    days: int,
    seed: int,
    out: Path,
    end_ms: int | None = None,
    progress: bool = True,
    target_events: int | None = None,
) -> GenerateSummary:
    """Write ``out`` (events) and ``<out stem>.users.parquet`` (user properties).

        ``users`` sets the number of users, ``days`` the length of the period ending at
        ``end_ms`` (default: the start of the current UTC day).  Without
        ``target_events`` a user averages about 20 / 45 / 140 events for 30 / 90 / 365
    days; with it,
        session activity is scaled so the total is close to ``target_events``.
        Same arguments give byte-identical data.
    """
    if users <= 0 or days <= 0:
        raise ValueError("users and days must be positive")
    if target_events is not None and target_events <= 0:
        raise ValueError("target_events must be positive")
    t0 = _time.perf_counter()
    end_ms = default_end_ms() if end_ms is None else int(end_ms)
    start_ms = end_ms - days * DAY_MS
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    upath = users_path_for(out)
    width = max(7, len(str(users - 1)))

    size = users_per_block(users, days, target_events)
    scale = 1.0 if target_events is None else _solve_scale(target_events, users, size, seed, start_ms, end_ms)

    counts = np.zeros(len(EVENT_TYPES), dtype=np.int64)
    total = 0
    bar = None
    task = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn("[bold]synth[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        bar.start()
        task = bar.add_task("0 events", total=users)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_users = upath.with_name(upath.name + ".tmp")
    try:
        with (
            pq.ParquetWriter(tmp_out, EVENTS_SCHEMA, compression="zstd") as ew,
            pq.ParquetWriter(tmp_users, USERS_SCHEMA, compression="zstd") as uw,
        ):
            for b, first, n in _blocks(users, size):
                u = _block_users(seed, b, n, start_ms, end_ms)
                ev = _block_events(u, seed, b, scale, end_ms)
                ids = user_ids(first, n, width)
                ew.write_table(_events_table(ev, ids), row_group_size=ROW_GROUP_ROWS)
                projects = np.bincount(ev["user"][ev["etype"] == _CODE["Project Created"]], minlength=n)
                uw.write_table(
                    pa.Table.from_arrays(
                        [
                            ids,
                            _codes_to_strings(u.plan, USER_PLANS),
                            _codes_to_strings(u.country, COUNTRIES),
                            pa.array(projects.astype(np.int64)),
                        ],
                        schema=USERS_SCHEMA,
                    )
                )
                counts += np.bincount(ev["etype"], minlength=len(EVENT_TYPES))
                total += len(ev["t"])
                if bar is not None and task is not None:
                    bar.update(task, advance=n, description=f"{total:,} events")
        tmp_out.replace(out)
        tmp_users.replace(upath)
    finally:
        if bar is not None:
            bar.stop()
        for p in (tmp_out, tmp_users):
            p.unlink(missing_ok=True)
    return GenerateSummary(
        events_path=out,
        users_path=upath,
        users=users,
        events=total,
        start_ms=start_ms,
        end_ms=end_ms,
        seed=seed,
        activity_scale=scale,
        seconds=_time.perf_counter() - t0,
        event_counts={name: int(c) for name, c in zip(EVENT_TYPES, counts, strict=True) if c},
    )
