"""The model manager (issue 13 item 1) and a job that needs a model that is not there (its
row offers the fix), against the local stand-in for the model hub (tests/support/fake_hub.py)
with a private hub cache and a private data folder."""
from __future__ import annotations

import io
import socket
import tarfile
import zipfile
from pathlib import Path

import pytest

from app.jobs import JobStatus
from app.model_manager import COL_FOLDER, COL_SIZE, COL_STATE, ModelManager
from support.fake_hub import MODEL_FILES, hub, hub_cache  # noqa: F401 (fixtures)

from engine import catalog, models_dir


def _row(manager: ModelManager, name: str) -> int:
    return next(row for row, entry in enumerate(manager.entries) if entry.name == name)


def _cell(manager: ModelManager, name: str, column: int) -> str:
    return manager.table.item(_row(manager, name), column).text()


def _listed(qtbot, manager: ModelManager, name: str, present: bool = True) -> None:
    """Wait until the list (read on a pool thread) shows `name` on disk (or not)."""
    qtbot.waitUntil(
        lambda: any(entry.name == name and entry.present == present for entry in manager.entries), timeout=10000
    )


def _open(window, qtbot, select: str | None = None) -> ModelManager:
    manager = window.open_model_manager(select)
    qtbot.waitUntil(lambda: bool(manager.entries), timeout=10000)
    return manager


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Path:
    """An empty private hub cache and a hub nobody answers at (a closed port)."""
    from huggingface_hub import constants

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = tmp_path / "hf" / "hub"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    return cache


def test_lists_a_model_on_disk_with_its_size_and_folder(make_window, qtbot, hub_cache):
    from engine.models import download

    folder = download("tiny")  # as if another tool had fetched it into the shared cache
    window = make_window()
    manager = _open(window, qtbot)
    assert _cell(manager, "tiny", COL_STATE) == "✓ on disk"
    assert _cell(manager, "tiny", COL_FOLDER) == str(folder) and folder.is_relative_to(hub_cache)
    assert _cell(manager, "tiny", COL_SIZE).endswith(" MB")
    assert _cell(manager, "small", COL_STATE) == "not downloaded"
    assert _cell(manager, "small", COL_SIZE) == "~484 MB download"
    assert manager.summary.text().startswith("1 model on this computer")
    manager.select("small")
    assert manager.download_button.isEnabled() and manager.download_button.text() == "Download small (~484 MB)"
    manager.select("tiny")
    assert not manager.download_button.isEnabled() and manager.delete_button.isEnabled()


def test_download_shows_bytes_and_cancel_leaves_no_partial_model(make_window, qtbot, hub, hub_cache):
    window = make_window()
    manager = _open(window, qtbot, "tiny")
    hub.delay = 0.05  # model.bin arrives slowly: there is time to cancel
    manager.download_button.click()
    assert manager.downloading == "tiny" and not manager.download_button.isEnabled()
    qtbot.waitUntil(lambda: manager.progress.maximum() == 1000 and manager.progress.value() > 0, timeout=10000)
    assert " of " in manager.progress_label.text() and manager.cancel_button.isEnabled()
    assert _cell(manager, "tiny", COL_STATE).startswith("downloading ")
    manager.cancel_button.click()
    qtbot.waitUntil(lambda: manager.downloading is None, timeout=10000)
    assert "cancelled" in manager.status.text()
    assert not manager.progress.isVisibleTo(manager)
    # Nothing half-fetched stays: no partial file, no snapshot without its model.bin.
    assert not list(hub_cache.rglob("*.incomplete"))
    assert not list(hub_cache.rglob("snapshots/*/*"))
    assert not next(entry for entry in catalog() if entry.name == "tiny").present
    _listed(qtbot, manager, "tiny", present=False)

    # The next download completes; the list, Settings and the window hear of it.
    hub.delay = 0.0
    with qtbot.waitSignal(manager.models_changed, timeout=20000):
        manager.start_download("tiny")
    _listed(qtbot, manager, "tiny")
    assert "tiny downloaded" in manager.status.text()
    qtbot.waitUntil(lambda: window.settings_panel._downloaded.get("tiny") is True, timeout=10000)


def test_offline_download_fails_in_one_line_naming_the_way_out(make_window, qtbot, offline):
    window = make_window()
    manager = _open(window, qtbot, "small")
    manager.download_button.click()
    qtbot.waitUntil(lambda: manager.downloading is None, timeout=20000)
    text = manager.status.text()
    assert "no connection to the model hub" in text and "Import folder…" in text
    assert "\n" not in text and "Traceback" not in text and "sessionscribe" not in text


