"""The synthetic SaaS generator: deterministic, well-formed, never in the future."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cohortd.synth import EVENTS_SCHEMA, USERS_SCHEMA, default_end_ms, generate, users_path_for
from cohortd.synth.generator import BLOCK_USERS, DAY_MS

END_MS = 1_767_225_600_000  # 2026-01-01T00:00Z
REQUIRED = (
    "Signup Submitted",
    "Session Start",
    "Session End",
    "Feature Used",
    "First Feature Used",
    "paywall_modal_viewed",
    "Subscription Started",
    "Subscription Cancelled",
    "Purchase",
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table, pa.Table]:
    out = tmp_path_factory.mktemp("synth") / "events.parquet"
    summary = generate(4_000, 90, 7, out, end_ms=END_MS, progress=False)
    events = pq.read_table(out)
    users = pq.read_table(summary.users_path)
    assert summary.events == events.num_rows
    return out, events, users


def _digest(path: Path) -> bytes:
    return path.read_bytes()


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    generate(1_500, 30, 11, a, end_ms=END_MS, progress=False)
    generate(1_500, 30, 11, b, end_ms=END_MS, progress=True)
    generate(1_500, 30, 12, c, end_ms=END_MS, progress=False)
    assert _digest(a) == _digest(b)
    assert _digest(users_path_for(a)) == _digest(users_path_for(b))
    assert pq.read_table(a).equals(pq.read_table(b))
    assert not pq.read_table(a).equals(pq.read_table(c))


def test_schema(small: tuple[Path, pa.Table, pa.Table]) -> None:
    _, events, users = small
    assert events.schema.equals(EVENTS_SCHEMA, check_metadata=False)
    assert users.schema.equals(USERS_SCHEMA, check_metadata=False)
    assert events["time"].type == pa.timestamp("ms", tz="UTC")
    assert events["user_id"][0].as_py() == "u0000000"
    # properties live on the events that carry them
    et = events["event_type"]
    for col, carriers in (
        ("feature_area", {"Feature Used", "First Feature Used"}),
        ("revenue", {"Purchase", "Subscription Started", "Subscription Renewed"}),
        ("duration_s", {"Session End"}),
        ("plan", {"Trial Started", "Subscription Started", "Subscription Renewed", "Subscription Cancelled"}),
    ):
        has = events.filter(pc.is_valid(events[col]))
        assert has.num_rows > 0, col
        assert set(pc.unique(has["event_type"]).to_pylist()) == carriers, col
        for carrier in carriers:
            rows = events.filter(pc.equal(et, carrier))
            assert rows[col].null_count == 0, (col, carrier)
    assert pc.min(events.filter(pc.equal(et, "Purchase"))["revenue"]).as_py() > 0
    assert set(pc.unique(users["plan"]).to_pylist()) == {"free", "trial", "paid"}


def test_required_event_types_present(small: tuple[Path, pa.Table, pa.Table]) -> None:
    _, events, _ = small
    present = set(pc.unique(events["event_type"]).to_pylist())
    for name in REQUIRED:
        assert name in present, name
    assert len(present) >= 38


def test_no_future_events_and_period(small: tuple[Path, pa.Table, pa.Table]) -> None:
    _, events, _ = small
    t = events["time"].cast(pa.int64()).to_numpy()
    assert t.max() < END_MS
    assert t.min() >= END_MS - 90 * DAY_MS


def test_default_end_is_start_of_today(tmp_path: Path) -> None:
    out = tmp_path / "e.parquet"
    summary = generate(300, 10, 3, out, progress=False)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert summary.end_ms in (default_end_ms(), int(today.timestamp() * 1000))
    t = pq.read_table(out)["time"].cast(pa.int64()).to_numpy()
    assert t.max() < summary.end_ms


def test_signup_first_and_first_feature_once(small: tuple[Path, pa.Table, pa.Table]) -> None:
    _, events, users = small
    uid = events["user_id"].to_numpy(zero_copy_only=False)
    t = events["time"].cast(pa.int64()).to_numpy()
    et = events["event_type"].to_numpy(zero_copy_only=False)
    # the file is ordered by (user_id, time)
    assert np.all(uid[:-1] <= uid[1:])
    same = uid[:-1] == uid[1:]
    assert np.all(t[1:][same] >= t[:-1][same])
    first_rows = np.flatnonzero(np.concatenate(([True], ~same)))
    assert np.all(et[first_rows] == "Signup Submitted")
    assert len(first_rows) == users.num_rows == 4_000
    assert int(np.count_nonzero(et == "Signup Submitted")) == users.num_rows  # exactly once each
    # the signup is strictly before every other event of that user
    second = first_rows + 1
    second = second[(second < len(uid))]
    second = second[uid[second] == uid[second - 1]]
    assert np.all(t[second] > t[second - 1])
    ffu_users = uid[et == "First Feature Used"]
    assert len(ffu_users) == len(set(ffu_users.tolist())) > 0
    # Feature Used never precedes a user's First Feature Used
    fu = events.filter(pc.equal(events["event_type"], "Feature Used"))
    ffu = events.filter(pc.equal(events["event_type"], "First Feature Used"))
    joined = fu.select(["user_id", "time"]).join(
        ffu.select(["user_id", "time"]).rename_columns(["user_id", "ffu_time"]),
        "user_id",
        join_type="left outer",
    )
    assert joined["ffu_time"].null_count == 0
    assert pc.all(pc.greater(joined["time"], joined["ffu_time"])).as_py()


def test_users_table_matches_events(small: tuple[Path, pa.Table, pa.Table]) -> None:
    _, events, users = small
    assert sorted(pc.unique(events["user_id"]).to_pylist()) == users["user_id"].to_pylist()
    created = events.filter(pc.equal(events["event_type"], "Project Created"))
    agg = created.group_by("user_id").aggregate([("user_id", "count")]).to_pylist()
    counts = {r["user_id"]: r["user_id_count"] for r in agg}
    assert sum(counts.values()) > 0
    for row in users.to_pylist():
        assert row["projects_created"] == counts.get(row["user_id"], 0)


def test_power_law_activity(small: tuple[Path, pa.Table, pa.Table]) -> None:
    _, events, _ = small
    agg = events.group_by("user_id").aggregate([("user_id", "count")])
    per_user = np.sort(agg["user_id_count"].to_numpy())
    top = per_user[-len(per_user) // 10 :].sum()
    assert top / per_user.sum() > 0.35  # the top decile does far more than a tenth of the work
    assert per_user.min() >= 1


def test_target_events_and_multiple_blocks(tmp_path: Path) -> None:
    out = tmp_path / "big.parquet"
    users = BLOCK_USERS + 1_234
    summary = generate(users, 30, 5, out, end_ms=END_MS, progress=False, target_events=400_000)
    assert abs(summary.events - 400_000) / 400_000 < 0.1
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == summary.events
    assert meta.num_row_groups >= 2
    ids = pq.read_table(users_path_for(out))["user_id"].to_pylist()
    assert ids == [f"u{i:07d}" for i in range(users)]


def test_rejects_bad_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(0, 10, 1, tmp_path / "x.parquet", end_ms=END_MS, progress=False)
    with pytest.raises(ValueError):
        generate(10, 10, 1, tmp_path / "x.parquet", end_ms=END_MS, progress=False, target_events=0)


def test_heavy_users_get_smaller_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cohortd.synth import generator

    size = generator.users_per_block(1_000, 90, 100_000_000)
    assert size < BLOCK_USERS
    assert size * 100_000 <= generator.BLOCK_EVENTS
    assert generator.users_per_block(1_000_000, 90, 10_000_000) == BLOCK_USERS
    # force several blocks on a tiny run: same users, bounded blocks, still deterministic
    monkeypatch.setattr(generator, "BLOCK_EVENTS", 20_000)
    out_a, out_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    s = generate(600, 30, 9, out_a, end_ms=END_MS, progress=False, target_events=120_000)
    generate(600, 30, 9, out_b, end_ms=END_MS, progress=False, target_events=120_000)
    assert out_a.read_bytes() == out_b.read_bytes()
    assert pq.ParquetFile(out_a).metadata.num_row_groups >= 4
    assert abs(s.events - 120_000) / 120_000 < 0.1
    assert pq.read_table(users_path_for(out_a))["user_id"].to_pylist() == [f"u{i:07d}" for i in range(600)]
