"""Settings tab: model (download or local folder), device, compute type, batch size, language,
hotwords, output folder, formats, speakers, two-microphone recordings. Every change is saved
at once."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs, fmt
from app.background import run_in_background
from app.settings import AppSettings, SettingsStore
from engine import COMPUTE_TYPES, DEVICES, EXPORT_FORMATS, TranscribeOptions

# Shown in the model list before engine.models has been asked (it is imported lazily).
_FALLBACK_MODELS = ("tiny", "base", "small", "medium", "large-v3", "large-v3-turbo", "distil-large-v3")
LANGUAGES = (
    ("auto", "Detect automatically"), ("en", "English"), ("de", "German"), ("fr", "French"),
    ("es", "Spanish"), ("it", "Italian"), ("nl", "Dutch"), ("pt", "Portuguese"), ("pl", "Polish"),
    ("sv", "Swedish"), ("da", "Danish"), ("no", "Norwegian"), ("fi", "Finnish"), ("tr", "Turkish"),
    ("ru", "Russian"), ("uk", "Ukrainian"), ("zh", "Chinese"), ("ja", "Japanese"), ("ko", "Korean"),
    ("ar", "Arabic"), ("he", "Hebrew"), ("hi", "Hindi"),
)


# (label, value): "auto" finds how many speak; a number is given; "off" skips the stage.
SPEAKER_CHOICES: tuple[tuple[str, int | str], ...] = (
    ("Automatic", "auto"), ("2 (one-to-one session)", 2), ("3", 3), ("4", 4), ("Off (one speaker)", "off"),
)
# (label, value of TranscribeOptions.channels): how a recording with two or more channels is
# heard (engine.channel_route). Worded for the clinician, who knows how the room was miked,
# not what a channel layout is.
CHANNEL_CHOICES: tuple[tuple[str, str], ...] = (
    ("Detect automatically", "auto"),
    ("Each channel is one speaker", "speakers"),
    ("Mix channels to mono", "mix"),
)


def _choice_box(choices: tuple[tuple[str, object], ...], tooltip: str) -> QComboBox:
    """A combo box of (label, value) choices, the value as each item's data."""
    box = QComboBox()
    for label, value in choices:
        box.addItem(label, value)
    box.setToolTip(tooltip)
    return box


def split_names(text: str) -> tuple[str, ...]:
    """ "Therapist, Client" -> ("Therapist", "Client"); a blank between commas keeps its place
    (that speaker stays "Speaker N")."""
    names = [" ".join(part.split()) for part in text.split(",")]
    while names and not names[-1]:
        names.pop()
    return tuple(names)


def _list_models() -> list[tuple[str, bool]]:
    from engine import catalog

    return [(entry.name, entry.present) for entry in catalog() if not entry.imported]


def _download(name: str, cancel: threading.Event, report: Callable[[Any], None]) -> Path:
    from engine import download

    from app.engine_adapter import app_model_advice

    return download(name, lambda done, total: report((done, total)), cancel, advice=app_model_advice())


def _model_overview(plan: Callable[[TranscribeOptions], Any] | None, options: TranscribeOptions) -> tuple[list[tuple[str, bool]], Any]:
    """Which models are downloaded, and what "auto" will run on this computer's device."""
    from engine import auto_choice

    device = "cpu"
    if plan is not None:
        try:
            device = str(getattr(plan(options.with_changes(model="auto")), "device", "cpu"))
        except Exception:  # noqa: BLE001 - the CPU's choice is the safe guess
            device = "cpu"
    return _list_models(), auto_choice(device, options.language)