def test_import_a_model_folder(make_window, qtbot, tiny_model, tmp_path):
    window = make_window()
    manager = _open(window, qtbot)
    manager.choose_folder = lambda: tiny_model
    with qtbot.waitSignal(manager.models_changed, timeout=10000):
        manager.import_folder_button.click()
    _listed(qtbot, manager, "tiny-imported")  # not to be mistaken for the named model "tiny"
    entry = manager.entry("tiny-imported")
    assert entry.imported and entry.folder.parent == models_dir()
    assert (entry.folder / "model.bin").read_bytes() == (tiny_model / "model.bin").read_bytes()
    assert "(imported)" in _cell(manager, "tiny-imported", 0)
    assert _cell(manager, "tiny", COL_STATE) == "not downloaded"
    # "Use in Settings" makes it the model new jobs use.
    manager.select("tiny-imported")
    manager.use_button.click()
    assert window.settings.options.model == str(entry.folder)

    # A folder that is not a model is refused in one line, and nothing is left behind.
    not_a_model = tmp_path / "notes"
    not_a_model.mkdir()
    (not_a_model / "model.bin").write_bytes(b"x")
    manager.choose_folder = lambda: not_a_model
    manager.import_folder_button.click()
    qtbot.waitUntil(lambda: "not imported" in manager.status.text(), timeout=10000)
    assert "missing config.json" in manager.status.text()
    assert sorted(path.name for path in models_dir().iterdir()) == ["tiny-imported"]


def _archive(kind: str, source: Path, into: Path, top: str = "faster-whisper-tiny") -> Path:
    if kind == "zip":
        path = into / f"{top}.zip"
        with zipfile.ZipFile(path, "w") as zipped:
            for name in MODEL_FILES:
                zipped.write(source / name, f"{top}/{name}")
    else:
        path = into / f"{top}.tar.gz"
        with tarfile.open(path, "w:gz") as tarred:
            tarred.add(source, arcname=top)
    return path


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_import_an_archive_of_a_model_folder(make_window, qtbot, tiny_model, tmp_path, kind):
    window = make_window()
    manager = _open(window, qtbot)
    manager.choose_archive = lambda: _archive(kind, tiny_model, tmp_path)
    with qtbot.waitSignal(manager.models_changed, timeout=10000):
        manager.import_archive_button.click()
    _listed(qtbot, manager, "faster-whisper-tiny")
    folder = manager.entry("faster-whisper-tiny").folder
    assert folder == models_dir() / "faster-whisper-tiny"
    assert set(MODEL_FILES) <= {path.name for path in folder.iterdir()}
    assert [path.name for path in models_dir().iterdir()] == ["faster-whisper-tiny"]  # no work folder left


