"""Model names -> huggingface_hub cache, tested against a local stand-in for the hub.

`FakeHub` serves one repo ("Systran/faster-whisper-tiny", holding the tiny test model's files
plus a README and .gitattributes the engine must not fetch) the way huggingface_hub 2.x asks
for it: the model API (`/api/models/<repo>[/revision/<rev>]`, with `blobs=True` sizes and LFS
sha256), the tree API (used by `snapshot_download`, i.e. by faster-whisper itself), `HEAD`/`GET`
on `/<repo>/resolve/<rev>/<file>` with `ETag` / `X-Repo-Commit`, and, like the real hub, an LFS
redirect for model.bin (`302` + `X-Linked-Etag` / `X-Linked-Size`) to a "CDN" listener on
another port, which answers `Range` requests with `206`. By default no `X-Xet-*` headers are
sent, so huggingface_hub stays on plain HTTP even with hf_xet installed; with `xet = True` the
redirect also advertises Xet storage (as the real hub does for Systran's repos) and any call to
its token route is logged, to prove the engine still fetches (and resumes) over plain HTTP.

The stand-in can cut a transfer short (close the connection after N bytes), play dead (`503`
for everything) and go slowly, to simulate interrupted, cancelled and killed downloads.

Nothing here touches the real hub or the real cache: every test points HF_ENDPOINT at the
stand-in (or at a closed port) and the hub cache at a temporary folder. huggingface_hub reads
its settings at import time, so in-process tests patch `huggingface_hub.constants` and
subprocesses get a clean environment.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.errors import Cancelled, ModelError
from engine.models import cached_model_dir, download, list_models, resolve_model
from support.fake_hub import MODEL_FILES, PIECE, REPO, FakeHub, hub, hub_cache  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent


def _total(hub: FakeHub) -> int:
    return sum(len(hub.files[name]) for name in MODEL_FILES)


def _partials(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.incomplete"))


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- tests ----------------------------------------------------------------------------------------
def test_download_fetches_the_model_with_byte_progress_and_it_loads(hub, hub_cache):
    seen: list[tuple[int, int | None]] = []
    folder = download("tiny", lambda done, total: seen.append((done, total)), threading.Event())

    total = _total(hub)
    assert folder.is_relative_to(hub_cache)
    for name in MODEL_FILES:
        assert (folder / name).read_bytes() == hub.files[name], name
    assert not (folder / "README.md").exists() and not hub.requests("README.md")
    assert len(seen) > 10, "progress should be reported while bytes arrive, not once per file"
    counts = [done for done, _ in seen]
    assert counts == sorted(counts), "progress went backwards"
    assert seen[-1] == (total, total)
    assert {t for _, t in seen} == {total}
    assert not _partials(hub_cache)

    assert resolve_model("tiny", allow_download=False) == folder
    assert cached_model_dir("tiny") == folder
    hub.clear_log()
    assert download("tiny") == folder
    assert not [entry for entry in hub.log if entry["method"] == "GET" and entry["file"]], "fetched twice"
    hub.down = True  # once downloaded, the hub is not needed any more
    assert resolve_model("tiny") == folder
    assert {info.name: info.downloaded for info in list_models()}["tiny"] is True

    from faster_whisper import WhisperModel

    import numpy as np

    model = WhisperModel(str(folder), device="cpu", compute_type="int8")
    segments, _ = model.transcribe(np.zeros(16000, dtype=np.float32), language="en", beam_size=1)
    assert "hello" in " ".join(segment.text for segment in segments)  # the tiny model's word


@pytest.mark.parametrize("xet", [False, True], ids=["plain", "hub-offers-xet"])
def test_interrupted_download_says_run_again_and_resumes_where_it_stopped(xet, hub, hub_cache):
    hub.xet = xet
    cut = 3 * 1024 * 1024 + 12345  # mid-model.bin
    hub.cut_after["model.bin"] = cut
    hub.down_after_cut = True  # and the network stays away: huggingface_hub's own retry fails too

    with pytest.raises(ModelError) as failure:
        download("tiny")
    message = str(failure.value)
    assert "tiny" in message and "again" in message and "resume" in message

    assert cached_model_dir("tiny") is None, "a partial model must never be offered"
    with pytest.raises(ModelError):
        resolve_model("tiny", allow_download=False)
    assert {info.name: info.downloaded for info in list_models()}["tiny"] is False
    (partial,) = _partials(hub_cache)
    kept = partial.stat().st_size
    assert 0 < kept <= cut

    hub.down = False
    hub.clear_log()
    seen: list[int] = []
    folder = download("tiny", lambda done, total: seen.append(done))

    assert seen == sorted(seen) and seen[-1] == _total(hub)
    assert hub.model_bin_ranges() == [f"bytes={kept}-"], "should resume, not start over"
    assert (folder / "model.bin").read_bytes() == hub.files["model.bin"]
    assert not _partials(hub_cache)
    assert resolve_model("tiny", allow_download=False) == folder
    assert not [entry for entry in hub.log if "xet" in entry["path"]], "tried Xet, which cannot resume"


def test_cancel_stops_the_transfer_promptly_and_a_later_download_completes(hub, hub_cache):
    hub.delay = 0.02  # ~3 MB/s: model.bin takes a few seconds
    cancel = threading.Event()
    seen: list[int] = []
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["folder"] = download("tiny", lambda done, total: seen.append(done), cancel)
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome["error"] = error
        outcome["ended"] = time.monotonic()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    into_model_bin = _total(hub) - len(hub.files["model.bin"]) + 512 * 1024
    deadline = time.monotonic() + 10
    while not seen or seen[-1] < into_model_bin:
        assert time.monotonic() < deadline and "error" not in outcome, ("model.bin never started", outcome)
        time.sleep(0.01)
    cancel.set()
    asked = time.monotonic()
    worker.join(5)
    assert not worker.is_alive(), "download ignored the cancel"
    assert isinstance(outcome.get("error"), Cancelled), outcome
    assert outcome["ended"] - asked < 1.0, "cancel took too long"
    assert seen and seen[-1] < _total(hub)
    assert cached_model_dir("tiny") is None
    with pytest.raises(ModelError):
        resolve_model("tiny", allow_download=False)

    hub.delay = 0.0
    hub.clear_log()
    folder = download("tiny")
    assert (folder / "model.bin").read_bytes() == hub.files["model.bin"]
    assert cached_model_dir("tiny") == folder


KILLED_CHILD = """
import sys
from huggingface_hub import constants
constants.DOWNLOAD_CHUNK_SIZE = int(sys.argv[1])
from engine.models import download
download("tiny")
print("finished")
"""


def test_download_killed_mid_transfer_leaves_no_model_and_resumes(hub, hub_cache):
    hub.delay = 0.02
    child = subprocess.Popen(  # killed: SIGKILL on POSIX, TerminateProcess on Windows
        [sys.executable, "-c", KILLED_CHILD, str(PIECE)],
        env=_child_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        # the stand-in's ETag for model.bin is its sha256, as on the real hub, so that names the blob
        pattern = f"blobs/{hub.sha256['model.bin']}*.incomplete"
        while not any(p.stat().st_size > 512 * 1024 for p in hub_cache.rglob(pattern)):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never started on model.bin"
            time.sleep(0.02)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == (-signal.SIGKILL if os.name == "posix" else 1)

    assert cached_model_dir("tiny") is None
    assert {info.name: info.downloaded for info in list_models()}["tiny"] is False
    (partial,) = _partials(hub_cache)
    kept = partial.stat().st_size

    hub.delay = 0.0
    hub.clear_log()
    folder = download("tiny")
    assert hub.model_bin_ranges() == [f"bytes={kept}-"]
    assert (folder / "model.bin").read_bytes() == hub.files["model.bin"]
    assert cached_model_dir("tiny") == folder


def test_a_damaged_transfer_is_discarded_and_fetched_afresh(hub, hub_cache):
    hub.corrupt_next.add("model.bin")
    with pytest.raises(ModelError) as failure:
        download("tiny")
    assert "model.bin" in str(failure.value) and "again" in str(failure.value)
    assert cached_model_dir("tiny") is None and not _partials(hub_cache)

    folder = download("tiny")
    assert (folder / "model.bin").read_bytes() == hub.files["model.bin"]


@pytest.mark.parametrize("no_network", ["closed port", "HF_HUB_OFFLINE=1"])
def test_missing_model_without_network_fails_fast_and_says_how_to_get_it(
    no_network, tmp_path, monkeypatch
):
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    if no_network == "closed port":
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")

    started = time.monotonic()
    with pytest.raises(ModelError) as failure:
        resolve_model("small")
    assert time.monotonic() - started < 5
    message = str(failure.value)
    assert "small" in message
    # Offline, "run models download small" is no way out: bring a model folder instead.
    assert "no connection to the model hub" in message
    assert "models download small" not in message
    assert "--model DIR" in message
    assert not cache.exists() or not any(cache.rglob("*.bin"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        env=_child_env(), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_cli_models_download_then_list(hub, hub_cache):
    before = _cli("models", "list")
    assert before.returncode == 0, before.stderr
    assert re.search(r"^tiny\s+~75 MB\s+not downloaded$", before.stdout, re.M), before.stdout

    fetched = _cli("models", "download", "tiny")
    assert fetched.returncode == 0, fetched.stderr
    assert "ready" in fetched.stderr

    after = _cli("models", "list")
    assert after.returncode == 0, after.stderr
    line = re.search(r"^tiny\s+(\d+ MB)\s+(.+)$", after.stdout, re.M)
    assert line and line[2] != "not downloaded", after.stdout
    folder = Path(line[2])
    assert folder.is_relative_to(hub_cache)
    assert (folder / "model.bin").read_bytes() == hub.files["model.bin"]
    assert re.search(r"^small\s+~484 MB\s+not downloaded$", after.stdout, re.M), after.stdout


def test_a_model_faster_whisper_fetched_itself_is_reused(hub, hub_cache):
    """faster-whisper's own download (snapshot_download with its file patterns) fills the same cache."""
    from huggingface_hub import snapshot_download

    patterns = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]
    fetched = Path(snapshot_download(REPO, allow_patterns=patterns, endpoint=hub.endpoint))
    assert (fetched / "model.bin").is_file() and not (fetched / "README.md").exists()

    hub.down = True
    assert cached_model_dir("tiny") == fetched
    assert resolve_model("tiny") == fetched


