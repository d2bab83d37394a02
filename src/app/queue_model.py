"""Table model of the job queue: one row per recording, drag to reorder, drop files to add."""
from __future__ import annotations

import textwrap
import time
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from app import fmt
from app.jobs import STAGE_LABELS, Job, JobStatus

JOB_MIME = "application/x-sessionscribe-job-ids"
JobRole = Qt.ItemDataRole.UserRole + 1  # the Job object, for the progress delegate

COLUMNS = ("File", "Duration", "Status", "Stage / progress", "Elapsed", "ETA")
COL_FILE, COL_DURATION, COL_STATUS, COL_PROGRESS, COL_ELAPSED, COL_ETA = range(len(COLUMNS))

_STATUS_COLORS = {
    JobStatus.DONE: QColor("#2e7d32"),
    JobStatus.FAILED: QColor("#c62828"),
    JobStatus.CANCELLED: QColor("#8d6e63"),
    JobStatus.CANCELLING: QColor("#8d6e63"),
    JobStatus.RUNNING: QColor("#1565c0"),
}

Index = QModelIndex | QPersistentModelIndex


class QueueModel(QAbstractTableModel):
    files_dropped = Signal(list)  # list[Path] dropped onto the table from outside

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []
        # Wall seconds per audio second of transcription, measured on finished jobs; lets a
        # new job show an ETA before its own transcription has produced a rate.
        self.transcribe_rate: float | None = None

    # ----------------------------------------------------------------- access
    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def job(self, job_id: str) -> Job | None:
        return next((job for job in self._jobs if job.id == job_id), None)

    def row_of(self, job_id: str) -> int:
        return next((row for row, job in enumerate(self._jobs) if job.id == job_id), -1)

    def job_at(self, row: int) -> Job | None:
        return self._jobs[row] if 0 <= row < len(self._jobs) else None

    def next_queued(self) -> Job | None:
        return next((job for job in self._jobs if job.status == JobStatus.QUEUED), None)

    # ----------------------------------------------------------------- changes
    def add_jobs(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        start = len(self._jobs)
        self.beginInsertRows(QModelIndex(), start, start + len(jobs) - 1)
        self._jobs.extend(jobs)
        self.endInsertRows()

    def remove_job(self, job_id: str) -> None:
        row = self.row_of(job_id)
        if row < 0:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._jobs[row]
        self.endRemoveRows()

    def move_job(self, job_id: str, to_row: int) -> bool:
        """Move a job so it sits before the row that is `to_row` now (len = the end)."""
        row = self.row_of(job_id)
        to_row = max(0, min(to_row, len(self._jobs)))
        if row < 0 or to_row in (row, row + 1):
            return False
        if not self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), to_row):
            return False
        job = self._jobs.pop(row)
        self._jobs.insert(to_row if to_row < row else to_row - 1, job)
        self.endMoveRows()
        return True

    def job_changed(self, job_id: str, first: int = 0, last: int | None = None) -> None:
        row = self.row_of(job_id)
        if row >= 0:
            self.dataChanged.emit(self.index(row, first), self.index(row, len(COLUMNS) - 1 if last is None else last))

    def tick(self) -> None:
        """Repaint the live columns of running jobs (elapsed, ETA, busy animation)."""
        for row, job in enumerate(self._jobs):
            if job.status in (JobStatus.RUNNING, JobStatus.CANCELLING):
                self.dataChanged.emit(self.index(row, COL_PROGRESS), self.index(row, COL_ETA))

    # ----------------------------------------------------------------- Qt model API
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        job = self.job_at(index.row()) if index.isValid() else None
        if job is None:
            return None
        column = index.column()
        if role == JobRole:
            return job
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(job, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS:
            return _STATUS_COLORS.get(job.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_DURATION, COL_ELAPSED, COL_ETA):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, job: Job, column: int) -> str | None:
        now = time.monotonic()
        if column == COL_FILE:
            return job.name
        if column == COL_DURATION:
            return fmt.clock(job.duration_s)
        if column == COL_STATUS:
            return "Needs a model" if job.missing_model and job.status == JobStatus.FAILED else job.status.value
        if column == COL_PROGRESS:
            return self.progress_text(job)
        if column == COL_ELAPSED:
            return fmt.clock(job.elapsed_s(now)) if job.started_at is not None else ""
        if column == COL_ETA:
            eta = job.eta_s(now, self.transcribe_rate)
            return fmt.clock(eta) if eta is not None else ("" if job.status != JobStatus.RUNNING else "—")
        return None

    @staticmethod
    def progress_text(job: Job) -> str:
        """What the progress cell says; the delegate draws a bar behind it while running."""
        if job.status == JobStatus.FAILED:
            reason = job.reason or "Failed"
            # The file column already names the file; the tooltip keeps the full line.
            prefix = f"{job.name}: "
            return reason[len(prefix):] if reason.startswith(prefix) else reason
        if job.status == JobStatus.CANCELLED:
            return "Cancelled"
        if job.status == JobStatus.DONE:
            report = job.report
            rtf = report.rtf if report is not None else 0.0
            extra = f" · {1 / rtf:.0f}× real-time speed" if rtf > 0 else ""
            if report is not None and report.resumed_windows:
                extra += " · resumed"  # the speed is this run's part; the tooltip says more
            # After a restart the row has no clock of its own: the report kept the run's time.
            elapsed = job.elapsed_s()
            if elapsed is None and report is not None and report.wall_s:
                elapsed = report.wall_s
            return f"Finished in {fmt.clock(elapsed)}{extra}" if elapsed is not None else f"Done{extra}"
        if job.status == JobStatus.QUEUED:
            return "Waiting"
        stage = job.current_stage()
        if stage is None:
            if job.status == JobStatus.CANCELLING:
                return "Cancelling…"
            return job.activity or "Loading the model…"
        fraction = job.stages[stage].fraction
        prefix = "Cancelling · " if job.status == JobStatus.CANCELLING else ""
        return f"{prefix}{STAGE_LABELS[stage]} {fraction * 100:.0f} %"

    def _tooltip(self, job: Job, column: int) -> str:
        lines = [str(job.path)]
        if job.reason:  # wrapped: Qt does not wrap a plain-text tooltip, and it is long
            lines.append(textwrap.fill(job.reason, 100))
        if column == COL_PROGRESS and job.started_at is not None:
            for stage, state in job.stages.items():
                if state.started_at is None:
                    lines.append(f"{STAGE_LABELS[stage]}: not started")
                elif state.skipped:
                    lines.append(f"{STAGE_LABELS[stage]}: off")
                elif state.finished_at is not None:
                    lines.append(f"{STAGE_LABELS[stage]}: done ({fmt.short_seconds(state.seconds)})")
                else:
                    lines.append(f"{STAGE_LABELS[stage]}: {state.fraction * 100:.0f} %")
        resumed = job.report.resume_text() if job.report is not None else ""
        if resumed:
            lines.append(resumed)
        lines.extend(job.notes[-3:])
        return "\n".join(lines)

    # ----------------------------------------------------------------- drag and drop
    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsDropEnabled  # dropping between rows / on empty space
        if not index.isValid():
            return base
        return base | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [JOB_MIME, "text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        rows = sorted({index.row() for index in indexes if index.isValid()})
        mime = QMimeData()
        mime.setData(JOB_MIME, "\n".join(self._jobs[row].id for row in rows).encode())
        return mime

    def canDropMimeData(self, data: QMimeData, action, row: int, column: int, parent: Index) -> bool:
        return data.hasFormat(JOB_MIME) or data.hasUrls()

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent: Index) -> bool:
        if row < 0:
            row = parent.row() if parent.isValid() else len(self._jobs)
        if data.hasFormat(JOB_MIME):
            ids = bytes(data.data(JOB_MIME).data()).decode().split("\n")
            # Move in reverse so several dragged rows keep their order before `row`.
            target = row
            for job_id in ids:
                old = self.row_of(job_id)
                if old < 0:
                    continue
                if self.move_job(job_id, target):
                    new = self.row_of(job_id)
                    target = new + 1
                else:
                    target = old + 1
            # The model did the move itself; returning False stops the view from also
            # deleting the "source" rows as it would after a copy-style move.
            return False
        if data.hasUrls():
            paths = [Path(url.toLocalFile()) for url in data.urls() if url.isLocalFile()]
            if paths:
                self.files_dropped.emit(paths)
                return True
        return False
