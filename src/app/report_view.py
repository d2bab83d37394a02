"""Run report of a finished job: where the time went, how fast, how heavy, what it cost."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app import fmt
from app.jobs import STAGE_LABELS, STAGE_TABLE, STAGES, Job, JobStatus

STAGE_COLORS = {stage.value: QColor(row.colour) for stage, row in STAGE_TABLE.items()}


class StageBar(QWidget):
    """Horizontal bar split by busy seconds per stage, with a legend underneath."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stages: dict[str, float] = {}
        self.setMinimumHeight(58)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_stages(self, stages: dict[str, float]) -> None:
        self.stages = {name: max(0.0, float(sec)) for name, sec in stages.items()}
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRectF(0, 2, self.width() - 1, 24)
        total = sum(self.stages.values())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#eceff1"))
        painter.drawRoundedRect(bar, 4, 4)
        x = bar.left()
        order = [s.value for s in STAGES] + [n for n in self.stages if n not in {s.value for s in STAGES}]
        if total > 0:
            for name in order:
                seconds = self.stages.get(name, 0.0)
                if seconds <= 0:
                    continue
                width = bar.width() * seconds / total
                painter.setBrush(STAGE_COLORS.get(name, QColor("#90a4ae")))
                painter.drawRect(QRectF(x, bar.top(), width, bar.height()))
                if width > 44:
                    painter.setPen(QColor("white"))
                    painter.drawText(QRectF(x, bar.top(), width, bar.height()), int(Qt.AlignmentFlag.AlignCenter), f"{100 * seconds / total:.0f} %")
                    painter.setPen(Qt.PenStyle.NoPen)
                x += width
        # Legend: every stage with its seconds, so small slivers are still readable.
        painter.setPen(QColor("#37474f"))
        lx, ly = 0.0, bar.bottom() + 8
        for name in order:
            if name not in self.stages:
                continue
            label = STAGE_LABELS.get(_stage(name), name.title()) if _stage(name) else name.title()
            text = f"{label} {fmt.short_seconds(self.stages[name])}"
            painter.fillRect(QRectF(lx, ly + 4, 10, 10), STAGE_COLORS.get(name, QColor("#90a4ae")))
            width = painter.fontMetrics().horizontalAdvance(text) + 28
            painter.drawText(QRectF(lx + 14, ly, width, 18), int(Qt.AlignmentFlag.AlignVCenter), text)
            lx += width
        painter.end()


def _count(value, label: str) -> str:
    if not isinstance(value, int):
        return f"— {label}s"
    return f"{value} {label}{'s' if value != 1 else ''}"


def _stage(name: str):
    return next((s for s in STAGES if s.value == name), None)