# -- issue 10 item 20: pinned revisions, every file checked, arbitrary repos only on request ------
def test_downloads_fetch_the_pinned_revision_only(hub, hub_cache):
    from engine.models import MODEL_REVISIONS

    pinned = MODEL_REVISIONS["tiny"]
    assert pinned and re.fullmatch(r"[0-9a-f]{40}", pinned)
    folder = download("tiny")
    assert folder.name == pinned
    resolves = [entry["path"] for entry in hub.log if "/resolve/" in entry["path"]]
    assert resolves and all(f"/resolve/{pinned}/" in path for path in resolves), resolves
    assert any(entry["path"] == f"/api/models/{REPO}/revision/{pinned}" for entry in hub.log)


def test_a_damaged_small_file_is_discarded_not_kept(hub, hub_cache):
    hub.corrupt_next.add("config.json")  # not an LFS file: checked by its git blob sha1
    with pytest.raises(ModelError, match="config.json arrived damaged"):
        download("tiny")
    assert cached_model_dir("tiny") is None
    assert not any(path.read_bytes() != hub.files["config.json"] for path in hub_cache.rglob("config.json"))
    folder = download("tiny")  # the next try fetches it afresh
    assert (folder / "config.json").read_bytes() == hub.files["config.json"]


def test_names_not_pinned_yet_are_pinned_at_their_first_download(hub, hub_cache, monkeypatch, private_home):
    import engine.models as models

    monkeypatch.setitem(models.MODEL_REVISIONS, "tiny", None)
    download("tiny")
    recorded = json.loads((private_home / "data" / models.REVISIONS_FILE).read_text())
    assert recorded == {REPO: hub.commit}
    assert models.pinned_revision("tiny") == hub.commit


