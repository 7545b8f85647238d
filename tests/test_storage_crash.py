"""Crash safety: SIGKILL at random points never loses an acknowledged batch nor half-applies one.

A child process (a script written into tmp and run with this interpreter)
ingests numbered batches into one data directory and prints each batch id
once ``ingest`` has returned, sealing, compacting and merging now and then.
The test kills it with SIGKILL at a random moment, reopens the directory and
checks: every acknowledged batch is there in full, every batch that is there
at all is there in full, user properties agree with the events that survived,
and the directory holds no debris.  The same directory goes through all
trials, so recovery after recovery is exercised too.

Torn tails are also made by hand: the last log record cut short, corrupted,
or followed by garbage is dropped on open and nothing before it is lost.
"""

from __future__ import annotations

import os
import random
import select
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from cohortd import Engine

NOW_MS = 1_704_067_200_000
T0 = 1_600_000_000_000
TRIALS = 24
IDS_PER_TRIAL = 100_000

CHILD = textwrap.dedent(
    """
    import random, sys
    from cohortd import Engine

    data_dir, first_id, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    eng = Engine.open(data_dir, clock=lambda: {now})
    print("open", flush=True)
    for batch in range(first_id, first_id + {ids_per_trial}):
        size = rng.randint(2000, 6000) if rng.random() < 0.1 else rng.randint(1, 200)
        rows = [
            {{
                "user_id": "u%d" % rng.randrange(40),
                "event_type": rng.choice(["open", "click", "buy", "leave"]),
                "time": {t0} + batch * 10_000 + n,
                "batch": batch,
                "n": n,
                "size": size,
                "tag": rng.choice(["a", "b", None]),
                "user_properties": {{"last_batch": batch}},
            }}
            for n in range(size)
        ]
        report = eng.ingest(rows)
        assert report.accepted == size and not report.rejected, report
        print(batch, flush=True)
        r = rng.random()
        if r < 0.12:
            eng.seal()
        elif r < 0.15:
            eng.compact()
        elif r < 0.20 and len(eng.store.sealed) >= 2:
            eng.store.merge(rng.sample(eng.store.sealed, 2))
    """
).format(now=NOW_MS, t0=T0, ids_per_trial=IDS_PER_TRIAL)