def test_an_archive_reaching_outside_its_folder_is_refused(make_window, qtbot, tiny_model, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tarred:
        tarred.add(tiny_model, arcname="model")
        data = b"owned"
        info = tarfile.TarInfo("../../outside.txt")
        info.size = len(data)
        tarred.addfile(info, io.BytesIO(data))
    window = make_window()
    manager = _open(window, qtbot)
    manager.import_from(evil)
    qtbot.waitUntil(lambda: "not imported" in manager.status.text(), timeout=10000)
    assert "outside its folder" in manager.status.text()
    assert not (tmp_path / "outside.txt").exists() and not (models_dir().parent / "outside.txt").exists()
    assert list(models_dir().iterdir()) == []


def test_delete_asks_first_and_removes_only_that_model(make_window, qtbot, hub_cache, tiny_model):
    from engine.models import download

    download("tiny")
    window = make_window()
    manager = _open(window, qtbot, "tiny")
    asked = []
    manager.confirm_delete = lambda entry: asked.append(entry.name) or False
    manager.delete_button.click()
    assert asked == ["tiny"] and manager.entry("tiny").present  # No: nothing deleted
    manager.confirm_delete = lambda entry: True
    with qtbot.waitSignal(manager.models_changed, timeout=10000):
        manager.delete_button.click()
    _listed(qtbot, manager, "tiny", present=False)
    assert not list(hub_cache.rglob("model.bin"))
    assert tiny_model.joinpath("model.bin").is_file()  # a folder elsewhere is never touched


def test_settings_auto_says_what_it_will_run(make_window, qtbot, hub_cache):
    window = make_window()
    panel = window.settings_panel
    panel.refresh_models()
    qtbot.waitUntil(lambda: panel.auto is not None, timeout=10000)
    assert panel.model.itemText(0) == "auto (best for this computer) → small, not downloaded"
    assert "No model is on this computer" in panel.model_state.text()
    manager = _open(window, qtbot, "tiny")
    with qtbot.waitSignal(manager.models_changed, timeout=20000):
        manager.start_download("tiny")
    # After the download Settings says auto falls back to tiny, the best model present.
    qtbot.waitUntil(lambda: panel.model.itemText(0) == "auto (best for this computer) → tiny", timeout=10000)
    assert "auto runs tiny" in panel.model_state.text() and "small" in panel.model_state.text()


# -- a job never starts with a model that is not there -----------------------------------------------
def _wav(tmp_path: Path, name: str = "session.wav") -> Path:
    path = tmp_path / name
    path.write_bytes(b"x")
    return path


def test_a_job_without_its_model_does_not_start_and_its_row_offers_the_fix(make_window, qtbot, hub, hub_cache, tmp_path, settings_path):
    from app.settings import AppSettings, SettingsStore
    from engine.options import TranscribeOptions

    store = SettingsStore(settings_path)
    store.save(AppSettings(options=TranscribeOptions(model="tiny")))
    window = make_window(settings_store=store, model_check=True, segments=2, step_s=0.01)
    job = window.add_paths([_wav(tmp_path)])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status == JobStatus.FAILED, timeout=10000)
    assert job.missing_model == "tiny"
    engine = window.test.factory.engine  # built by the plan the check asked for
    assert engine is not None and engine.calls == []  # the engine never got the job
    assert not window.controller.started  # the queue waits for the model
    row = window.queue_model.row_of(job.id)
    assert window.queue_model.index(row, 2).data() == "Needs a model"
    assert window.queue_summary.text() == "1 recording: 1 needs a model · waiting for a model (Models…)"
    window.clear_finished()  # waiting for its model is not finished
    assert window.queue_model.job(job.id) is job and not window.clear_finished_button.isEnabled()
    assert "tiny model is not on this computer" in window.queue_model.index(row, 3).data()
    # The transcript pane shows the reason with the fix as buttons...
    view = window.transcript
    assert view.job is job and not view.fix_bar.isHidden()
    assert view.title.text().startswith("session.wav did not start: the tiny model is not on this computer")
    assert view.fix_download_button.text() == "Download tiny (~75 MB)"
    # ...and so does the row's context menu.
    menu = window.queue_menu_for(row)
    assert [a.text() for a in menu.actions()][:2] == ["Download tiny (~75 MB)", "Choose model…"]

    # One click downloads it (progress in the model manager); the job then runs by itself.
    view.fix_download_button.click()
    manager = window.model_manager
    assert manager is not None and manager.isVisible() and manager.downloading == "tiny"
    qtbot.waitUntil(lambda: job.status == JobStatus.DONE, timeout=20000)
    assert job.missing_model is None and view.fix_bar.isHidden()


def test_choose_model_imports_a_folder_and_the_waiting_job_runs_with_it(make_window, qtbot, offline, tiny_model, tmp_path):
    window = make_window(model_check=True, segments=2, step_s=0.01)
    job = window.add_paths([_wav(tmp_path)])[0]
    window.controller.start()
    qtbot.waitUntil(lambda: job.status == JobStatus.FAILED, timeout=10000)
    assert job.missing_model == "small"  # what "auto" would run on this (CPU) computer
    assert window.transcript.fix_download_button.text() == "Download small (~484 MB)"
    window.transcript.fix_choose_button.click()
    manager = window.model_manager
    assert manager.isVisible() and manager.downloading is None
    qtbot.waitUntil(lambda: manager.selected_name() == "small", timeout=10000)
    manager.choose_folder = lambda: tiny_model
    manager.import_folder_button.click()
    qtbot.waitUntil(lambda: job.status == JobStatus.DONE, timeout=20000)
    assert Path(window.settings.options.model).parent == models_dir()  # Settings now use it


def test_model_manager_opens_from_settings_and_the_menu(make_window, qtbot):
    window = make_window()
    window.settings_panel.models_button.click()
    assert window.model_manager is not None and window.model_manager.isVisible()
    window.model_manager.close()
    window.models_action.trigger()
    assert window.model_manager.isVisible()