def test_other_repositories_only_when_asked_for_explicitly(tiny_model, hub_cache, monkeypatch, tmp_path):
    other = FakeHub({name: (tiny_model / name).read_bytes() for name in MODEL_FILES}, repo="someone/custom-whisper")
    try:
        monkeypatch.setenv("HF_ENDPOINT", other.endpoint)
        with pytest.raises(ModelError, match="--any-repo"):
            download("someone/custom-whisper")
        with pytest.raises(ModelError, match="--any-repo"):
            resolve_model("someone/custom-whisper")  # a transcription never fetches it by itself
        assert not [entry for entry in other.log if "/resolve/" in entry["path"]]

        refused = _cli("models", "download", "someone/custom-whisper")
        assert refused.returncode == 2 and "--any-repo" in refused.stderr
        fetched = _cli("models", "download", "someone/custom-whisper", "--any-repo")
        assert fetched.returncode == 0, fetched.stderr
        assert resolve_model("someone/custom-whisper").name == other.commit  # now cached, pinned
    finally:
        other.close()


# -- issue 13 item 1: "auto" runs the best model on disk; failures give the front end's fix ------
@pytest.fixture
def offline_cache(tmp_path, monkeypatch) -> Path:
    """An empty private hub cache and a hub that cannot be reached (a closed port)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    return cache


def test_auto_falls_back_in_order_of_quality_for_the_device(monkeypatch):
    import engine.models as models

    present = {"tiny.en": Path("/m/tiny.en"), "base": Path("/m/base"), "large-v3": Path("/m/large-v3")}
    monkeypatch.setattr(models, "cached_model_dir", present.get)
    assert models.choose_present("small", "cpu") == ("base", Path("/m/base"))
    assert models.choose_present("large-v3-turbo", "cuda") == ("large-v3", Path("/m/large-v3"))
    assert models.choose_present("tiny.en", "cpu") == ("tiny.en", Path("/m/tiny.en"))
    present.pop("base")
    assert models.choose_present("small", "cpu") == ("tiny.en", Path("/m/tiny.en"))
    # French asked for: an English-only model is no fallback.
    assert models.choose_present("small", "cpu", english_ok=False) == ("large-v3", Path("/m/large-v3"))
    monkeypatch.setattr(models, "cached_model_dir", {}.get)
    assert models.choose_present("small", "cpu") == ("small", None)


def test_auto_uses_the_best_model_on_disk_and_says_so_once(hub, hub_cache):
    from engine.events import DeviceNotice
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    fetched = download("tiny")
    hub.down = True  # offline from here: nothing may be fetched
    hub.clear_log()
    events: list = []
    engine = Engine(events.append)
    runtime, folder = engine._choose(TranscribeOptions(device="cpu"))
    assert runtime.model == "tiny" and folder == fetched
    notices = [event for event in events if isinstance(event, DeviceNotice)]
    assert len(notices) == 1, events
    assert "small" in notices[0].message and "using tiny" in notices[0].message
    assert "sessionscribe models download small" in notices[0].fix
    engine._choose(TranscribeOptions(device="cpu"))
    assert len([event for event in events if isinstance(event, DeviceNotice)]) == 1  # once per engine
    assert not hub.log


def test_no_model_offline_fails_with_the_fix_of_the_front_end_showing_it(offline_cache):
    from app.engine_adapter import app_model_advice
    from engine.options import TranscribeOptions
    from engine.pipeline import Engine

    with pytest.raises(ModelError) as cli_failure:
        Engine()._choose(TranscribeOptions(device="cpu"))
    cli_text = str(cli_failure.value)
    assert "small" in cli_text and "no connection to the model hub" in cli_text and "--model DIR" in cli_text
    with pytest.raises(ModelError) as app_failure:
        Engine(advice=app_model_advice())._choose(TranscribeOptions(device="cpu"))
    app_text = str(app_failure.value)
    assert "Import folder…" in app_text and "Models…" in app_text
    assert "sessionscribe" not in app_text and "--model" not in app_text  # no CLI advice in the window


def test_cli_download_offline_does_not_answer_with_itself(offline_cache):
    result = _cli("models", "download", "small")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no connection to the model hub" in result.stderr
    assert "models download small" not in result.stderr
    assert "--model DIR" in result.stderr


def test_doctor_names_the_missing_model_and_the_fix(hub, hub_cache, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # "auto" means small: the CPU's choice
    result = _cli("doctor")
    assert result.returncode == 0, result.stderr
    assert "small is not downloaded and no other model is on this computer" in result.stdout
    assert "Fix: run `sessionscribe models download small`" in result.stdout
    download("tiny")
    result = _cli("doctor")
    assert "small (the best for this computer) is not downloaded; jobs use tiny" in result.stdout, result.stdout
    assert re.search(r"Chosen settings: .*model tiny,", result.stdout), result.stdout


def test_cli_auto_runs_the_model_on_disk_with_a_warning_line(hub, hub_cache, speech_available, tmp_path, monkeypatch):
    """The first job of a fresh machine: "auto" wants small, only tiny is on disk, no hub."""
    from support.audio import session, write_audio

    download("tiny")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")  # offline from here
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    audio, _ = session([0.5, "We can start whenever you are ready.", 0.5])
    recording = write_audio(tmp_path / "first.ogg", audio)
    result = _cli("transcribe", str(recording), "--format", "txt", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("small" in line and "using tiny" in line and "models download small" in line for line in warnings), result.stderr
    assert (tmp_path / "out" / "first.txt").is_file()
