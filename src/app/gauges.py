"""Live CPU/RAM/GPU gauges with a 60-second history graph.

Sampling runs on its own QThread with a timer (NVML and psutil calls can stall for a few ms,
and NVML initialisation for much longer); the panel only receives finished samples through a
queued signal. Without an NVIDIA GPU the GPU gauges say so in words; nothing fails.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Callable, Protocol

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from app import fmt

log = logging.getLogger(__name__)

HISTORY_S = 60.0
DEFAULT_INTERVAL_MS = 500  # twice a second, as the gauges promise

CPU_COLOR = QColor("#1e88e5")
RAM_COLOR = QColor("#8e24aa")
GPU_COLOR = QColor("#43a047")
VRAM_COLOR = QColor("#fb8c00")


class Sampler(Protocol):
    def sample(self): ...  # -> engine.monitor.SystemSample


def default_sampler() -> Sampler:
    from engine import SystemSampler

    return SystemSampler()


class _SamplerWorker(QObject):
    sampled = Signal(object)

    def __init__(self, factory: Callable[[], Sampler], interval_ms: int) -> None:
        super().__init__()
        self._factory = factory
        self._interval = interval_ms
        self._sampler: Sampler | None = None
        self._timer: QTimer | None = None

    @Slot()
    def begin(self) -> None:
        # Created here so the timer and NVML initialisation belong to the sampling thread.
        try:
            self._sampler = self._factory()
        except Exception:  # noqa: BLE001 - no gauges is better than no app
            log.warning("system sampler unavailable", exc_info=True)
            return
        self._timer = QTimer()
        self._timer.setInterval(self._interval)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._tick()

    @Slot()
    def _tick(self) -> None:
        if self._sampler is None:
            return
        try:
            self.sampled.emit(self._sampler.sample())
        except Exception:  # noqa: BLE001
            log.debug("sample failed", exc_info=True)

    @Slot()
    def end(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        close = getattr(self._sampler, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001
                pass


class SystemMonitor(QObject):
    """Owns the sampling thread; emits `sample_ready` on the UI thread."""

    sample_ready = Signal(object)
    _stop = Signal()

    def __init__(
        self,
        sampler_factory: Callable[[], Sampler] | None = None,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("sessionscribe-monitor")
        self._worker = _SamplerWorker(sampler_factory or default_sampler, interval_ms)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.begin)
        self._stop.connect(self._worker.end, Qt.ConnectionType.BlockingQueuedConnection)
        self._worker.sampled.connect(self.sample_ready, Qt.ConnectionType.QueuedConnection)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.isRunning():
            self._stop.emit()
            self._thread.quit()
            self._thread.wait(3000)


class _Tile(QFrame):
    """One gauge: a caption, a value in words and a bar."""

    def __init__(self, title: str, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gaugeTile")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        self.caption = QLabel(title)
        self.caption.setStyleSheet("color: #546e7a; font-size: 11px;")
        self.value = QLabel("—")
        self.value.setStyleSheet("font-weight: 600;")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setStyleSheet(
            f"QProgressBar {{ background: #e3eaf2; border: none; border-radius: 3px; }}"
            f"QProgressBar::chunk {{ background: {color.name()}; border-radius: 3px; }}"
        )
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.bar)
        self.setMinimumWidth(120)

    def show_value(self, text: str, fraction: float | None) -> None:
        self.value.setText(text)
        self.bar.setVisible(fraction is not None)
        if fraction is not None:
            self.bar.setValue(int(max(0.0, min(1.0, fraction)) * 1000))


class HistoryGraph(QWidget):
    """Percent-of-capacity lines for the last 60 s (CPU, RAM, GPU, VRAM)."""

    SERIES = (("CPU", CPU_COLOR), ("RAM", RAM_COLOR), ("GPU", GPU_COLOR), ("VRAM", VRAM_COLOR))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: deque[tuple[float, dict[str, float]]] = deque()
        self.setMinimumSize(260, 70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def add(self, when: float, values: dict[str, float]) -> None:
        self.points.append((when, values))
        while self.points and when - self.points[0][0] > HISTORY_S:
            self.points.popleft()
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        legend_h = 16
        area = QRectF(self.rect()).adjusted(4, 4, -4, -4 - legend_h)
        painter.fillRect(area, QColor("#fafcfe"))
        painter.setPen(QPen(QColor("#dde4ea"), 1))
        for level in (0.0, 0.5, 1.0):
            y = area.bottom() - level * area.height()
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        if self.points:
            newest = self.points[-1][0]
            for name, color in self.SERIES:
                path = QPainterPath()
                started = False
                for when, values in self.points:
                    if name not in values:
                        continue
                    x = area.right() - (newest - when) / HISTORY_S * area.width()
                    y = area.bottom() - max(0.0, min(100.0, values[name])) / 100.0 * area.height()
                    if started:
                        path.lineTo(x, y)
                    else:
                        path.moveTo(x, y)
                        started = True
                if started:
                    painter.setPen(QPen(color, 1.6))
                    painter.drawPath(path)
        # Legend under the plot, plus the time span so "history" is unambiguous.
        painter.setPen(QColor("#546e7a"))
        x = area.left()
        y = area.bottom() + 3
        for name, color in self.SERIES:
            painter.fillRect(QRectF(x, y + 4, 10, 4), color)
            painter.drawText(QRectF(x + 14, y, 50, legend_h), int(Qt.AlignmentFlag.AlignVCenter), name)
            x += 60
        painter.drawText(
            QRectF(area.left(), y, area.width(), legend_h),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            "last 60 s, % of capacity",
        )
        painter.end()


class GaugePanel(QFrame):
    """The strip of gauges at the bottom of the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gaugePanel")
        # psutil's CPU figure is the whole machine: other programs count too, so the tile says
        # so and shows SessionScribe's own share beside it.
        self.cpu = _Tile("CPU, all programs", CPU_COLOR)
        self.cpu.setToolTip(
            "CPU use of the whole computer (every program); \"ours\" is SessionScribe's own share"
        )
        self.ram = _Tile("RAM", RAM_COLOR)
        self.gpu = _Tile("GPU", GPU_COLOR)
        self.vram = _Tile("VRAM", VRAM_COLOR)
        self.gpu_extra = _Tile("GPU temperature · power", GPU_COLOR)
        self.no_gpu = QLabel()
        self.no_gpu.setWordWrap(True)
        self.no_gpu.setStyleSheet("color: #546e7a;")
        self.no_gpu.setMinimumWidth(320)
        self.graph = HistoryGraph()
        self.gpu_name = QLabel()
        self.gpu_name.setStyleSheet("color: #546e7a; font-size: 11px;")

        tiles = QHBoxLayout()
        tiles.setSpacing(6)
        for tile in (self.cpu, self.ram, self.gpu, self.vram, self.gpu_extra):
            tiles.addWidget(tile)
        tiles.addWidget(self.no_gpu)
        left = QVBoxLayout()
        left.addLayout(tiles)
        left.addWidget(self.gpu_name)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addLayout(left, 0)
        layout.addWidget(self.graph, 1)
        self.setFixedHeight(104)
        self._show_gpu(False, "Waiting for the first reading…")
        self.samples_seen = 0

    def _show_gpu(self, available: bool, reason: str = "") -> None:
        for tile in (self.gpu, self.vram, self.gpu_extra):
            tile.setVisible(available)
        self.no_gpu.setVisible(not available)
        if not available:
            self.no_gpu.setText(f"GPU: {reason}.\nTranscription runs on the CPU." if reason else "")

    @Slot(object)
    def show_sample(self, sample) -> None:
        """Render one engine.monitor.SystemSample."""
        self.samples_seen += 1
        own = sample.own_cpu_percent
        self.cpu.show_value(
            f"{sample.cpu_percent:.0f} %" + (f" (ours {own:.0f} %)" if own is not None else ""),
            sample.cpu_percent / 100.0,
        )
        ram_total = sample.ram_total_bytes or 1
        self.ram.show_value(
            f"{fmt.size(sample.ram_used_bytes)} / {fmt.size(sample.ram_total_bytes)}",
            sample.ram_used_bytes / ram_total,
        )
        values = {"CPU": sample.cpu_percent, "RAM": 100.0 * sample.ram_used_bytes / ram_total}
        gpu = sample.gpu
        if gpu is None:
            self._show_gpu(False, (sample.gpu_unavailable_reason or "not available").rstrip("."))
            self.gpu_name.setText("")
        else:
            self._show_gpu(True)
            self.gpu.show_value(f"{gpu.util_percent:.0f} %", gpu.util_percent / 100.0)
            vram_total = gpu.vram_total_bytes or 1
            self.vram.show_value(
                f"{fmt.size(gpu.vram_used_bytes)} / {fmt.size(gpu.vram_total_bytes)}",
                gpu.vram_used_bytes / vram_total,
            )
            temp = "—" if gpu.temperature_c is None else f"{gpu.temperature_c:.0f} °C"
            power = "—" if gpu.power_w is None else f"{gpu.power_w:.0f} W"
            self.gpu_extra.show_value(f"{temp} · {power}", None)
            self.gpu_name.setText(gpu.name)
            values["GPU"] = gpu.util_percent
            values["VRAM"] = 100.0 * gpu.vram_used_bytes / vram_total
        self.graph.add(sample.time, values)
