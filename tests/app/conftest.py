"""Fixtures for the desktop app tests: a window wired to fakes (engine, sampler, device check,
audio player), so tests are fast and run offscreen without a GPU or sound card."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app_fakes import FakeEngineFactory, FakeHealth, FakePlayer, FakeSampler  # noqa: E402



@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    """App settings go to the test's folder (the root conftest does the same for the job
    store and logs): a test never reads or writes the user's real settings."""
    monkeypatch.setenv("SESSIONSCRIBE_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture(autouse=True)
def no_real_sleep_inhibitor(monkeypatch):
    """App tests never ask the desktop to keep the machine awake (test_keep_awake checks the
    real wakepy on its own): an inhibitor that is not there."""
    from app import keep_awake

    monkeypatch.setattr(keep_awake, "enter_mode", lambda: SimpleNamespace(active=False, __exit__=lambda *_exc: False))


@pytest.fixture
def settings_path(tmp_path) -> Path:
    return tmp_path / "config" / "settings.json"


@pytest.fixture
def make_window(qtbot, settings_path, tmp_path):
    """Build a MainWindow on fakes; closes it (cancelling any job) at teardown."""
    from app.settings import SettingsStore
    from app.window import MainWindow

    windows = []

    def build(engine_factory=None, sampler=None, settings_store=None, real_engine=False, model_check=None, **engine_kwargs):
        """`model_check` None: jobs start without looking for their model (the fake engine
        needs none); True: the app's real check; or a function options -> missing name."""
        if real_engine:
            factory = None  # the adapter builds engine.pipeline.Engine with the app's job store
        else:
            factory = engine_factory or FakeEngineFactory(**engine_kwargs)
        sampler = sampler or FakeSampler()
        player = FakePlayer()
        window = MainWindow(
            settings_store=settings_store or SettingsStore(settings_path),
            engine_factory=factory,
            sampler_factory=lambda: sampler,
            health_check=FakeHealth,
            player_factory=lambda: player,
            probe=None,
            model_check=model_check,
        )
        if isinstance(factory, FakeEngineFactory):
            factory.store = window.history.store  # the fake records its runs like the engine
        window.test = SimpleNamespace(factory=factory, sampler=sampler, player=player)
        window.confirm_quit = lambda: True
        window.confirm_remove = lambda _jobs: True
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield build
    for window in windows:
        window.confirm_quit = lambda: True
        window.close()


@pytest.fixture
def tiny_model_dir(tmp_path) -> Path:
    """A folder that looks like a CTranslate2 model (enough for settings checks)."""
    folder = tmp_path / "my-model"
    folder.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (folder / name).write_text("{}")
    return folder
