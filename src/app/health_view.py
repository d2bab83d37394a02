"""Health tab: the engine's device check (what was found) and how to fix what is missing."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.background import run_in_background


def _check_device() -> Any:
    from engine import check_device  # imports torch/ctranslate2: never on the UI thread

    return check_device()


class HealthView(QWidget):
    message = Signal(str)

    def __init__(self, check: Callable[[], Any] = _check_device, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._check = check
        self.summary = QLabel("The device check has not run yet.")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-weight: 600;")
        self.found = QPlainTextEdit()
        self.found.setReadOnly(True)
        self.fixes_title = QLabel("How to fix")
        self.fixes_title.setStyleSheet("font-weight: 600;")
        self.fixes = QLabel("")
        self.fixes.setWordWrap(True)
        self.fixes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notices = QLabel("")
        self.notices.setWordWrap(True)
        self.notices.setStyleSheet("color: #ef6c00;")
        self.check_button = QPushButton("Check again")
        self.check_button.clicked.connect(self.run_check)

        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notices)
        layout.addWidget(self.fixes_title)  # the fix first: it is what the user came for
        layout.addWidget(self.fixes)
        layout.addWidget(QLabel("What was found:"))
        layout.addWidget(self.found, 1)
        self.fixes_title.hide()
        self.notices.hide()
        self.checked = False

    def run_check(self) -> None:
        self.check_button.setEnabled(False)
        self.summary.setText("Checking the GPU, driver and libraries…")
        run_in_background(self._check, self.show_health, self._failed)

    def show_health(self, health: Any) -> None:
        self.checked = True
        self.check_button.setEnabled(True)
        usable = bool(getattr(health, "cuda_usable", False))
        self.summary.setText(
            "The GPU is ready: transcription runs on CUDA."
            if usable
            else "No usable GPU: transcription runs on the CPU (slower, but works)."
        )
        self.summary.setStyleSheet(f"font-weight: 600; color: {'#2e7d32' if usable else '#ef6c00'};")
        try:
            lines = list(health.lines())
        except Exception:  # noqa: BLE001
            lines = []
        self.found.setPlainText("\n".join(lines) or "Nothing to report.")
        fixes = list(getattr(health, "fixes", []) or [])
        self.fixes_title.setVisible(bool(fixes))
        self.fixes.setText("\n".join(f"• {fix}" for fix in fixes))

    def _failed(self, reason: str) -> None:
        self.check_button.setEnabled(True)
        self.summary.setText(f"The device check could not run: {reason}")

    def add_notice(self, message: str, fix: str) -> None:
        """A DeviceNotice from a running job (e.g. the GPU failed its warm-up)."""
        text = message + (f" — {fix}" if fix else "")
        current = self.notices.text()
        if text not in current.split("\n"):
            self.notices.setText((current + "\n" + text).strip())
        self.notices.show()