class ReportView(QWidget):
    rates_changed = Signal(float, float)  # GPU $/hour, API $/minute (persisted by the window)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.placeholder = QLabel("The run report appears here when the selected recording has finished.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #607d8b;")

        self.stage_bar = StageBar()
        self.stage_note = QLabel("Busy time per stage. Stages overlap (the next part decodes while the current one is transcribed), so they add up to more than the total.")
        self.stage_note.setWordWrap(True)
        self.stage_note.setStyleSheet("color: #78909c; font-size: 11px;")

        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key, label in (
            ("audio", "Recording length"),
            ("wall", "Total time"),
            ("rtf", "Real-time factor"),
            ("resumed", "Resumed"),
            ("ram", "Peak RAM"),
            ("vram", "Peak VRAM"),
            ("device", "Device · compute type"),
            ("model", "Model"),
            ("batch", "Batch size"),
            ("threads", "Threads"),
            ("check", "Speech check"),
        ):
            value = QLabel("—")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = value
            form.addRow(label + ":", value)

        # Priced as what the run used: GPU time on a GPU, CPU time without one (set per report).
        self.gpu_rate = QDoubleSpinBox(prefix="$", suffix=" / hour computing", decimals=3, maximum=1000.0, singleStep=0.05)
        self.gpu_rate.setToolTip("What an hour of this computer's time costs you (GPU time on a GPU run, CPU time otherwise)")
        self.api_rate = QDoubleSpinBox(prefix="$", suffix=" / minute API", decimals=4, maximum=100.0, singleStep=0.001)
        self.cost_line = QLabel("—")
        self.cost_line.setWordWrap(True)
        self.cost_line.setStyleSheet("font-weight: 600;")
        rates = QHBoxLayout()
        rates.addWidget(QLabel("Rates:"))
        rates.addWidget(self.gpu_rate)
        rates.addWidget(self.api_rate)
        rates.addStretch(1)
        cost_box = QGroupBox("Cost")
        cost_layout = QVBoxLayout(cost_box)
        cost_layout.addWidget(self.cost_line)
        cost_layout.addLayout(rates)

        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 0, 0, 0)
        stage_box = QGroupBox("Stage breakdown")
        stage_layout = QVBoxLayout(stage_box)
        stage_layout.addWidget(self.stage_bar)
        stage_layout.addWidget(self.stage_note)
        details.addWidget(stage_box)
        numbers = QGroupBox("Run")
        numbers.setLayout(form)
        details.addWidget(numbers)
        details.addWidget(cost_box)
        details.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.details, 1)
        self.gpu_rate.valueChanged.connect(self._rates_edited)
        self.api_rate.valueChanged.connect(self._rates_edited)
        self.set_job(None)

    def set_rates(self, gpu_per_hour: float, api_per_minute: float) -> None:
        for box, value in ((self.gpu_rate, gpu_per_hour), (self.api_rate, api_per_minute)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self._update_cost()

    def _rates_edited(self) -> None:
        self._update_cost()
        self.rates_changed.emit(self.gpu_rate.value(), self.api_rate.value())

    def set_job(self, job: Job | None) -> None:
        self.job = job
        report = job.report if job is not None and job.status == JobStatus.DONE else None
        self.details.setVisible(report is not None)
        self.placeholder.setVisible(report is None)
        if job is not None and report is None:
            self.placeholder.setText(
                f"{job.name}: the run report appears when transcription has finished."
                if not job.status.finished
                else f"{job.name}: no run report ({job.status.value.lower()})."
            )
        if report is None:
            return
        self.stage_bar.set_stages(dict(report.stages))
        self.fields["audio"].setText(fmt.clock(report.audio_s))
        self.fields["wall"].setText(fmt.short_seconds(report.wall_s))
        rtf = report.rtf
        self.fields["rtf"].setText(f"{rtf:.3f}  ({1 / rtf:.0f}× faster than real time)" if rtf > 0 else "—")
        # A resumed run's numbers cover only what it transcribed itself: say so beside them.
        self.fields["resumed"].setText(report.resume_text() or "no: this run transcribed the whole recording")
        self.fields["ram"].setText(fmt.size(report.peak_ram_bytes))
        vram = report.peak_vram_bytes
        self.fields["vram"].setText(fmt.size(vram) if vram is not None else "not used (CPU run)")
        self.fields["device"].setText(f"{report.device or '—'} · {report.compute_type or '—'}")
        self.fields["model"].setText(report.model or "—")
        self.fields["batch"].setText(str(report.batch_size))
        # Transcription workers decode clips side by side, each with its own CPU threads.
        self.fields["threads"].setText(
            f"{_count(report.num_workers, 'transcription worker')} of "
            f"{_count(report.cpu_threads, 'CPU thread')} each · "
            f"{_count(report.vad_workers, 'speech-detection worker')}"
        )
        self.fields["check"].setWordWrap(True)
        self.fields["check"].setText(report.check_text())
        self._update_cost()

    def _update_cost(self) -> None:
        report = self.job.report if self.job is not None else None
        if report is None:
            self.cost_line.setText("—")
            return
        gpu_rate, api_rate = self.gpu_rate.value(), self.api_rate.value()
        cost = report.cost(gpu_dollars_per_hour=gpu_rate, api_dollars_per_minute=api_rate)
        audio_min = report.run_audio_s / 60.0  # a resumed run did only part of it
        saved = cost.api_dollars - cost.gpu_dollars
        # One $/hour rate, priced as what the run used: GPU time, or CPU time without a GPU.
        kind = "GPU" if report.device == "cuda" else "CPU"
        self.gpu_rate.setSuffix(f" / hour {kind} time")
        self.cost_line.setText(
            f"{kind} time {fmt.short_seconds(cost.gpu_seconds)} at {fmt.money(gpu_rate)}/h = {fmt.money(cost.gpu_dollars)}"
            f"\nvs speech API {audio_min:.1f} min at {fmt.money(api_rate)}/min = {fmt.money(cost.api_dollars)}"
            + (f"   (saves {fmt.money(saved)})" if saved > 0 else "")
        )
