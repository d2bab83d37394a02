"""The 'drop recordings here' area above the queue, with the add buttons and skip notes."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

_IDLE = "QFrame#dropZone { border: 2px dashed #90a4ae; border-radius: 8px; background: #f7f9fb; }"
_HOVER = "QFrame#dropZone { border: 2px dashed #1e88e5; border-radius: 8px; background: #e3f2fd; }"
MAX_NOTES_SHOWN = 4


class DropZone(QFrame):
    files_dropped = Signal(list)  # list[Path]: files and folders, as dropped
    add_files_clicked = Signal()
    add_folder_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setStyleSheet(_IDLE)
        self.hint = QLabel("Drop recordings or folders here (audio or video, folders are searched)")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #455a64; font-size: 14px; border: none; background: transparent;")
        self.add_files = QPushButton("Add files…")
        self.add_folder = QPushButton("Add folder…")
        self.add_files.clicked.connect(self.add_files_clicked)
        self.add_folder.clicked.connect(self.add_folder_clicked)
        row = QHBoxLayout()
        row.addWidget(self.hint, 1)
        row.addWidget(self.add_files)
        row.addWidget(self.add_folder)
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #8d6e63; border: none; background: transparent;")
        self.notes.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addLayout(row)
        layout.addWidget(self.notes)
        self._all_notes: list[str] = []

    def show_notes(self, notes: list[str]) -> None:
        """Say which files were skipped and why (the latest batch; all of it in the tooltip)."""
        self._all_notes = list(notes)
        if not notes:
            self.notes.hide()
            return
        shown = notes[:MAX_NOTES_SHOWN]
        more = len(notes) - len(shown)
        text = "\n".join(f"Skipped — {note}" if "skipped" not in note else note for note in shown)
        if more:
            text += f"\n…and {more} more (hover for the full list)"
        self.notes.setText(text)
        self.notes.setToolTip("\n".join(notes))
        self.notes.show()

    @property
    def note_lines(self) -> list[str]:
        return list(self._all_notes)

    # Drag and drop of files from the desktop / file manager.
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self.setStyleSheet(_HOVER)

    def dragLeaveEvent(self, _event) -> None:
        self.setStyleSheet(_IDLE)

    def dropEvent(self, event: QDropEvent) -> None:
        self.setStyleSheet(_IDLE)
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
