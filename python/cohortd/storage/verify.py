"""``cohortd verify``: check every file of a data directory without changing anything.

For each event store (a directory with ``manifest.json`` or a log): the
manifest parses and matches its own checksum; every file it lists exists with
the recorded size and CRC-32 (files of old manifests without a recorded sum
are read as Arrow instead); every log record is intact and decodes (a torn
last record is reported, not counted as damage: the next open drops it);
quarantined records and debris are listed.  For each catalog: SQLite's
``PRAGMA integrity_check`` on a read-only connection.

The result is a list of :class:`Finding`; ``problems`` are the findings that
would stop a project opening or have lost data (damaged, missing).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from cohortd.storage import wal
from cohortd.storage.files import FileSum, file_sum

PROBLEMS = ("damaged", "missing")


@dataclass(frozen=True)
class Finding:
    """One checked file: ``status`` is ok, damaged, missing, torn, quarantined, unverified or debris."""

    path: str
    # manifest, segment, index, dictionary, userprops, identity, groups, log, quarantine, catalog, debris
    kind: str
    status: str
    detail: str = ""


@dataclass
class VerifyReport:
    root: str
    findings: list[Finding]

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status in PROBLEMS]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {
            "root": self.root,
            "ok": self.ok,
            "checked": len(self.findings),
            "problems": len(self.problems),
            "files": [asdict(f) for f in self.findings],
        }


def verify_data_dir(root: Path) -> VerifyReport:
    """Every event store and catalog under ``root`` (a workspace or a single store directory)."""
    root = Path(root)
    findings: list[Finding] = []
    stores = sorted(
        {p.parent for p in root.rglob("manifest.json")} | {p.parent for p in root.rglob("wal-*.log")}
    )
    for store in stores:
        findings += verify_store(store)
    for catalog in sorted(root.rglob("catalog.sqlite")):
        findings.append(verify_catalog(catalog))
    return VerifyReport(str(root), findings)


def _kind(name: str) -> str:
    if name.startswith("segments/"):
        return "index" if name.endswith(".index.arrow") else "segment"
    if name.startswith("identity"):
        return "identity"
    if name.startswith("group"):
        return "groups"
    return "userprops" if name.startswith(("userprops", "userhist")) else "dictionary"


def verify_store(path: Path) -> list[Finding]:
    out: list[Finding] = []
    manifest_path = path / "manifest.json"
    listed: set[str] = set()
    segments: set[str] = set()
    if manifest_path.exists():
        manifest = _check_manifest(manifest_path, out)
        if manifest is not None:
            segments = set(manifest.get("segments", []))
            gen = manifest.get("generation", 0)
            names = [f"segments/{s}{ext}" for s in segments for ext in (".arrow", ".index.arrow")]
            names += [f"dict-{k}-{gen:08d}.arrow" for k in ("users", "types", "values")]
            names.append(f"userprops-{gen:08d}.arrow")
            sums = manifest.get("files", {})
            for optional in ("identity", "groups", "groupprops", "userhist"):  # since issues #16 and #15
                if f"{optional}-{gen:08d}.arrow" in sums:
                    names.append(f"{optional}-{gen:08d}.arrow")
            for name in names:
                listed.add(name)
                out.append(_check_file(path / name, _kind(name), sums.get(name)))
    elif any((path / "segments").glob("*.arrow")) and not (path / "wal-00000000.log").exists():
        out.append(
            Finding(str(manifest_path), "manifest", "missing", "segments exist but no manifest lists them")
        )
    for log_path in sorted(path.glob("wal-*.log")):
        out.append(_check_log(log_path))
    for rec in sorted((path / "quarantine").glob("*.rec")):
        reason_path = rec.with_suffix(".reason")
        reason = reason_path.read_text(errors="replace") if reason_path.exists() else ""
        out.append(Finding(str(rec), "quarantine", "quarantined", reason))
    for p in sorted((path / "segments").glob("*")) if (path / "segments").is_dir() else []:
        rel = f"segments/{p.name}"
        if rel not in listed:
            out.append(Finding(str(p), "debris", "debris", "not listed in the manifest (removed on open)"))
    return out


def _check_manifest(path: Path, out: list[Finding]) -> dict | None:
    from cohortd.storage.store import _manifest_checksum

    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        out.append(Finding(str(path), "manifest", "damaged", f"unreadable JSON: {exc}"))
        return None
    if not isinstance(manifest, dict):
        out.append(Finding(str(path), "manifest", "damaged", "not a JSON object"))
        return None
    stored = manifest.pop("checksum", None)
    if stored is None:
        out.append(Finding(str(path), "manifest", "unverified", "written by an older version (no checksum)"))
    elif stored != _manifest_checksum(manifest):
        out.append(Finding(str(path), "manifest", "damaged", "fails its checksum"))
        return None
    else:
        out.append(Finding(str(path), "manifest", "ok"))
    return manifest


def _check_file(path: Path, kind: str, recorded: dict | None) -> Finding:
    if not path.exists():
        return Finding(str(path), kind, "missing", "listed in the manifest")
    if recorded is None:
        try:
            with pa.memory_map(str(path)) as source:
                ipc.open_file(source).read_all().validate(full=True)
        except (pa.ArrowException, OSError, ValueError) as exc:
            return Finding(str(path), kind, "damaged", f"not a readable Arrow file: {exc}")
        return Finding(str(path), kind, "unverified", "no checksum recorded; reads as Arrow")
    want = FileSum(recorded["size"], recorded["crc32"])
    got = file_sum(path)
    if got != want:
        return Finding(
            str(path),
            kind,
            "damaged",
            f"size {got.size} crc32 {got.crc32:08x}, recorded size {want.size} crc32 {want.crc32:08x}",
        )
    return Finding(str(path), kind, "ok")


def _check_log(path: Path) -> Finding:
    records, size, problem = wal.inspect(path)
    if problem is not None:
        status = "torn" if problem.startswith("torn") else "damaged"
        return Finding(str(path), "log", status, f"{records} intact records; {problem}")
    undecodable = 0
    for record in wal.intact_records(path):
        try:
            ipc.open_stream(pa.py_buffer(record.payload)).read_all()
        except (pa.ArrowException, OSError, ValueError):
            undecodable += 1
    if undecodable:
        return Finding(str(path), "log", "quarantined", f"{undecodable} of {records} records undecodable")
    return Finding(str(path), "log", "ok", f"{records} records, {size} bytes")


def verify_catalog(path: Path) -> Finding:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("PRAGMA integrity_check").fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return Finding(str(path), "catalog", "damaged", str(exc))
    result = "; ".join(str(r[0]) for r in rows)
    return Finding(
        str(path), "catalog", "ok" if result == "ok" else "damaged", "" if result == "ok" else result
    )
