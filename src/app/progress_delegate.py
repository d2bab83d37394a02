"""Paints the 'Stage / progress' cell: the running stage's own bar plus a five-step strip.

While a stage has started but reported no progress yet, a moving stripe is drawn instead of
an empty bar, so the row never looks stuck at 0 % while work is happening.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.jobs import STAGES, Job, JobStatus
from app.queue_model import JobRole, QueueModel

BAR = QColor("#90caf9")  # light, so the dark label stays readable over it
BAR_BG = QColor("#e3eaf2")
STRIP_DONE = QColor("#43a047")
STRIP_ACTIVE = QColor("#1e88e5")
STRIP_IDLE = QColor("#cfd8dc")
FAILED = QColor("#c62828")


class StageProgressDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        job: Job | None = index.data(JobRole)
        if job is None or job.status not in (JobStatus.RUNNING, JobStatus.CANCELLING):
            super().paint(painter, option, index)
            return
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight().color().lighter(170))
        rect = QRectF(option.rect).adjusted(4, 4, -4, -4)
        strip_h = 4.0
        bar = QRectF(rect.left(), rect.top(), rect.width(), rect.height() - strip_h - 3)
        strip = QRectF(rect.left(), bar.bottom() + 3, rect.width(), strip_h)

        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BAR_BG)
        painter.drawRoundedRect(bar, 3, 3)

        stage = job.current_stage()
        fraction = job.stages[stage].fraction if stage is not None else 0.0
        if fraction > 0:
            painter.setBrush(BAR)
            painter.drawRoundedRect(QRectF(bar.left(), bar.top(), bar.width() * fraction, bar.height()), 3, 3)
        else:
            # Busy stripe: work has started but the stage has not measured progress yet.
            width = bar.width() * 0.25
            phase = (time.monotonic() * 0.6) % 1.0
            left = bar.left() + (bar.width() - width) * (phase * 2 if phase < 0.5 else 2 - phase * 2)
            painter.setBrush(BAR)
            painter.drawRoundedRect(QRectF(left, bar.top(), width, bar.height()), 3, 3)

        # One small segment per stage: green = finished, blue = running (filled to its
        # fraction), grey = not started. Shows the overlap of stages at a glance.
        gap = 3.0
        seg_w = (strip.width() - gap * (len(STAGES) - 1)) / len(STAGES)
        for i, each in enumerate(STAGES):
            state = job.stages[each]
            seg = QRectF(strip.left() + i * (seg_w + gap), strip.top(), seg_w, strip.height())
            painter.setBrush(STRIP_IDLE)
            painter.drawRect(seg)
            if state.finished_at is not None:
                painter.setBrush(STRIP_DONE)
                painter.drawRect(seg)
            elif state.started_at is not None:
                painter.setBrush(STRIP_ACTIVE)
                painter.drawRect(QRectF(seg.left(), seg.top(), max(2.0, seg_w * state.fraction), seg.height()))

        painter.setPen(QPen(QColor("#102a43")))
        text_rect = bar.adjusted(6, 0, -6, 0)
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), QueueModel.progress_text(job))
        painter.restore()

    def initStyleOption(self, option: QStyleOptionViewItem, index) -> None:
        super().initStyleOption(option, index)
        job: Job | None = index.data(JobRole)
        if job is not None and job.status == JobStatus.FAILED:
            option.palette.setColor(option.palette.ColorRole.Text, FAILED)
            # A reason reads from its start ("not a recording that can be read (…"); the
            # table's middle elision suits file names, not sentences. The tooltip has it all.
            option.textElideMode = Qt.TextElideMode.ElideRight