class SettingsPanel(QWidget):
    changed = Signal()  # options changed and were saved
    message = Signal(str)
    manage_models = Signal()  # "Models…": open the model manager
    model_downloaded = Signal(str)  # Settings' own Download finished (jobs may be waiting for it)

    def __init__(
        self,
        settings: AppSettings,
        store: SettingsStore,
        plan: Callable[[TranscribeOptions], Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.store = store
        self._plan = plan  # blocking engine.plan(); run in the background
        self._loading = False
        self._download_cancel: threading.Event | None = None
        self._downloaded: dict[str, bool] = {}
        self._plan_generation = 0
        self.auto: Any = None  # engine.AutoChoice: what "auto" runs here, once known
        self._runtime: Any = None  # the last plan shown

        # --- widgets
        self.model = QComboBox()
        self.model.setMinimumWidth(220)
        # The "auto → model" entry is long: the combo must not push the buttons off the tab.
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(24)
        self.model_folder_button = QPushButton("Use a model folder…")
        self.models_button = QPushButton("Models…")
        self.models_button.setToolTip("See, download, import and delete models")
        self.download_button = QPushButton("Download")
        self.cancel_download_button = QPushButton("Cancel download")
        self.download_bar = QProgressBar()
        self.download_bar.setFormat("%p %")
        self.download_label = QLabel("")
        self.model_state = QLabel("")
        self.model_state.setStyleSheet("color: #607d8b;")
        self.model_state.setWordWrap(True)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.compute_type = QComboBox()
        self.compute_type.addItems(COMPUTE_TYPES)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(0, 256)
        self.batch_size.setSpecialValueText("auto")  # 0 means "let the engine choose"
        self.auto_label = QLabel("")
        self.auto_label.setStyleSheet("color: #607d8b;")
        self.language = QComboBox()
        for code, label in LANGUAGES:
            self.language.addItem(f"{label} ({code})" if code != "auto" else label, code)
        self.language.setToolTip(
            "Detect automatically: each part's language is found on its own, so a session in two "
            "languages is written in both.\nChoose a language to hold it for the whole recording "
            "(English-only models know only English)."
        )
        self.hotwords = QLineEdit()
        self.hotwords.setPlaceholderText("Names and terms to favour, e.g. EMDR, Dr. Okafor, sertraline")
        self.output_dir = QLineEdit()
        self.output_dir.setPlaceholderText("Beside each recording")
        self.output_browse = QPushButton("Choose…")
        self.output_clear = QPushButton("Beside recordings")
        self.formats = {name: QCheckBox(name.upper()) for name in EXPORT_FORMATS}
        # Who said what (issue 12): how many voices to tell apart, and what to call them.
        self.speakers = _choice_box(
            SPEAKER_CHOICES,
            "How many people speak in a recording: 2 for a one-to-one session; automatic finds "
            "how many; off leaves the transcript without speakers (a dictation)",
        )
        self.speaker_names = QLineEdit()
        self.speaker_names.setPlaceholderText("e.g. Therapist, Client (blank: Speaker 1, Speaker 2)")
        self.speaker_names.setToolTip(
            "Names for speakers 1, 2, … in new transcripts, separated by commas. Speaker 1 is "
            "whoever speaks first; rename or swap them in the transcript if they come out the other way round."
        )
        self.channels = _choice_box(
            CHANNEL_CHOICES,
            "For recordings made with two microphones (a stereo file, one microphone per person).\n"
            "Detect automatically: listens to the start of each recording and chooses for you; "
            "right for most sessions.\n"
            "Each channel is one speaker: each person had their own microphone (e.g. two lapel "
            "microphones); every line is given to the person whose microphone heard it.\n"
            "Mix channels to mono: both microphones heard both people (e.g. a recorder on the "
            "table); the speakers are told apart by their voices.\n"
            "Recordings with one channel are not affected.",
        )
        self.formats["docx"].setToolTip("A Word document: a header (recording, date, duration) and the turns")
        self.formats["maxqda"].setToolTip("<name>.maxqda.txt: timestamps and speakers as MAXQDA imports them")
        self.formats["rttm"].setToolTip("<name>.rttm: who spoke when, one line per stretch of speech, "
                                        "as speaker-diarization scorers read it")
        self.retention = QCheckBox("Delete sessions not changed for")
        self.retention_days = QSpinBox()
        self.retention_days.setRange(1, 3650)
        self.retention_days.setSuffix(" days")
        self.retention_days.setValue(90)
        self.override_note = QLabel("")
        self.override_note.setWordWrap(True)
        self.override_note.setStyleSheet("color: #ef6c00;")

        # --- layout
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.download_button)
        model_row.addWidget(self.model_folder_button)
        model_row.addWidget(self.models_button)
        download_row = QHBoxLayout()
        download_row.addWidget(self.download_bar, 1)
        download_row.addWidget(self.download_label)
        download_row.addWidget(self.cancel_download_button)
        batch_row = QHBoxLayout()
        batch_row.addWidget(self.batch_size)
        batch_row.addWidget(self.auto_label, 1)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output_dir, 1)
        out_row.addWidget(self.output_browse)
        out_row.addWidget(self.output_clear)
        formats_row = QHBoxLayout()
        for box in self.formats.values():
            formats_row.addWidget(box)
        formats_row.addStretch(1)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model:", model_row)
        form.addRow("", self.model_state)
        form.addRow("", download_row)
        form.addRow("Device:", self.device)
        form.addRow("Compute type:", self.compute_type)
        form.addRow("Batch size:", batch_row)
        form.addRow("Language:", self.language)
        form.addRow("Hotwords:", self.hotwords)
        form.addRow("Output folder:", out_row)
        form.addRow("Formats:", formats_row)
        form.addRow("Speakers:", self.speakers)
        form.addRow("Speaker names:", self.speaker_names)
        form.addRow("Two-microphone recordings:", self.channels)
        retention_row = QHBoxLayout()
        retention_row.addWidget(self.retention)
        retention_row.addWidget(self.retention_days)
        retention_row.addStretch(1)
        form.addRow("History:", retention_row)
        retention_note = QLabel(
            "Stored transcripts (for search, edits and resuming) and their recordings' names are "
            "deleted at start-up and after each job. Exported files are kept."
        )
        retention_note.setWordWrap(True)
        retention_note.setStyleSheet("color: #78909c;")
        form.addRow("", retention_note)

        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addWidget(self.override_note)
        inner_layout.addLayout(form)
        note = QLabel("Changes apply to recordings that start after the change. Everything stays on this computer.")
        note.setStyleSheet("color: #78909c;")
        note.setWordWrap(True)
        inner_layout.addWidget(note)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self._show_download(False)
        self._fill_models([(name, False) for name in _FALLBACK_MODELS])
        self.load(settings.options)
        self.retention.setChecked(settings.retention_days is not None)
        self.retention_days.setValue(settings.retention_days or 90)
        self.retention_days.setEnabled(self.retention.isChecked())

        # --- signals
        self.model.currentIndexChanged.connect(self._save)
        for combo in (self.device, self.compute_type, self.language, self.speakers, self.channels):
            combo.currentIndexChanged.connect(self._save)
        self.batch_size.valueChanged.connect(self._save)
        self.hotwords.editingFinished.connect(self._save)
        self.speaker_names.editingFinished.connect(self._save)
        self.output_dir.editingFinished.connect(self._save)
        for box in self.formats.values():
            box.toggled.connect(self._save)
        self.retention.toggled.connect(self._save_retention)
        self.retention_days.valueChanged.connect(self._save_retention)
        self.model_folder_button.clicked.connect(self._choose_model_folder)
        self.models_button.clicked.connect(self.manage_models)
        self.output_browse.clicked.connect(self._choose_output)
        self.output_clear.clicked.connect(lambda: (self.output_dir.clear(), self._save()))
        self.download_button.clicked.connect(self.start_download)
        self.cancel_download_button.clicked.connect(self.cancel_download)

    # ----------------------------------------------------------------- options <-> widgets
    def load(self, options: TranscribeOptions) -> None:
        self._loading = True
        try:
            self._select_model(options.model)
            self.device.setCurrentText(options.device)
            self.compute_type.setCurrentText(options.compute_type)
            self.batch_size.setValue(options.batch_size or 0)
            index = self.language.findData(options.language or "auto")
            if index < 0:
                self.language.addItem(options.language or "auto", options.language)
                index = self.language.count() - 1
            self.language.setCurrentIndex(index)
            self.hotwords.setText(options.hotwords or "")
            self.output_dir.setText(str(options.output_dir) if options.output_dir else "")
            for name, box in self.formats.items():
                box.setChecked(name in options.formats)
            choice = "off" if not options.speaker_labels else (options.speakers or "auto")
            index = self.speakers.findData(choice)
            if index < 0:  # a count the list does not offer (set on the command line): keep it
                self.speakers.addItem(str(choice), choice)
                index = self.speakers.count() - 1
            self.speakers.setCurrentIndex(index)
            self.speaker_names.setText(", ".join(options.speaker_names))
            self.channels.setCurrentIndex(max(0, self.channels.findData(options.channels)))
        finally:
            self._loading = False
        self._show_overrides()
        self._update_model_state()

    def options(self) -> TranscribeOptions:
        """The saved options as the widgets show them."""
        formats = tuple(name for name, box in self.formats.items() if box.isChecked())
        language = self.language.currentData()
        output = self.output_dir.text().strip()
        return self.settings.options.with_changes(
            model=self._model_value(),
            device=self.device.currentText(),
            compute_type=self.compute_type.currentText(),
            batch_size=self.batch_size.value() or None,
            language=None if language in (None, "auto") else language,
            hotwords=self.hotwords.text().strip() or None,
            output_dir=Path(output).expanduser() if output else None,
            formats=formats,
            speaker_labels=self.speakers.currentData() != "off",
            speakers=self.speakers.currentData() if isinstance(self.speakers.currentData(), int) else None,
            speaker_names=split_names(self.speaker_names.text()),
            channels=self.channels.currentData(),
        )

    def _save(self) -> None:
        if self._loading:
            return
        options = self.options()
        if not options.formats:
            self.message.emit("Choose at least one output format; keeping TXT")
            self._loading = True
            self.formats["txt"].setChecked(True)
            self._loading = False
            options = options.with_changes(formats=("txt",))
        if options == self.settings.options:
            return
        self.settings.options = options
        try:
            self.store.save(self.settings)
        except OSError as error:
            self.message.emit(fmt.one_line(f"Settings could not be saved: {error}"))
        self._update_model_state()
        self.refresh_plan()
        self.changed.emit()

    def _save_retention(self) -> None:
        """Saved at once; applied at the next start-up or after the next job (see
        MainWindow.apply_retention)."""
        self.retention_days.setEnabled(self.retention.isChecked())
        days = self.retention_days.value() if self.retention.isChecked() else None
        if days == self.settings.retention_days:
            return
        self.settings.retention_days = days
        try:
            self.store.save(self.settings)
        except OSError as error:
            self.message.emit(fmt.one_line(f"Settings could not be saved: {error}"))

    def save_rates(self, gpu_per_hour: float, api_per_minute: float) -> None:
        self.settings.options = self.settings.options.with_changes(
            gpu_dollars_per_hour=gpu_per_hour, api_dollars_per_minute=api_per_minute
        )
        try:
            self.store.save(self.settings)
        except OSError as error:
            self.message.emit(fmt.one_line(f"Settings could not be saved: {error}"))

    def _show_overrides(self) -> None:
        overrides = self.settings.overrides
        if overrides:
            text = ", ".join(f"{k.replace('_', ' ')} = {v if not isinstance(v, tuple) else ','.join(v)}" for k, v in overrides.items())
            self.override_note.setText(f"For this run the command line sets: {text}. Saved settings are unchanged.")
        self.override_note.setVisible(bool(overrides))

    # ----------------------------------------------------------------- model
    def _fill_models(self, models: list[tuple[str, bool]]) -> None:
        current = self._model_value() if self.model.count() else self.settings.options.model
        self._downloaded.update(dict(models))
        self._loading, was_loading = True, self._loading
        self.model.clear()
        self.model.addItem(self._auto_text(), "auto")
        for name, downloaded in models:
            self.model.addItem(f"{name}{'  ✓ downloaded' if downloaded else ''}", name)
        self._select_model(current)
        self._loading = was_loading

    def _select_model(self, value: str) -> None:
        index = self.model.findData(value)
        if index < 0:  # a folder or an unknown name: keep it as its own entry
            label = f"Folder: {value}" if Path(value).is_dir() else value
            self.model.addItem(label, value)
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def _model_value(self) -> str:
        data = self.model.currentData()
        return str(data) if data else self.model.currentText().strip() or "auto"

    def refresh_models(self) -> None:
        """Ask the engine which models are downloaded and what "auto" runs (cache lookups,
        off the UI thread)."""
        plan, options = self._plan, self.settings.effective_options()
        run_in_background(lambda: _model_overview(plan, options), self._fill_models_and_state, lambda reason: None)

    def _fill_models_and_state(self, overview: tuple[list[tuple[str, bool]], Any]) -> None:
        models, self.auto = overview
        self._fill_models(models)
        self._update_model_state()
        if self._runtime is not None:
            self.show_plan(self._runtime)  # its model name may have changed

    def _auto_text(self) -> str:
        """The "auto" entry says what it will actually run, e.g. "auto (best for this
        computer) → small", or the model it falls back to when that one is missing."""
        auto = self.auto
        if auto is None:
            return "auto (best for this computer)"
        if not auto.present:
            return f"auto (best for this computer) → {auto.preferred}, not downloaded"
        return f"auto (best for this computer) → {auto.model}"

    def _update_model_state(self) -> None:
        value = self._model_value()
        folder = Path(value).expanduser()
        downloadable = value not in ("auto",) and not folder.is_dir()
        auto = self.auto
        if value == "auto" and auto is None:
            self.model_state.setText("The engine picks the model that suits this computer.")
        elif value == "auto" and not auto.present:
            self.model_state.setText(
                f"No model is on this computer yet: jobs wait for {auto.preferred}, the best for this "
                "computer. Press Models… to download it or import a model folder."
            )
        elif value == "auto" and auto.model != auto.preferred:
            self.model_state.setText(
                f"{auto.preferred} (the best for this computer) is not downloaded; auto runs {auto.model}, "
                "the best model that is. Models… downloads it."
            )
        elif value == "auto":
            self.model_state.setText(f"auto runs {auto.model}, the best model for this computer (downloaded).")
        elif folder.is_dir():
            self.model_state.setText(f"Local model folder: {folder}")
        elif self._downloaded.get(value):
            self.model_state.setText("Downloaded and ready.")
        else:
            self.model_state.setText("Not downloaded yet: download it now, or it downloads when a job starts.")
        running = self._download_cancel is not None
        self.download_button.setEnabled(downloadable and not running and not self._downloaded.get(value, False))

    def _choose_model_folder(self) -> None:
        folder = file_dialogs.existing_folder(self, "Folder with a CTranslate2 Whisper model")
        if folder:
            self.use_model_folder(folder)

    def use_model_folder(self, folder: Path) -> bool:
        try:
            from engine import is_model_dir

            valid = is_model_dir(folder)
        except Exception:  # noqa: BLE001
            valid = folder.is_dir()
        if not valid:
            self.message.emit(f"{folder.name}: not a Whisper model folder (needs model.bin and config.json)")
            return False
        self._select_model(str(folder))
        self._save()
        return True

    def use_model(self, value: str) -> None:
        """Make `value` (a model name or a model folder, from the model manager) the model
        new jobs use, saved at once."""
        self._select_model(value)
        self._save()

    def start_download(self) -> None:
        name = self._model_value()
        if self._download_cancel is not None or name == "auto" or Path(name).is_dir():
            return
        cancel = threading.Event()
        self._download_cancel = cancel
        self._show_download(True)
        self.download_bar.setRange(0, 0)  # busy until the first byte count arrives
        self.download_label.setText(f"Downloading {name}…")
        self._update_model_state()

        def finished(_path: Path) -> None:
            self._download_done(name, None)

        def failed(reason: str) -> None:
            self._download_done(name, "Download cancelled" if cancel.is_set() else f"Download failed: {reason}")

        run_in_background(lambda report: _download(name, cancel, report), finished, failed, self.show_download_progress)

    def show_download_progress(self, progress: tuple[int, int | None], model: str | None = None) -> None:
        done, total = progress
        self._show_download(True)
        if total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * done / total))
            self.download_label.setText(f"{model + ': ' if model else ''}{fmt.size(done)} of {fmt.size(total)}")
        else:
            self.download_bar.setRange(0, 0)
            self.download_label.setText(f"{model + ': ' if model else ''}{fmt.size(done)}")

    def hide_download_progress(self) -> None:
        if self._download_cancel is None:  # a download started here keeps its bar
            self._show_download(False)

    def cancel_download(self) -> None:
        if self._download_cancel is not None:
            self._download_cancel.set()
            self.download_label.setText("Cancelling…")

    def _download_done(self, name: str, problem: str | None) -> None:
        self._download_cancel = None
        self._show_download(False)
        if problem is None:
            self._downloaded[name] = True
            self.message.emit(f"Model {name} downloaded")
            self.refresh_models()
            self.model_downloaded.emit(name)
        else:
            self.message.emit(fmt.one_line(problem, fmt.REASON_LIMIT))
        self._update_model_state()

    def _show_download(self, visible: bool) -> None:
        for widget in (self.download_bar, self.download_label, self.cancel_download_button):
            widget.setVisible(visible)
        self.cancel_download_button.setEnabled(self._download_cancel is not None)

    # ----------------------------------------------------------------- auto values
    def refresh_plan(self) -> None:
        """Show what 'auto' resolves to (engine.plan runs off the UI thread)."""
        if self._plan is None:
            return
        self._plan_generation += 1
        generation = self._plan_generation
        options = self.settings.effective_options()
        plan = self._plan
        self.auto_label.setText("working out the automatic choices…")

        def done(runtime: Any) -> None:
            if generation == self._plan_generation:
                self.show_plan(runtime)

        def failed(reason: str) -> None:
            if generation == self._plan_generation:
                self.auto_label.setText(f"automatic choices unavailable ({reason})")

        run_in_background(lambda: plan(options), done, failed)

    def show_plan(self, runtime: Any) -> None:
        self._runtime = runtime
        batch = getattr(runtime, "batch_size", None)
        workers = getattr(runtime, "num_workers", 1) or 1
        threads = getattr(runtime, "cpu_threads", "?")
        parts = []
        if self.batch_size.value() == 0 and batch is not None:
            parts.append(f"auto chose {batch}" + (f" per worker ({workers} decode side by side)" if workers > 1 else ""))
        parts.append(
            f"runs on {getattr(runtime, 'device', '?')} · {getattr(runtime, 'compute_type', '?')} · "
            f"model {self._planned_model(runtime)} · "
            + (f"{workers} workers x {threads} CPU thread(s)" if workers > 1 else f"{threads} CPU threads")
        )
        self.auto_label.setText("  —  ".join(parts))
        self.auto_label.setToolTip("What 'auto' settings resolve to on this computer")

    def _planned_model(self, runtime: Any) -> str:
        """The plan names auto's first choice; when that is not on disk, auto runs another."""
        auto = self.auto
        if self._model_value() == "auto" and auto is not None and auto.present:
            return auto.model
        return Path(str(getattr(runtime, "model", "?"))).name

    def _choose_output(self) -> None:
        folder = file_dialogs.existing_folder(self, "Folder for transcripts", self.output_dir.text() or None)
        if folder:
            self.output_dir.setText(str(folder))
            self._save()