def _run_and_kill(script: Path, data_dir: Path, first_id: int, rng: random.Random) -> set[int]:
    """Start the child, SIGKILL it at a random point, return the acknowledged batch ids."""
    proc = subprocess.Popen(
        [sys.executable, str(script), str(data_dir), str(first_id), str(rng.randrange(2**32))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    acked: set[int] = set()
    lines_before_kill = rng.choice([0, 0, 1, 2, 5, 10, 20, 40])
    buf = b""
    seen = -1  # the "open" line does not count
    deadline = time.monotonic() + 20
    try:
        while seen < lines_before_kill and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
            if not chunk:
                break
            buf += chunk
            seen = buf.count(b"\n") - 1
        time.sleep(rng.random() * 0.03)
        assert proc.poll() is None, f"child exited on its own: {proc.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    for line in (buf + out).decode().splitlines():
        if line and line != "open":
            acked.add(int(line))
    return acked


def _check_directory(data_dir: Path, acked: set[int]) -> int:
    """Open the directory and check every invariant; returns the number of stored events."""
    eng = Engine.open(data_dir, clock=lambda: NOW_MS)
    try:
        table = eng.events()
        rows = table.select(["user_id", "time", "batch", "n", "size"]).to_pydict() if table.num_rows else None
        by_batch: dict[int, list[int]] = defaultdict(list)
        size_of: dict[int, set[int]] = defaultdict(set)
        latest: dict[str, int] = {}
        if rows is not None:
            for user, t, b, n, size in zip(
                rows["user_id"], rows["time"], rows["batch"], rows["n"], rows["size"], strict=True
            ):
                by_batch[b].append(n)
                size_of[b].add(size)
                assert t == T0 + b * 10_000 + n
                latest[user] = max(latest.get(user, -1), b)
        missing = sorted(acked - by_batch.keys())
        assert not missing, f"acknowledged batches lost: {missing[:10]}"
        for b, ns in by_batch.items():
            (size,) = size_of[b]
            assert sorted(ns) == list(range(size)), f"batch {b} is partly present ({len(ns)} of {size} rows)"
        # user properties come from the same rows: each user's last_batch is its latest surviving batch
        props = eng.user_properties()
        assert {u: p["last_batch"] for u, p in props.items()} == latest
        # no debris: temporary files and unlisted segments are gone, every listed segment is complete
        names = {s.name for s in eng.store.sealed}
        on_disk = {p.name for p in (data_dir / "segments").iterdir()}
        assert on_disk == {f"{n}.arrow" for n in names} | {f"{n}.index.arrow" for n in names}
        assert not [p for p in data_dir.iterdir() if p.name.endswith(".tmp")]
        for seg in eng.store.sealed:
            keys = np.lexsort((seg.times, seg.users, seg.types))
            assert (keys == np.arange(seg.num_rows)).all()
        return table.num_rows
    finally:
        eng.close()


def test_sigkill_at_random_points_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    data_dir = tmp_path / "data"
    rng = random.Random(int(os.environ.get("COHORTD_CRASH_SEED", "20240101")))
    acked: set[int] = set()
    stored = []
    for trial in range(TRIALS):
        acked |= _run_and_kill(script, data_dir, trial * IDS_PER_TRIAL, rng)
        stored.append(_check_directory(data_dir, acked))
    # the trials did real work: batches were acknowledged and the data only grew
    assert len(acked) > TRIALS
    assert stored == sorted(stored)


# ------------------------------------------------------------------------ torn tails
HEADER = struct.Struct("<II")


def _batch(b: int, size: int = 5) -> list[dict]:
    return [
        {"user_id": f"u{n}", "event_type": "e", "time": T0 + b * 100 + n, "batch": b, "n": n}
        for n in range(size)
    ]


def _batches(eng: Engine) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for b in eng.events().column("batch").to_pylist():
        counts[b] += 1
    return dict(counts)


def _records(path: Path) -> list[tuple[int, int]]:
    """(start, end) of every record in a log file."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        length, _ = HEADER.unpack_from(data, pos)
        out.append((pos, pos + HEADER.size + length))
        pos += HEADER.size + length
    assert pos == len(data)
    return out


def _damage(path: Path, how: str, rng: random.Random) -> bool:
    """Damage the log's tail; returns whether the last record survives."""
    records = _records(path)
    start, end = records[-1]
    data = bytearray(path.read_bytes())
    if how == "cut_payload":
        del data[rng.randrange(start + HEADER.size + 1, end) :]
    elif how == "cut_header":
        del data[start + rng.randrange(1, HEADER.size) :]
    elif how == "flip_payload":
        data[rng.randrange(start + HEADER.size, end)] ^= 0x5A
    elif how == "bad_crc":
        data[start + 4] ^= 0xFF
    elif how == "huge_length":
        data[start : start + 4] = struct.pack("<I", 2**31)
    elif how == "trailing_partial_header":
        data += b"\x07\x00\x00"
    elif how == "trailing_garbage_record":
        data += HEADER.pack(100, 12345) + b"x" * 40
    else:
        raise AssertionError(how)
    path.write_bytes(bytes(data))
    return how.startswith("trailing")


@pytest.mark.parametrize(
    "how",
    [
        "cut_payload",
        "cut_header",
        "flip_payload",
        "bad_crc",
        "huge_length",
        "trailing_partial_header",
        "trailing_garbage_record",
    ],
)
@pytest.mark.parametrize("sealed_first", [False, True])
def test_torn_tail_record_is_dropped_and_nothing_else(tmp_path: Path, how: str, sealed_first: bool) -> None:
    rng = random.Random(how)
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    eng.ingest(_batch(0))
    if sealed_first:
        eng.seal()  # batch 0 lives in a segment, the log holds only batches 1..3
    for b in (1, 2, 3):
        eng.ingest(_batch(b))
    eng.upsert_user_properties([{"user_id": "u0", "plan": "before", "time": T0}])
    eng.ingest(
        [
            {
                "user_id": "u0",
                "event_type": "e",
                "time": T0 + 9_999,
                "batch": 4,
                "n": 0,
                "user_properties": {"plan": "torn"},
            }
        ]
    )
    eng.close()
    (wal,) = sorted(tmp_path.glob("wal-*.log"))
    good_end = _records(wal)[-2][1]
    last_survives = _damage(wal, how, rng)

    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    expect = {0: 5, 1: 5, 2: 5, 3: 5}
    if last_survives:
        expect[4] = 1
    assert _batches(eng) == expect
    assert eng.user_properties()["u0"]["plan"] == ("torn" if last_survives else "before")
    if not last_survives:
        assert wal.stat().st_size == good_end, "the torn record is cut off the log"
    # new records land after the good ones and survive the next reopen
    eng.ingest(_batch(5))
    eng.close()
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    assert _batches(eng) == {**expect, 5: 5}
    eng.close()


def test_a_failed_checkpoint_keeps_logging_to_the_live_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seal that fails (disk full) must not leave later batches in a log replayed twice."""
    from cohortd import Engine
    from cohortd.storage import store as store_mod

    clock = lambda: 1_780_000_000_000  # noqa: E731
    eng = Engine.open(tmp_path, clock=clock)
    eng.ingest([{"user_id": "a", "event_type": "E", "time": clock() - 1, "batch": 1}])

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod.EventStore, "_write_checkpoint", disk_full)
    with pytest.raises(OSError):
        eng.seal()
    monkeypatch.undo()
    eng.ingest([{"user_id": "b", "event_type": "E", "time": clock() - 1, "batch": 2}])
    eng.seal()
    eng.ingest([{"user_id": "c", "event_type": "E", "time": clock() - 1, "batch": 3}])
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    assert sorted(eng.events().column("batch").to_pylist()) == [1, 2, 3]
    eng.close()
