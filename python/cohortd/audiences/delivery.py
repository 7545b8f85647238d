"""Delivery: one worker thread per audience turns cohort changes into acknowledged batches.

The contract (also in ``docs/audiences.md``):

- The first delivery is the full membership (``full: true``); later ones carry
  only the users who entered (``added``) or exited (``removed``) since the last
  acknowledged delivery.  A delivery of ``n`` users is split into
  ``ceil(n / batch_size)`` batches (``batch.seq`` 1..``batch.of``); removals
  come first, then additions.  Nothing to add or remove: nothing is sent.
- Each batch has an idempotency key ``<audience uid>-<delivery number>:<version>:<seq>``.  A
  failed batch (no 2xx, timeout, connection error) is retried under the same
  key after ``backoff_delay(n)``: 0.5 s x 2^n capped at 30 s, times a random
  factor in [0.5, 1) (jitter), for as long as it fails.  Batches of one
  audience are sent one at a time, in version order.
- The delivery is written to the store before its first batch is sent, and
  every acknowledged batch is recorded, so after a crash the remaining batches
  are resent under the same keys; then the acknowledged member set becomes
  ``(held - removed) | added``.  The next delivery is the exact difference
  between the cohort at that moment and that set, however many versions the
  cohort moved meanwhile: a backlog collapses into one difference.
- Workers never take the maintenance lock and never touch the ingest path
  except to read identifiers, so a failing or slow destination only delays its
  own audience.

Modes: ``realtime`` syncs whenever the cohort's maintained version moves (the
change log behind ``Watch`` wakes the worker), ``every DURATION`` at most once
per duration, ``once`` delivers the full membership once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
from pyroaring import BitMap

from cohortd.audiences.destinations import Batch, Destination, open_destination
from cohortd.audiences.holdout import Holdout
from cohortd.audiences.identifiers import Identifier, parse_identifier
from cohortd.audiences.model import (
    FAILING_AFTER,
    FORMATS,
    AudienceError,
    AudienceInfo,
    DestinationInfo,
    SyncAttempt,
    check_name,
    parse_mode,
    parse_share,
)
from cohortd.audiences.store import AudienceRecord, AudienceStore, Pending
from cohortd.errors import NotFoundError

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["RETRY_BASE_S", "RETRY_CAP_S", "AudienceService", "backoff_delay"]

log = logging.getLogger("cohortd.audiences")

RETRY_BASE_S = 0.5
RETRY_CAP_S = 30.0
IDLE_WAIT_S = 0.5
"""How long an idle worker waits for a change before looking at its audience again."""
PRUNE_INTERVAL_MS = 3_600_000
DEFAULT_BATCH = 1_000
MAX_BATCH = 100_000


def backoff_delay(
    attempt: int, rng: random.Random | None = None, base_s: float = RETRY_BASE_S, cap_s: float = RETRY_CAP_S
) -> float:
    """Seconds before retry ``attempt`` (0-based): ``min(30, 0.5 * 2^attempt) * U[0.5, 1)``."""
    r = (rng or random).random()
    return min(cap_s, base_s * 2.0 ** min(attempt, 16)) * (0.5 + r / 2)


class AudienceService:
    """The audiences of one project: configuration, state and (when ``deliver``) the workers."""

    def __init__(self, project: Project, deliver: bool = False) -> None:
        self.project = project
        self.store = AudienceStore(project.directory / "audiences.sqlite", project._clock)
        project.engine.store.purge_listeners.append(self.store.forget_users)  # user deletion's purge
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}
        self._delivering = False
        self._last_prune = 0
        self.retry_base_s = RETRY_BASE_S  # the backoff schedule (tests shorten it)
        self.retry_cap_s = RETRY_CAP_S
        if deliver:
            self.start()

    @property
    def clock(self):  # type: ignore[no-untyped-def]
        return self.project._clock

    def start(self) -> None:
        """Start a worker for every audience (and for every audience created later)."""
        with self._lock:
            self._delivering = True
        for rec in self.store.audiences():
            self._spawn(rec.name)

    def _spawn(self, name: str) -> None:
        with self._lock:
            if not self._delivering or name in self._workers:
                return
            worker = self._workers[name] = _Worker(self, name)
        worker.start()

    def _retire(self, name: str) -> None:
        with self._lock:
            worker = self._workers.pop(name, None)
        if worker is not None:
            worker.stop()

    def close(self) -> None:
        """Stop every worker (an interrupted delivery resumes on the next start), close the store."""
        with self._lock:
            self._delivering = False
            workers, self._workers = list(self._workers.values()), {}
        for w in workers:
            w.stopping.set()
        for w in workers:
            w.stop()
        self.store.close()

    # --------------------------------------------------------- destinations
    def create_destination(
        self,
        name: str,
        *,
        webhook: str | None = None,
        secret: str | None = None,
        directory: str | None = None,
        fmt: str | None = None,
        shape: str = "cohortd",
    ) -> tuple[DestinationInfo, str | None]:
        """Store a destination; returns it and the generated secret (None when one was given)."""
        import secrets as _secrets

        check_name("destination", name)
        if (webhook is None) == (directory is None):
            raise AudienceError("give exactly one of a webhook URL or a directory")
        generated = None
        if webhook is not None:
            if not webhook.startswith(("http://", "https://")):
                raise AudienceError(f"webhook {webhook!r}: expected an http:// or https:// URL")
            if fmt:
                raise AudienceError("--format applies to directory destinations only")
            if shape not in ("cohortd", "meta"):
                raise AudienceError(f"payload shape {shape!r}: expected cohortd or meta")
            if not secret:
                secret = generated = _secrets.token_hex(24)
            info = DestinationInfo(name, "webhook", url=webhook, shape=shape)
        else:
            fmt = fmt or "jsonl"
            if fmt not in FORMATS:
                raise AudienceError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
            if secret:
                raise AudienceError("--secret applies to webhook destinations only")
            info = DestinationInfo(name, "file", path=str(directory), format=fmt, shape="file")
            secret = ""
        return self.store.create_destination(info, secret), generated

    def list_destinations(self) -> list[DestinationInfo]:
        return self.store.destinations()

    def delete_destination(self, name: str) -> None:
        self.store.delete_destination(name)

    # ------------------------------------------------------------ audiences
    def create_audience(
        self,
        name: str,
        cohort: str,
        destination: str,
        identifier: str = "user_id",
        hashing: str = "none",
        mode: str = "realtime",
        batch_size: int = DEFAULT_BATCH,
        holdout: float | str = 0.0,
    ) -> AudienceInfo:
        """Bind a saved cohort to a destination; a running server starts delivering at once.

        ``holdout`` (e.g. ``"10%"``): that share of the members is never delivered (see holdout.py).
        """
        check_name("audience", name)
        share = parse_share(holdout)
        identifier, hashing = parse_identifier(identifier, hashing)
        parsed = parse_mode(mode)
        if not 1 <= batch_size <= MAX_BATCH:
            raise AudienceError(f"batch size {batch_size}: expected 1 to {MAX_BATCH:,}")
        self.project.get_cohort(cohort)  # NOT_FOUND for unknown cohorts
        self.store.create_audience(
            name, cohort, destination, identifier, hashing, parsed.text, batch_size, share
        )
        self._spawn(name)
        return self.audience(name)

    def audience(self, name: str) -> AudienceInfo:
        return self._info(self.store.audience(name))

    def list_audiences(self) -> list[AudienceInfo]:
        return [self._info(r) for r in self.store.audiences()]

    def audience_log(self, name: str, limit: int = 50) -> list[SyncAttempt]:
        return self.store.log(name, limit)

    def pause(self, name: str) -> AudienceInfo:
        self.store.set_paused(name, True)
        with self._lock:
            worker = self._workers.get(name)
        if worker is not None:
            worker.paused = True
            worker.kick.set()
        return self.audience(name)

    def resume(self, name: str) -> AudienceInfo:
        self.store.set_paused(name, False)
        with self._lock:
            worker = self._workers.get(name)
        if worker is not None:
            worker.paused = False
            worker.kick.set()
        return self.audience(name)

    def delete_audience(self, name: str) -> None:
        self.store.audience(name)
        self._retire(name)
        self.store.delete_audience(name)

    def _info(self, r: AudienceRecord) -> AudienceInfo:
        membership = self.project.maintainer.membership(r.cohort)
        pending = self.store.pending(r.name)
        _, held = self.store.acknowledged(r.name)
        statuses = self.store.recent_statuses(r.name, FAILING_AFTER)
        with self._lock:
            worker = self._workers.get(r.name)
        behind = worker.behind_since_ms if worker is not None else None
        if r.paused:
            status = "paused"
        elif len(statuses) == FAILING_AFTER and all(s == "failed" for s in statuses):
            status = "FAILING"
        elif r.mode == "once" and r.acked_version and pending is None:
            status = "done"
        elif membership is None:
            status = "waiting"  # the cohort is archived: nothing is maintained to deliver
        else:
            status = "active"
        lag = 0 if behind is None else max(0, self.clock() - behind)
        return AudienceInfo(
            r.name, r.cohort, r.destination, r.identifier, r.hashing, r.mode, r.batch_size, status,
            r.acked_version, len(held), r.last_success_ms, lag, r.failures, r.last_error, r.created_ms,
            r.holdout,
        )  # fmt: skip

    def _maybe_prune(self) -> None:
        now = self.clock()
        if now - self._last_prune >= PRUNE_INTERVAL_MS:
            self._last_prune = now
            self.store.prune(now)


class _Worker:
    """Delivers one audience, one batch at a time, on its own thread."""

    def __init__(self, service: AudienceService, name: str) -> None:
        self.service = service
        self.store = service.store
        self.name = name
        self.stopping = threading.Event()
        self.kick = threading.Event()
        self.paused = False
        self.behind_since_ms: int | None = None
        self._destination: tuple[str, Destination] | None = None
        self._holdout: Holdout | None = None
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=f"cohortd-audience-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.kick.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        if self._destination is not None:
            self._destination[1].close()

    # ------------------------------------------------------------------ loop
    def _run(self) -> None:
        maintainer = self.service.project.maintainer
        while not self.stopping.is_set():
            try:
                rec = self.store.audience(self.name)
                self.paused = rec.paused
                if rec.paused:
                    self.kick.wait(IDLE_WAIT_S)
                    self.kick.clear()
                    continue
                pending = self.store.pending(self.name)
                if pending is not None:
                    self._deliver(rec, pending)
                    continue
                seen = maintainer.version  # read before the members: a later change wakes us
                membership = maintainer.membership(rec.cohort)
                if membership is not None and self._due(rec, membership.version):
                    self._sync(rec, membership.members, membership.version)
                    continue
                if rec.mode.startswith("every"):
                    self.kick.wait(IDLE_WAIT_S)
                    self.kick.clear()
                else:
                    maintainer.wait(seen, IDLE_WAIT_S)
            except NotFoundError:
                return  # the audience was deleted
            except Exception:
                if self.stopping.is_set():
                    return  # the store is closing
                log.exception("audience %r: delivery step failed; retrying", self.name)
                self.stopping.wait(RETRY_CAP_S)

    def _due(self, rec: AudienceRecord, version: int) -> bool:
        mode = parse_mode(rec.mode)
        if mode.kind == "once":
            return rec.acked_version == 0
        if version == rec.acked_version:
            self.behind_since_ms = None
            return False
        if self.behind_since_ms is None:
            self.behind_since_ms = self.service.clock()
        if mode.kind == "every" and rec.acked_version:
            last = rec.last_attempt_ms or 0
            return self.service.clock() - last >= mode.interval_ms
        return True

    def _sync(self, rec: AudienceRecord, members: BitMap, version: int) -> None:
        """Start the delivery of the difference between ``members`` and what the destination holds."""
        ident = Identifier(self.service.project.engine, rec.identifier, rec.hashing)
        if rec.holdout > 0:
            members = members - self._hold_out(rec, ident, members, version)
        acked_version, held = self.store.acknowledged(self.name)
        entering = members - held
        added = ident.identifiable(entering)
        skipped = len(entering) - len(added)
        gone = held - members
        removed = ident.identifiable(gone)
        skipped += len(gone) - len(removed)
        full = acked_version == 0
        if not added and not removed and not full:
            self.store.advance(self.name, version)
            self.behind_since_ms = None
            return
        size = self._size(rec)
        of = max(1, -(-(len(added) + len(removed)) // size))
        pending = Pending(version, full, added, removed, skipped, of, 0)
        self.store.begin(self.name, pending)
        self._deliver(rec, self.store.pending(self.name) or pending)

    def _hold_out(self, rec: AudienceRecord, ident: Identifier, members: BitMap, version: int) -> BitMap:
        """The held-out members now; records those who entered the holdout since the last sync."""
        if self._holdout is None:
            self._holdout = Holdout(self.service.project.engine, rec.uid, rec.holdout)
        now = self._holdout.held(ident.identifiable(members))
        before = self.store.held_out(self.name)
        if now != before:
            self.store.hold_out(self.name, now, now - before, version // 1000)
        return now

    def _size(self, rec: AudienceRecord) -> int:
        dest = self._open(rec)
        return 2**62 if dest.whole_deliveries else rec.batch_size

    def _open(self, rec: AudienceRecord) -> Destination:
        if self._destination is None or self._destination[0] != rec.destination:
            info = self.store.destination(rec.destination)
            self._destination = (rec.destination, open_destination(info, self.store.secret(rec.destination)))
        return self._destination[1]

    def _deliver(self, rec: AudienceRecord, p: Pending) -> None:
        """Send batches ``p.done + 1 .. p.of``, each until acknowledged, then commit."""
        dest = self._open(rec)
        ident = Identifier(self.service.project.engine, rec.identifier, rec.hashing)
        acked_version, held = self.store.acknowledged(self.name)
        if self.behind_since_ms is None:
            self.behind_since_ms = self.service.clock()
        ids = np.concatenate(
            (np.asarray(p.removed.to_array(), np.uint32), np.asarray(p.added.to_array(), np.uint32))
        )
        n_removed = len(p.removed)
        size = max(1, -(-len(ids) // p.of))
        for seq in range(p.done + 1, p.of + 1):
            lo, hi = (seq - 1) * size, min(seq * size, len(ids))
            cut = min(max(n_removed - lo, 0), hi - lo)
            batch = Batch(
                audience=rec.name,
                cohort=rec.cohort,
                destination=rec.destination,
                version=p.version,
                from_version=acked_version,
                full=p.full,
                seq=seq,
                of=p.of,
                idempotency_key=f"{rec.uid}-{p.number}:{p.version}:{seq}",
                identifier=rec.identifier,
                hashing=rec.hashing,
                added=ident.values(ids[lo + cut : hi]) if hi > lo + cut else [],
                removed=ident.values(ids[lo : lo + cut]) if cut else [],
            )
            if not self._send(dest, batch, p.skipped if seq == 1 else 0):
                return  # stopping or paused: the store keeps the pending delivery
        entered = p.added if rec.holdout > 0 else None  # entries of the delivered arm, for lift
        self.store.commit(self.name, p.version, (held - p.removed) | p.added, entered)
        self.behind_since_ms = None
        self.service._maybe_prune()

    def _send(self, dest: Destination, batch: Batch, skipped: int) -> bool:
        attempt = 0
        while not self.stopping.is_set() and not self.paused:
            t0 = time.perf_counter()
            outcome = dest.send(batch)
            latency = (time.perf_counter() - t0) * 1000
            self.store.attempt(
                SyncAttempt(
                    audience=batch.audience,
                    time_ms=self.service.clock(),
                    from_version=batch.from_version,
                    to_version=batch.version,
                    full=batch.full,
                    seq=batch.seq,
                    of=batch.of,
                    added=len(batch.added),
                    removed=len(batch.removed),
                    skipped=skipped,
                    skip_reason="no identifier" if skipped else "",
                    status="ok" if outcome.ok else "failed",
                    http_status=outcome.http_status,
                    error=outcome.error,
                    latency_ms=round(latency, 3),
                    idempotency_key=batch.idempotency_key,
                ),
                acked_batch=outcome.ok,
            )
            if outcome.ok:
                return True
            delay = backoff_delay(attempt, self._rng, self.service.retry_base_s, self.service.retry_cap_s)
            attempt += 1
            if self.kick.wait(delay):  # woken early: paused, resumed or stopping
                self.kick.clear()
        return False
