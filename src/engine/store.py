"""The job store: every run, its windows and its segments, in one private SQLite file.

A long recording is transcribed in *windows* (a few minutes each, cut at silences). Each
finished window is written here with all of its segments in ONE transaction, so a crash,
a power cut or a `kill -9` at 92 % of a 3-hour session loses at most the window in flight:
a rerun of the same content with the same transcript options (`find_resumable`) carries on
after the last committed window.

Privacy: the file holds health data (transcript text). Its folder is created 0700 and the
database (with its -wal/-shm companions) 0600; deleted jobs are overwritten
(`secure_delete`) and the write-ahead log is truncated after a delete. Nothing here logs
transcript text; log lines carry job ids, statuses and counts only.

Damage: every open runs `PRAGMA quick_check`; a damaged file is moved aside (kept, 0600,
`jobs.damaged-<date-time>.sqlite3`) and a new store started, `JobStore.recovered` says
where, and callers tell the user once. See `_damage` for why a 0-byte file counts.

Threads: one `JobStore` may be shared by the engine's worker thread and the UI thread. It
holds one connection guarded by a lock; several `JobStore`s (or processes) on the same file
are fine too (WAL mode, busy timeout).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

import platformdirs

from engine.folders import APP_NAME
from engine.errors import SessionScribeError
from engine.logs import get_logger
from engine.segments import Segment, Word
from engine.speaker_labels import merged, merged_names, sentences
from engine.status import STATUSES

if TYPE_CHECKING:
    from engine.diarize import Voices
    from engine.transcript import Transcript

log = get_logger("store")

DATA_DIR_ENV = "SESSIONSCRIBE_DATA_DIR"
DB_NAME = "jobs.sqlite3"
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 10_000


_SCHEMA_V1 = """
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    input_path   TEXT NOT NULL,
    input_name   TEXT NOT NULL,
    fingerprint  TEXT,
    options_key  TEXT NOT NULL,
    options_json TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN
                     ('queued','running','done','failed','cancelled','interrupted')),
    reason       TEXT,
    language     TEXT,
    duration_s   REAL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    outputs_json TEXT,
    report_json  TEXT,
    runner       TEXT              -- "pid:process-start-time" while status is 'running'
);
CREATE INDEX jobs_resume ON jobs (fingerprint, options_key);
CREATE INDEX jobs_created ON jobs (created_at);

CREATE TABLE windows (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    start_s     REAL NOT NULL,
    end_s       REAL NOT NULL,
    speech_json TEXT NOT NULL,
    segment_count INTEGER NOT NULL, -- positions: a segment's is the sum over earlier windows + seq
    PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;

CREATE TABLE segments (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    window_idx INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    start_s    REAL NOT NULL,
    end_s      REAL NOT NULL,
    text       TEXT NOT NULL,
    text_fold  TEXT NOT NULL,      -- str.casefold() of text: Unicode-correct search
    words_json TEXT,              -- [[start, end, text, probability], ...] or NULL
    edited     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, window_idx, seq),
    FOREIGN KEY (job_id, window_idx) REFERENCES windows (job_id, idx) ON DELETE CASCADE
) WITHOUT ROWID;
-- Search scans this narrow covering index (folded text + key) instead of the wide rows.
CREATE INDEX segments_search ON segments (text_fold);
"""


class StoreError(SessionScribeError):
    """The job store cannot be opened or used (one human line that names the file)."""


@dataclass(frozen=True)
class JobRecord:
    id: str
    input_path: Path
    input_name: str
    fingerprint: str | None
    options_key: str
    options: dict
    status: str
    reason: str | None
    language: str | None
    duration_s: float | None
    created_at: float  # seconds since the epoch
    updated_at: float
    outputs: dict[str, str] = field(default_factory=dict)
    report: dict | None = None
    committed_windows: int = 0
    transcript_info: dict | None = None  # engine.transcript.TranscriptInfo.to_dict() when done


@dataclass(frozen=True)
class WindowRecord:
    index: int
    start_s: float
    end_s: float
    speech: list[tuple[float, float]]
    segments: list[Segment]
    voices: "Voices | None" = None  # engine.diarize.Voices, when speakers were embedded


# --------------------------------------------------------------------------- helpers


def default_data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) 0700; an existing folder keeps its mode, but one other
    users can write into is refused (engine.folders says why)."""
    from engine.folders import private_dir as checked_private_dir

    return checked_private_dir(path, "data", StoreError)


