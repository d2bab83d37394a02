"""engine.model_library: the models on this computer for the app's model manager (importing,
deleting, what "auto" runs, what a job is missing), without any hub: an empty private cache."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.model_library import ModelEntry, auto_choice, delete_model, import_model, missing_model, models_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))


def test_nothing_on_disk_means_auto_needs_its_first_choice():
    assert auto_choice("cpu") == auto_choice("cpu", "en")
    choice = auto_choice("cpu")
    assert (choice.preferred, choice.model, choice.present) == ("small", "small", False)
    assert auto_choice("cuda").preferred == "large-v3-turbo"
    assert missing_model("auto", "cpu") == "small"
    assert missing_model("tiny", "cpu") == "tiny"


def test_a_folder_or_an_imported_model_is_never_missing(tiny_model):
    assert missing_model(str(tiny_model), "cpu") is None
    entry = import_model(tiny_model)
    assert missing_model(entry.value, "cpu") is None


def test_import_keeps_the_model_files_only_and_never_takes_a_models_name(tiny_model, tmp_path):
    import shutil

    source = shutil.copytree(tiny_model, tmp_path / "tiny")  # named like the downloadable model
    (source / "session notes.txt").write_text("not copied")
    entry = import_model(source)
    assert entry.name == "tiny-imported" and entry.folder.parent == models_dir()
    assert "session notes.txt" not in {path.name for path in entry.folder.iterdir()}
    assert (entry.folder / "model.bin").read_bytes() == (tiny_model / "model.bin").read_bytes()
    assert oct(models_dir().stat().st_mode & 0o777) == "0o700"
    again = import_model(source)
    assert again.name == "tiny-imported (2)"


def test_an_archive_with_a_link_is_refused_and_leaves_nothing(tiny_model, tmp_path):
    archive = tmp_path / "linked.tar"
    with tarfile.open(archive, "w") as tarred:
        tarred.add(tiny_model, arcname="model")
        link = tarfile.TarInfo("model/tokenizer2.json")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tarred.addfile(link)
    with pytest.raises(ModelError, match="link"):
        import_model(archive)
    assert list(models_dir().iterdir()) == []


def test_a_zip_reaching_outside_is_refused(tiny_model, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(tiny_model / "model.bin", "model.bin")
        zipped.writestr("../escaped.txt", "x")
    with pytest.raises(ModelError, match="outside its folder"):
        import_model(archive)
    assert not (models_dir().parent / "escaped.txt").exists() and list(models_dir().iterdir()) == []


def test_a_broken_archive_or_a_plain_file_is_one_line(tmp_path):
    broken = tmp_path / "model.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="could not be read"):
        import_model(broken)
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    with pytest.raises(ModelError, match="not a model folder or an archive"):
        import_model(notes)


def test_delete_refuses_folders_that_are_not_ours(tiny_model):
    with pytest.raises(ModelError, match="not in SessionScribe's models folder"):
        delete_model(ModelEntry("mine", tiny_model, 1, imported=True))
    with pytest.raises(ModelError, match="not in the model cache"):
        delete_model(ModelEntry("tiny", tiny_model, 1))
    assert (tiny_model / "model.bin").is_file()
    entry = import_model(tiny_model)
    delete_model(entry)
    assert not entry.folder.exists()


def test_models_list_shows_imported_models(tiny_model):
    entry = import_model(tiny_model)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, "-m", "engine.cli", "models", "list"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{entry.folder} (imported; --model DIR)" in result.stdout
