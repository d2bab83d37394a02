"""Settings persist across restarts; command-line overrides do not; auto values are shown."""
from __future__ import annotations

import json

from app.settings import AppSettings, SettingsStore
from engine.options import TranscribeOptions


def test_settings_persist_across_windows(make_window, settings_path, tmp_path):
    window = make_window()
    panel = window.settings_panel
    panel.device.setCurrentText("cpu")
    panel.compute_type.setCurrentText("int8")
    panel.batch_size.setValue(8)
    panel.language.setCurrentIndex(panel.language.findData("de"))
    panel.hotwords.setText("EMDR, Dr. Okafor")
    panel.hotwords.editingFinished.emit()
    panel.output_dir.setText(str(tmp_path / "out"))
    panel.output_dir.editingFinished.emit()
    panel.formats["vtt"].setChecked(False)
    panel.formats["json"].setChecked(False)
    window.report.gpu_rate.setValue(1.25)
    window.report.api_rate.setValue(0.024)
    window.close()

    saved = json.loads(settings_path.read_text(encoding="utf-8"))
    assert saved["options"]["device"] == "cpu"

    again = make_window().settings_panel
    options = again.settings.options
    assert options.device == "cpu" and options.compute_type == "int8"
    assert options.batch_size == 8 and options.language == "de"
    assert options.hotwords == "EMDR, Dr. Okafor"
    assert options.output_dir == tmp_path / "out"
    assert options.formats == ("txt", "srt")
    assert options.gpu_dollars_per_hour == 1.25 and options.api_dollars_per_minute == 0.024
    # ...and the widgets show them.
    assert again.device.currentText() == "cpu" and again.batch_size.value() == 8
    assert again.formats["srt"].isChecked() and not again.formats["json"].isChecked()


def test_local_model_folder_is_saved(make_window, tiny_model_dir):
    window = make_window()
    assert window.settings_panel.use_model_folder(tiny_model_dir)
    assert window.settings.options.model == str(tiny_model_dir)
    assert "Local model folder" in window.settings_panel.model_state.text()
    window.close()
    assert make_window().settings.options.model == str(tiny_model_dir)


def test_a_folder_without_a_model_is_refused(make_window, tmp_path):
    window = make_window()
    messages = []
    window.settings_panel.message.connect(messages.append)
    assert not window.settings_panel.use_model_folder(tmp_path)
    assert window.settings.options.model == "auto"
    assert "not a Whisper model folder" in messages[-1]


def test_overrides_apply_to_this_run_only(settings_path, tmp_path):
    store = SettingsStore(settings_path)
    settings = AppSettings(options=TranscribeOptions(device="cpu"))
    settings.overrides = {"model": "small", "formats": ("srt",), "output_dir": tmp_path}
    store.save(settings)
    effective = settings.effective_options()
    assert effective.model == "small" and effective.formats == ("srt",) and effective.device == "cpu"
    loaded = store.load()
    assert loaded.options.model == "auto" and loaded.overrides == {}


def test_damaged_settings_file_gives_defaults(settings_path):
    settings_path.parent.mkdir(parents=True)
    settings_path.write_text("{not json", encoding="utf-8")
    assert SettingsStore(settings_path).load().options == TranscribeOptions()


def test_an_unknown_two_microphone_value_falls_back_to_automatic(settings_path):
    store = SettingsStore(settings_path)
    store.save(AppSettings(options=TranscribeOptions(device="cpu", channels="mix")))
    assert store.load().options.channels == "mix"
    data = json.loads(settings_path.read_text(encoding="utf-8"))
    data["options"]["channels"] = "stereo"  # hand-edited, or a later version's
    settings_path.write_text(json.dumps(data), encoding="utf-8")
    loaded = store.load().options
    assert loaded.channels == "auto" and loaded.device == "cpu"  # the rest is kept


def test_batch_size_auto_shows_the_chosen_value(make_window, qtbot):
    window = make_window()
    panel = window.settings_panel
    assert panel.batch_size.text() == "auto"
    panel.refresh_plan()  # the fake engine's plan() says batch 4
    qtbot.waitUntil(lambda: "auto chose 4" in panel.auto_label.text(), timeout=3000)
    assert "2 CPU threads" in panel.auto_label.text()
    # On a CPU the plan has several workers decoding side by side: the label says so, not
    # "1 CPU threads" for a job that keeps every core busy.
    from types import SimpleNamespace

    panel.show_plan(SimpleNamespace(device="cpu", compute_type="int8", batch_size=1, cpu_threads=1,
                                    num_workers=2, model="tiny"))
    text = panel.auto_label.text()
    assert "auto chose 1 per worker (2 decode side by side)" in text and "2 workers x 1 CPU thread(s)" in text


def test_at_least_one_format_stays_on(make_window):
    window = make_window()
    for box in window.settings_panel.formats.values():
        box.setChecked(False)
    assert window.settings.options.formats == ("txt",)


def test_model_download_shows_bytes_and_can_be_cancelled(make_window, qtbot, monkeypatch):
    import threading

    import app.settings_panel as panel_module

    release = threading.Event()

    def fake_download(name, cancel, report):
        report((1_000_000, 4_000_000))
        while not cancel.is_set():
            release.wait(0.02)
        raise RuntimeError("cancelled")

    monkeypatch.setattr(panel_module, "_download", fake_download)
    window = make_window()
    panel = window.settings_panel
    panel.model.setCurrentIndex(panel.model.findData("small"))
    assert panel.download_button.isEnabled()
    panel.download_button.click()
    qtbot.waitUntil(lambda: panel.download_bar.maximum() == 1000 and panel.download_bar.value() == 250, timeout=3000)
    assert "977 KB of 3.8 MB" in panel.download_label.text()
    assert panel.cancel_download_button.isEnabled()
    messages = []
    panel.message.connect(messages.append)
    panel.cancel_download_button.click()
    qtbot.waitUntil(lambda: bool(messages), timeout=3000)
    assert messages[-1] == "Download cancelled"
    assert not panel.download_bar.isVisibleTo(panel)


def test_health_view_shows_the_check_and_the_fix(make_window, qtbot):
    window = make_window()
    window.health.run_check()
    qtbot.waitUntil(lambda: window.health.checked, timeout=3000)
    assert "CPU" in window.health.summary.text()
    assert "NVIDIA driver: not found" in window.health.found.toPlainText()
    assert "Install the NVIDIA driver" in window.health.fixes.text()