def _private_file(path: Path) -> None:
    """Create `path` 0600 if missing (no umask race), and force 0600 if it exists."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if os.name == "posix":
        os.chmod(path, 0o600)


def file_fingerprint(path: Path) -> str:
    """Identity of a recording's content: its size and a SHA-256 of every byte.

    Renaming or moving a recording keeps its fingerprint; any change to its content does
    not. Streams 1 MiB blocks into one reused buffer. SHA-256 rather than BLAKE2b: OpenSSL's
    SHA-256 uses the CPU's SHA instructions (Apple Silicon, AMD Zen, Intel since Ice Lake),
    1.5-2 GB/s, where CPython's BLAKE2b runs well under 1 GB/s.
    """
    digest = hashlib.sha256()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
            size += count
    return f"sha256-{size}-{digest.hexdigest()}"


def _process_token(pid: int | None = None) -> str:
    import psutil

    process = psutil.Process(pid)
    return f"{process.pid}:{process.create_time():.3f}"


def _runner_alive(token: str | None) -> bool:
    """True when the process that marked a job 'running' is still alive."""
    if not token:
        return False
    try:
        import psutil

        pid_text, started_text = token.split(":", 1)
        process = psutil.Process(int(pid_text))
        return abs(process.create_time() - float(started_text)) < 1.0
    except Exception:  # no such process, access denied, malformed token, no psutil
        return False


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- damage

# SQLite's primary result codes for a damaged file (sqlite3.Error.sqlite_errorcode & 0xff).
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


@dataclass(frozen=True)
class StoreRecovery:
    """A damaged store found at open: where it was kept, and what was wrong with it."""

    damaged: Path  # the old file, moved aside (0600) beside the new store
    problem: str  # e.g. "not a database file", "empty (0 bytes)"

    def notice(self) -> str:
        """One line for the user (CLI stderr, the app's notice)."""
        return (
            f"The job history was damaged ({self.problem}); it was kept as {self.damaged} and a "
            "new, empty history was started. Exported transcripts are not affected."
        )


def _create_schema(conn: sqlite3.Connection) -> None:
    # executescript() would COMMIT first; run the statements inside the caller's transaction
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")


# Version 2: the transcript's own metadata (engine.transcript.TranscriptInfo), so a stored job
# renders the same exports as the run that finished it.
_SCHEMA_V2 = "ALTER TABLE jobs ADD COLUMN transcript_json TEXT"
# Version 3: who said each segment (engine.diarize); NULL where nobody was told apart. Each
# window keeps its voices (speech windows and their speaker embeddings, float16): a resumed
# job tells speakers apart over the whole recording without hearing finished windows again.
_SCHEMA_V3 = (
    "ALTER TABLE segments ADD COLUMN speaker INTEGER",
    "ALTER TABLE windows ADD COLUMN voices_json TEXT",
    "ALTER TABLE windows ADD COLUMN voices BLOB",
)


def _create_store(path: Path) -> None:
    """Build a new, empty store beside `path` and link it into place in one step.

    So a store of ours is never 0 bytes, not even for a moment (a crash between creating the
    file and writing its schema would leave one): a 0-byte jobs.sqlite3 always means a file
    emptied behind our back, and `_damage` can treat it as such. A store another process
    created meanwhile is kept (link() never replaces).
    """
    tmp = path.with_name(f".{path.name}.new-{uuid.uuid4().hex[:8]}")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # recorded in the file's header
            conn.execute("BEGIN IMMEDIATE")
            _create_schema(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()  # the last connection checkpoints the WAL into the file
        fd = os.open(tmp, os.O_RDWR)  # Windows syncs only files open for writing
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError:  # a file system without hard links
            if not os.path.lexists(path):
                os.replace(tmp, path)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(str(tmp) + suffix)
            except FileNotFoundError:
                pass


def _damage(path: Path) -> tuple[str | None, tuple[int, int]]:
    """What is wrong with the store file, or None; and the file's identity (device, inode).

    A 0-byte file is damage, not an empty store: `_create_store` never leaves one, so it was
    emptied behind our back (a full disk, a sync tool, a bad copy) and its history is gone.
    SQLite would silently treat it as a new database, and on open it also DELETES a -wal
    beside a 0-byte file, the one place where some of that history might survive. So it is
    checked before SQLite touches it, and moved aside with its -wal, and the user is told.

    Otherwise `PRAGMA quick_check` (every page's structure; ~O(size), no index cross-check)
    decides. Only SQLite's "corrupt"/"not a database" count: a busy or locked file (another
    process writing) is no damage and is raised as usual.
    """
    info = os.stat(path)
    identity = (info.st_dev, info.st_ino)
    if info.st_size == 0:
        return "empty (0 bytes)", identity
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.DatabaseError as exc:
        if _is_corruption(exc):
            return _problem(exc), identity
        raise
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if _is_corruption(exc):
            return _problem(exc), identity
        raise
    finally:
        conn.close()
    if [tuple(row) for row in rows] != [("ok",)]:
        return "it failed its integrity check", identity
    return None, identity


def _problem(exc: sqlite3.DatabaseError) -> str:
    if "not a database" in str(exc).lower():
        return "not a database file"
    return "its pages are damaged"


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _move_aside(path: Path, problem: str, identity: tuple[int, int]) -> StoreRecovery:
    """Keep the damaged file (and its -wal/-shm) under a dated name, private; never delete.

    `identity` is the file `_damage` judged: if another process has replaced it meanwhile
    (it found the damage first and started a new store), that new store is left alone.
    """
    info = os.stat(path)
    if (info.st_dev, info.st_ino) != identity:
        return StoreRecovery(path, problem)  # already handled by another process
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    target = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    count = 1
    while os.path.lexists(target):
        count += 1
        target = path.with_name(f"{path.stem}.damaged-{stamp}-{count}{path.suffix}")
    os.rename(path, target)
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            os.rename(str(path) + suffix, str(target) + suffix)
        except FileNotFoundError:
            continue
        if os.name == "posix":
            os.chmod(str(target) + suffix, 0o600)
    if os.name == "posix":
        os.chmod(target, 0o600)
    # The log gets the data folder's file names and the kind of damage, nothing else.
    log.warning("job store damaged (%s); kept as %s, new store started", problem, target.name)
    return StoreRecovery(target, problem)


# --------------------------------------------------------------------------- the store


class JobStore:
    def __init__(self, path: Path | None = None) -> None:
        path = default_data_dir() / DB_NAME if path is None else Path(path)
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        # Set when the file was damaged at open and moved aside: callers tell the user once.
        self.recovered: StoreRecovery | None = None
        try:
            private_dir(path.parent)
            if not os.path.lexists(path):
                _create_store(path)
            else:
                problem, identity = _damage(path)
                if problem is not None:
                    self.recovered = _move_aside(path, problem, identity)
                    _create_store(path)
            _private_file(path)  # tighten a file left loose by an older version or a copy
            conn = sqlite3.connect(
                str(path),
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # autocommit; transactions are explicit below
                check_same_thread=False,  # shared across threads, guarded by self._lock
            )
            self._conn = conn
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            # Sorts, indexes being built and VACUUM's working copy hold transcript text:
            # keep them in memory, never in temporary files.
            conn.execute("PRAGMA temp_store = MEMORY")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("job store: WAL mode unavailable (journal_mode=%s)", mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except StoreError:
            self.close()
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            self.close()
            raise StoreError(f"Cannot open the job store {path}: {exc}") from exc
        self._protect_companions()

    # -- lifecycle

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def __enter__(self) -> "JobStore":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _protect_companions(self) -> None:
        # SQLite gives -wal/-shm the database file's own mode; chmod covers files left by
        # an older version or another tool.
        if os.name != "posix":
            return
        for suffix in ("-wal", "-shm", "-journal"):
            companion = Path(str(self.path) + suffix)
            try:
                os.chmod(companion, 0o600)
            except FileNotFoundError:
                pass

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"The job store {self.path} is closed")
            yield self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it is committed, or none of it."""
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _migrate(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The job store {self.path} was written by a newer SessionScribe "
                    f"(schema {version}); update the app to open it"
                )
            if version < 1:
                _create_schema(conn)
            if version < 2:
                conn.execute(_SCHEMA_V2)
                conn.execute("PRAGMA user_version = 2")
            if version < 3:
                for statement in _SCHEMA_V3:
                    conn.execute(statement)
                conn.execute("PRAGMA user_version = 3")
            # Future migrations: `if version < 4: ...; PRAGMA user_version = 4`.

    # -- jobs

    _JOB_COLUMNS = (
        "j.id, j.input_path, j.input_name, j.fingerprint, j.options_key, j.options_json, "
        "j.status, j.reason, j.language, j.duration_s, j.created_at, j.updated_at, "
        "j.outputs_json, j.report_json, j.runner, j.transcript_json, "
        "(SELECT COUNT(*) FROM windows w WHERE w.job_id = j.id) AS committed_windows"
    )

    @staticmethod
    def _job(row: sqlite3.Row) -> JobRecord:
        return JobRecord(
            id=row["id"],
            input_path=Path(row["input_path"]),
            input_name=row["input_name"],
            fingerprint=row["fingerprint"],
            options_key=row["options_key"],
            options=json.loads(row["options_json"]),
            status=row["status"],
            reason=row["reason"],
            language=row["language"],
            duration_s=row["duration_s"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            outputs=json.loads(row["outputs_json"]) if row["outputs_json"] else {},
            report=json.loads(row["report_json"]) if row["report_json"] else None,
            committed_windows=row["committed_windows"],
            transcript_info=json.loads(row["transcript_json"]) if row["transcript_json"] else None,
        )

    def create_job(
        self,
        input_path: Path,
        options: dict,
        options_key: str,
        fingerprint: str | None = None,
        status: str = "queued",
        job_id: str | None = None,
    ) -> JobRecord:
        """A new job row; `job_id`: the caller's own id for it (default: a new one)."""
        _check_status(status)
        input_path = Path(input_path).absolute()
        job_id = job_id or uuid.uuid4().hex
        now = time.time()
        runner = _process_token() if status == "running" else None
        with self._write() as conn:
            conn.execute(
                "INSERT INTO jobs (id, input_path, input_name, fingerprint, options_key, "
                "options_json, status, created_at, updated_at, runner) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    str(input_path),
                    input_path.name,
                    fingerprint,
                    options_key,
                    _dumps(options),
                    status,
                    now,
                    now,
                    runner,
                ),
            )
        log.info("job %s created (%s)", job_id, status)
        job = self.get_job(job_id)
        assert job is not None
        return job

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {self._JOB_COLUMNS} FROM jobs j WHERE j.id = ?", (job_id,)
            ).fetchone()
        return None if row is None else self._job(row)

    def list_jobs(self) -> list[JobRecord]:
        """All jobs, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {self._JOB_COLUMNS} FROM jobs j ORDER BY j.created_at DESC, j.rowid DESC"
            ).fetchall()
        return [self._job(row) for row in rows]

    def find_resumable(
        self, fingerprint: str, options_key: str, name: str | None = None
    ) -> JobRecord | None:
        """The newest job for this content and these transcript options that can be reused.

        That is a 'done' job (its segments can be exported again without recomputing) or an
        unfinished one with at least one committed window. A job still 'running' in a live
        process (another window of the app, the CLI) is never returned.

        `name`: only a job of a recording with this file name. The engine passes it, so a
        copy under another name ("Session 3 - copy.m4a") is a session of its own in the
        history instead of folding into the original's row; a moved file keeps its name and
        its job.
        """
        name_clause = "AND j.input_name = ? " if name is not None else ""
        params = (fingerprint, options_key) + ((name,) if name is not None else ())
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {self._JOB_COLUMNS} FROM jobs j "
                f"WHERE j.fingerprint = ? AND j.options_key = ? {name_clause}"
                "AND (j.status = 'done' OR EXISTS (SELECT 1 FROM windows w WHERE w.job_id = j.id)) "
                "ORDER BY j.created_at DESC, j.rowid DESC",
                params,
            ).fetchall()
        for row in rows:
            if row["status"] == "running" and _runner_alive(row["runner"]):
                continue
            return self._job(row)
        return None

    def _update_job(self, job_id: str, assignments: str, values: Sequence) -> None:
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",
                (*values, time.time(), job_id),
            )
            if cursor.rowcount == 0:
                raise KeyError(f"no job {job_id}")

    def set_status(self, job_id: str, status: str, reason: str | None = None) -> None:
        """Move a job to `status`; 'running' records this process as the one running it."""
        _check_status(status)
        runner = _process_token() if status == "running" else None
        self._update_job(job_id, "status = ?, reason = ?, runner = ?", (status, reason, runner))
        log.info("job %s %s", job_id, status)

    def set_fingerprint(self, job_id: str, fingerprint: str, options_key: str) -> None:
        self._update_job(job_id, "fingerprint = ?, options_key = ?", (fingerprint, options_key))

    def set_language(self, job_id: str, language: str) -> None:
        self._update_job(job_id, "language = ?", (language,))

    def set_duration(self, job_id: str, seconds: float) -> None:
        self._update_job(job_id, "duration_s = ?", (float(seconds),))

    def finish(
        self, job_id: str, outputs: dict[str, str], report: dict, transcript_info: dict | None = None
    ) -> None:
        """Mark a job done with the files it wrote, its run report and its transcript's
        metadata (what the JSON export says: source, duration, language, model)."""
        self._update_job(
            job_id,
            "status = 'done', reason = NULL, runner = NULL, outputs_json = ?, report_json = ?, "
            "transcript_json = ?",
            (
                _dumps({key: str(value) for key, value in outputs.items()}),
                _dumps(report),
                None if transcript_info is None else _dumps(transcript_info),
            ),
        )
        log.info("job %s done (%d outputs)", job_id, len(outputs))

    def delete_job(self, job_id: str) -> None:
        """Remove a job with its windows and segments, and scrub them from the file."""
        self.delete_jobs([job_id])

    def delete_jobs(self, job_ids: Sequence[str]) -> int:
        """Remove jobs with their windows and segments in one transaction; returns how many.

        `secure_delete` zeroes the cells deleted here, but not every copy of the text: when
        SQLite rebalanced pages as the transcript was written, it left stale copies of moved
        cells in the pages' unused space (seen in about one run in three of
        tests/test_history_cli.py). So the file is then rebuilt (`compact`: VACUUM, about
        0.7 s per 85 MB of store), and the write-ahead log emptied.
        """
        with self._write() as conn:
            deleted = sum(
                conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount
                for job_id in job_ids
            )
        for job_id in job_ids:
            log.info("job %s deleted", job_id)
        if deleted:
            self.compact()
        else:
            self._checkpoint()
        return deleted

    def _checkpoint(self) -> None:
        with self._read() as conn:
            try:
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError:
                busy = 1
        if busy:  # old page images stay in the log until a later checkpoint
            log.warning("job store: write-ahead log not emptied (another reader is busy)")

    def expired_jobs(self, before: float, statuses: Sequence[str] | None = None) -> list[JobRecord]:
        """Jobs last changed (queued, run, edited) before `before` (seconds since the epoch),
        newest first; optionally only those in `statuses`. A job running in a live process
        (this app, the CLI beside it) is never expired: its engine is still writing it."""
        jobs = [job for job in self.list_jobs() if job.updated_at < before]
        if statuses is not None:
            jobs = [job for job in jobs if job.status in statuses]
        return [job for job in jobs if not self.running_live(job.id)]

    def running_live(self, job_id: str) -> bool:
        """True while a live process (this one included) is running the job."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT runner FROM jobs WHERE id = ? AND status = 'running'", (job_id,)
            ).fetchone()
        return row is not None and _runner_alive(row["runner"])

    def purge(self, before: float, statuses: Sequence[str] | None = None) -> list[str]:
        """Delete the jobs `expired_jobs` lists; returns their ids."""
        ids = [job.id for job in self.expired_jobs(before, statuses)]
        if ids:
            self.delete_jobs(ids)
        return ids

    def compact(self) -> None:
        """Rebuild the file (VACUUM) so deleted text survives nowhere in it, then empty the
        write-ahead log: every page is written afresh (zeroed, secure_delete carries over to
        VACUUM's copy) and the freed ones are cut off the end.

        temp_store is MEMORY (see __init__), so VACUUM's working copy of the whole store
        never lands in TMPDIR. Another process in the middle of a read (the app beside the
        CLI) can make it busy: then the zeroed rows are all that happened, and the log says
        so; the next delete tries again.
        """
        with self._read() as conn:
            try:
                conn.execute("VACUUM")
            except sqlite3.OperationalError as exc:
                log.warning("job store not compacted after a delete (%s)", exc)
        self._checkpoint()

    def latest_for_path(self, path: Path) -> JobRecord | None:
        """The newest job of the recording at `path` (as given, or with links resolved)."""
        path = Path(path)
        candidates = list(dict.fromkeys([str(path.absolute()), str(path.resolve())]))
        marks = ", ".join("?" for _ in candidates)
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {self._JOB_COLUMNS} FROM jobs j WHERE j.input_path IN ({marks}) "
                "ORDER BY j.created_at DESC, j.rowid DESC LIMIT 1",
                candidates,
            ).fetchone()
        return None if row is None else self._job(row)

    def find_jobs(self, prefix: str) -> list[JobRecord]:
        """Jobs whose id starts with `prefix` (the CLI accepts a short id), newest first."""
        prefix = prefix.strip().lower()
        if not prefix or any(ch not in "0123456789abcdef-" for ch in prefix):
            return []
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {self._JOB_COLUMNS} FROM jobs j WHERE substr(j.id, 1, ?) = ? "
                "ORDER BY j.created_at DESC, j.rowid DESC",
                (len(prefix), prefix),
            ).fetchall()
        return [self._job(row) for row in rows]

    def mark_interrupted_on_open(self) -> list[JobRecord]:
        """Jobs left 'running' by a crash become 'interrupted' (resumable); returns them.

        A job whose recorded process is still alive (e.g. the CLI running beside the app)
        is left alone.
        """
        with self._write() as conn:
            rows = conn.execute("SELECT id, runner FROM jobs WHERE status = 'running'").fetchall()
            stale = [row["id"] for row in rows if not _runner_alive(row["runner"])]
            now = time.time()
            for job_id in stale:
                conn.execute(
                    "UPDATE jobs SET status = 'interrupted', runner = NULL, updated_at = ?, "
                    "reason = 'Stopped unexpectedly (the app or the computer closed); "
                    "run it again to continue where it stopped' WHERE id = ?",
                    (now, job_id),
                )
        if stale:
            log.warning("%d job(s) were interrupted by a crash: %s", len(stale), ", ".join(stale))
        return [job for job in (self.get_job(job_id) for job_id in stale) if job is not None]

    # -- windows and segments

    def commit_window(
        self,
        job_id: str,
        index: int,
        start_s: float,
        end_s: float,
        segments: list[Segment],
        speech: list[tuple[float, float]],
        voices: "Voices | None" = None,
    ) -> None:
        """Store one finished window with all its segments (and its voices), atomically.

        Committing the same index again replaces the window (and drops its old segments,
        including edits).
        """
        speech_json = _dumps([[float(a), float(b)] for a, b in speech])
        rows = [_segment_row(job_id, index, seq, segment) for seq, segment in enumerate(segments)]
        with self._write() as conn:
            conn.execute("DELETE FROM windows WHERE job_id = ? AND idx = ?", (job_id, index))
            conn.execute(
                "INSERT INTO windows (job_id, idx, start_s, end_s, speech_json, segment_count, "
                "voices_json, voices) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, index, float(start_s), float(end_s), speech_json, len(rows), *_voices_columns(voices)),
            )
            conn.executemany(_INSERT_SEGMENT, rows)
            conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time(), job_id))
        log.debug("job %s window %d committed (%d segments)", job_id, index, len(rows))

    def reset_windows(self, job_id: str) -> None:
        """Drop every committed window and segment of a job (its input or settings changed)."""
        with self._write() as conn:
            conn.execute("DELETE FROM windows WHERE job_id = ?", (job_id,))
            conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time(), job_id))
        log.info("job %s windows reset", job_id)

    @staticmethod
    def _segment(row: sqlite3.Row) -> Segment:
        words_json = row["words_json"]
        return Segment(
            start=row["start_s"],
            end=row["end_s"],
            text=row["text"],
            words=None if words_json is None else _words_from_json(words_json),
            speaker=row["speaker"],
        )

    def windows(self, job_id: str) -> list[WindowRecord]:
        """The committed windows of a job, in order, each with its segments."""
        with self._read() as conn:
            window_rows = conn.execute(
                "SELECT idx, start_s, end_s, speech_json, voices_json, voices FROM windows WHERE job_id = ? "
                "ORDER BY idx",
                (job_id,),
            ).fetchall()
            segment_rows = conn.execute(
                "SELECT window_idx, start_s, end_s, text, words_json, speaker FROM segments "
                "WHERE job_id = ? ORDER BY window_idx, seq",
                (job_id,),
            ).fetchall()
        by_window: dict[int, list[Segment]] = {}
        for row in segment_rows:
            by_window.setdefault(row["window_idx"], []).append(self._segment(row))
        return [
            WindowRecord(
                index=row["idx"],
                start_s=row["start_s"],
                end_s=row["end_s"],
                speech=[(float(a), float(b)) for a, b in json.loads(row["speech_json"])],
                segments=by_window.get(row["idx"], []),
                voices=_voices_from_columns(row["voices_json"], row["voices"]),
            )
            for row in window_rows
        ]

    def relabel_window(self, job_id: str, index: int, segments: list[Segment]) -> None:
        """Replace one committed window's segments (its speech and voices stay): the speaker
        stage splits segments at turn changes and names each one's speaker. Edit marks stay
        (see `_replace_segments`): a rerun with another speaker count relabels a finished
        job's windows."""
        self._replace_segments(job_id, {index: segments}, by_hand=False)

    def segments(self, job_id: str) -> list[Segment]:
        """All segments of a job, ordered by window then position in the window."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT start_s, end_s, text, words_json, speaker FROM segments WHERE job_id = ? "
                "ORDER BY window_idx, seq",
                (job_id,),
            ).fetchall()
        return [self._segment(row) for row in rows]

    def transcript(self, job_id: str) -> "Transcript":
        """The job's transcript as it stands (edits included), with its voiced regions and
        metadata: renders the same exports as the run that finished it, or, edited, the
        corrected ones."""
        from engine.transcript import Transcript, TranscriptInfo

        record = self.get_job(job_id)
        if record is None:
            raise KeyError(job_id)
        windows = self.windows(job_id)
        data = dict(record.transcript_info or {})
        data.setdefault("source", record.input_name)
        data.setdefault("duration_s", record.duration_s or 0.0)
        data.setdefault("language", record.language)
        data.setdefault("model", str((record.options or {}).get("model", "")))
        if not data.get("recorded"):  # stored before sessions were dated: the job's own date
            data["recorded"] = datetime.date.fromtimestamp(record.created_at).isoformat()
        info = TranscriptInfo.from_dict(data)
        if self.edited_positions(job_id):
            info = replace(info, edited=True)  # keeps the speakers' names and the date
        return Transcript(
            tuple(segment for window in windows for segment in window.segments),
            tuple(span for window in windows for span in window.speech),
            info,
        )

    def update_segment_text(self, job_id: str, position: int, text: str) -> None:
        """Replace the text of segment number `position` (as in `segments(job_id)`).

        The segment is marked edited and its word timings are dropped: they belong to the
        old wording, and exporters building cues from words would bring it back.
        """
        if position < 0:
            raise IndexError(f"segment position {position} out of range")
        with self._write() as conn:
            windows = conn.execute(
                "SELECT idx, segment_count FROM windows WHERE job_id = ? ORDER BY idx", (job_id,)
            ).fetchall()
            remaining = position
            for window in windows:
                if remaining < window["segment_count"]:
                    break
                remaining -= window["segment_count"]
            else:
                raise IndexError(f"job {job_id} has no segment {position}")
            conn.execute(
                "UPDATE segments SET text = ?, text_fold = ?, words_json = NULL, edited = 1 "
                "WHERE job_id = ? AND window_idx = ? AND seq = ?",
                (text, text.casefold(), job_id, window["idx"], remaining),
            )
            conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time(), job_id))

    def _locate(self, conn: sqlite3.Connection, job_id: str, position: int) -> tuple[int, int]:
        """(window index, seq) of segment number `position` (as in `segments(job_id)`)."""
        if position < 0:
            raise IndexError(f"segment position {position} out of range")
        windows = conn.execute(
            "SELECT idx, segment_count FROM windows WHERE job_id = ? ORDER BY idx", (job_id,)
        ).fetchall()
        remaining = position
        for window in windows:
            if remaining < window["segment_count"]:
                return window["idx"], remaining
            remaining -= window["segment_count"]
        raise IndexError(f"job {job_id} has no segment {position}")

    @staticmethod
    def _transcript_data(conn: sqlite3.Connection, job_id: str) -> dict:
        """The job's transcript metadata as stored ({} before the job finished)."""
        row = conn.execute("SELECT transcript_json FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"no job {job_id}")
        return json.loads(row["transcript_json"]) if row["transcript_json"] else {}

    def _mark_hand_edited(self, conn: sqlite3.Connection, job_id: str, data: dict | None = None, **changes) -> None:
        """Merge `changes` into the job's transcript metadata (`data`, when the caller has just
        read it with `_transcript_data`) and mark it edited by hand (its JSON export says so;
        the app shows exports written before as stale after a restart)."""
        data = self._transcript_data(conn, job_id) if data is None else data
        data.update(changes, edited=True)
        conn.execute(
            "UPDATE jobs SET transcript_json = ?, updated_at = ? WHERE id = ?", (_dumps(data), time.time(), job_id)
        )

    def set_speaker_names(self, job_id: str, names: Sequence[str]) -> None:
        """Name the job's speakers (by number: names[0] is speaker 0): every export rendered
        from `transcript(job_id)` uses them. Stored in the transcript metadata."""
        with self._write() as conn:
            self._mark_hand_edited(conn, job_id, speakers=[str(name) for name in names])

    def set_segment_speaker(self, job_id: str, position: int, speaker: int | None) -> None:
        """Say who said segment number `position` (as in `segments(job_id)`); its words
        follow it. The text and the word timings stay as they are."""
        with self._write() as conn:
            window_idx, seq = self._locate(conn, job_id, position)
            self._set_speaker(conn, job_id, window_idx, seq, speaker)
            self._mark_hand_edited(conn, job_id)

    def swap_speakers(self, job_id: str, first: int, second: int) -> int:
        """Every segment (and word) of speaker `first` becomes `second`'s and the other way
        round, in one transaction; the names stay with the numbers. Returns segments changed."""
        swap = {first: second, second: first}
        with self._write() as conn:
            rows = conn.execute(
                "SELECT window_idx, seq, speaker FROM segments WHERE job_id = ? AND speaker IN (?, ?)",
                (job_id, first, second),
            ).fetchall()
            for row in rows:
                self._set_speaker(conn, job_id, row["window_idx"], row["seq"], swap[row["speaker"]])
            self._mark_hand_edited(conn, job_id)
        return len(rows)

    def merge_speakers(self, job_id: str, source: int, target: int) -> int:
        """Speaker `source` is `target` (one person counted as two, e.g. after a change of
        microphone): every segment and word of theirs becomes `target`'s, the speakers after
        `source` move down one (speaker_labels.merged) and the names follow them, in one
        transaction. Returns segments changed (0 when `source` is `target`)."""
        if source == target:
            return 0
        with self._write() as conn:
            rows = conn.execute(
                "SELECT window_idx, seq, speaker FROM segments WHERE job_id = ? AND speaker >= ?",
                (job_id, source),
            ).fetchall()
            changed = 0
            for row in rows:
                number = merged(row["speaker"], source, target)
                if number != row["speaker"]:
                    self._set_speaker(conn, job_id, row["window_idx"], row["seq"], number)
                    changed += 1
            data = self._transcript_data(conn, job_id)
            names = merged_names(data.get("speakers", []), source, target)
            self._mark_hand_edited(conn, job_id, data, speakers=list(names))
        return changed

    @staticmethod
    def _set_speaker(conn: sqlite3.Connection, job_id: str, window_idx: int, seq: int, speaker: int | None) -> None:
        key = (job_id, window_idx, seq)
        row = conn.execute(
            "SELECT words_json FROM segments WHERE job_id = ? AND window_idx = ? AND seq = ?", key
        ).fetchone()
        words_json = row["words_json"] if row is not None else None
        if words_json is not None:
            words = [replace(word, speaker=speaker) for word in _words_from_json(words_json)]
            words_json = _words_json(words)
        conn.execute(
            "UPDATE segments SET speaker = ?, words_json = ? WHERE job_id = ? AND window_idx = ? AND seq = ?",
            (speaker, words_json, *key),
        )

    def relabel_speakers(self, job_id: str, windows: Mapping[int, Sequence[Segment]]) -> None:
        """Replace the segments of committed windows in one transaction, and mark the
        transcript edited: a finished job's speakers told apart again (engine.speaker_recount).
        Edits of the text keep their marks (see `_replace_segments`)."""
        self._replace_segments(job_id, windows, by_hand=True)

    def split_segment(self, job_id: str, position: int) -> int:
        """Segment number `position` (one speaker's turn) cut back into its sentences
        (speaker_labels.sentences), each keeping its speaker, so one of them can be given to
        another; in one transaction, marked edited. Returns how many rows it became."""
        with self._write() as conn:
            window_idx, seq = self._locate(conn, job_id, position)
            segments = [self._segment(row) for row in conn.execute(
                "SELECT start_s, end_s, text, words_json, speaker FROM segments WHERE job_id = ? AND window_idx = ? "
                "ORDER BY seq", (job_id, window_idx))]
            pieces = sentences(segments[seq])
            if len(pieces) > 1:
                self._store_window_segments(conn, job_id, window_idx, [*segments[:seq], *pieces, *segments[seq + 1:]])
                self._mark_hand_edited(conn, job_id)
        return len(pieces)

    def _replace_segments(self, job_id: str, windows: Mapping[int, Sequence[Segment]], by_hand: bool) -> None:
        """Each window's segments replaced by `windows[index]`, in one transaction."""
        with self._write() as conn:
            for index, segments in windows.items():
                self._store_window_segments(conn, job_id, index, segments)
            if by_hand:
                self._mark_hand_edited(conn, job_id)
            else:
                conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time(), job_id))

    @staticmethod
    def _store_window_segments(conn: sqlite3.Connection, job_id: str, index: int, segments: Sequence[Segment]) -> None:
        """Window `index`'s segments replaced by `segments`, relabelled: a segment whose text
        the user edited (it has no word timings, so relabelling never splits it) comes back with
        the same start, end and text, and keeps its edited mark."""
        if conn.execute("SELECT 1 FROM windows WHERE job_id = ? AND idx = ?", (job_id, index)).fetchone() is None:
            raise KeyError(f"job {job_id} has no window {index}")
        edited = {
            (row["start_s"], row["end_s"], row["text"])
            for row in conn.execute(
                "SELECT start_s, end_s, text FROM segments WHERE job_id = ? AND window_idx = ? AND edited",
                (job_id, index),
            )
        }
        rows = [
            _segment_row(job_id, index, seq, segment,
                         segment.words is None and (float(segment.start), float(segment.end), segment.text) in edited)
            for seq, segment in enumerate(segments)
        ]
        conn.execute("DELETE FROM segments WHERE job_id = ? AND window_idx = ?", (job_id, index))
        conn.executemany(_INSERT_SEGMENT, rows)
        conn.execute("UPDATE windows SET segment_count = ? WHERE job_id = ? AND idx = ?", (len(rows), job_id, index))

    def edited_positions(self, job_id: str) -> list[int]:
        """Positions (as in `segments(job_id)`) of the segments the user has edited."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT pos FROM (SELECT edited, ROW_NUMBER() OVER "
                "(ORDER BY window_idx, seq) - 1 AS pos FROM segments WHERE job_id = ?) "
                "WHERE edited ORDER BY pos",
                (job_id,),
            ).fetchall()
        return [row["pos"] for row in rows]

    def search(
        self, text: str, job_id: str | None = None, *, limit: int | None = None
    ) -> list[tuple[str, int, Segment]]:
        """Segments containing `text`, ignoring case (Unicode case folding: "STRASSE" finds
        "Straße"). No wildcards: "%" and "_" are plain characters.

        Returns (job_id, position, segment), newest job first, then in transcript order, at
        most `limit` of them. An empty query finds nothing.
        """
        needle = text.strip().casefold()
        if not needle:
            return []
        if job_id is None:
            # scan the narrow covering index of folded text, not the wide rows
            hits = "SELECT job_id, window_idx, seq FROM segments INDEXED BY segments_search "
            hits += "WHERE instr(text_fold, ?1) > 0"
            params: tuple = (needle,)
        else:
            hits = "SELECT job_id, window_idx, seq FROM segments "
            hits += "WHERE job_id = ?2 AND instr(text_fold, ?1) > 0"
            params = (needle, job_id)
        sql = (
            f"WITH hits AS ({hits}) "
            "SELECT s.job_id, s.start_s, s.end_s, s.text, s.words_json, s.speaker, s.seq + "
            "  (SELECT COALESCE(SUM(w.segment_count), 0) FROM windows w "
            "   WHERE w.job_id = s.job_id AND w.idx < s.window_idx) AS pos "
            "FROM hits h "
            "JOIN segments s ON s.job_id = h.job_id AND s.window_idx = h.window_idx "
            "  AND s.seq = h.seq "
            "JOIN jobs j ON j.id = s.job_id "
            "ORDER BY j.created_at DESC, j.rowid DESC, s.window_idx, s.seq"
        )
        if limit is not None:
            sql += f" LIMIT {max(0, int(limit))}"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [(row["job_id"], row["pos"], self._segment(row)) for row in rows]

    # -- health

    def integrity_ok(self) -> bool:
        with self._read() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            fk_problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        return [tuple(row) for row in rows] == [("ok",)] and not fk_problems


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown job status {status!r} (expected one of {', '.join(STATUSES)})")


def _words_json(words: Sequence[Word]) -> str:
    return _dumps(
        [
            [float(w.start), float(w.end), w.text, float(w.probability)]
            + ([] if w.speaker is None else [int(w.speaker)])
            for w in words
        ]
    )


def _words_from_json(words_json: str) -> tuple[Word, ...]:
    return tuple(
        Word(**item) if isinstance(item, dict) else Word(*item) for item in json.loads(words_json)
    )


_INSERT_SEGMENT = ("INSERT INTO segments (job_id, window_idx, seq, start_s, end_s, text, text_fold, "
                   "words_json, speaker, edited) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _segment_row(job_id: str, index: int, seq: int, segment: Segment, edited: bool = False) -> tuple:
    words = None if segment.words is None else _words_json(segment.words)
    return (job_id, index, seq, float(segment.start), float(segment.end), segment.text,
            segment.text.casefold(), words, segment.speaker, int(edited))


def _voices_columns(voices: "Voices | None") -> tuple[str | None, bytes | None]:
    if voices is None:
        return None, None
    import numpy as np

    spans = {"regions": [list(r) for r in voices.regions], "windows": [list(w) for w in voices.windows]}
    # float16 halves the store's size; cosine similarity moves by < 1e-3 (engine.diarize).
    return _dumps(spans), np.asarray(voices.embeddings, dtype="<f2").tobytes()


def _voices_from_columns(spans_json: str | None, blob: bytes | None) -> "Voices | None":
    if spans_json is None or blob is None:
        return None
    import numpy as np

    from engine.diarize import EMBEDDING_DIM, Voices

    spans = json.loads(spans_json)
    windows = [tuple(w) for w in spans["windows"]]
    embeddings = np.frombuffer(blob, dtype="<f2").astype(np.float32).reshape(len(windows), EMBEDDING_DIM)
    return Voices([tuple(r) for r in spans["regions"]], windows, embeddings)
