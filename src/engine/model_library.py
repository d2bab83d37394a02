"""The models on this computer, for a model manager: what is there, what a download costs,
importing a model folder or archive, deleting one.

Two places hold models: huggingface_hub's cache (named models, fetched by SessionScribe or by
any other tool at the same pinned revision) and SessionScribe's own `models` folder in the
data folder (imported folders and archives). Only these two are ever deleted from: a model
folder the user points Settings at elsewhere is theirs.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelError
from engine.models import (
    DOWNLOAD_MB,
    MODEL_NAMES,
    MODEL_REPOS,
    OPTIONAL_FILES,
    REQUIRED_FILES,
    cached_model_dir,
    check_model_dir,
    choose_present,
    pinned_revision,
)

MODELS_FOLDER = "models"  # in the data folder: imported models, one folder each
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class ModelEntry:
    """One row of the model manager."""

    name: str  # a model name ("small") or an imported folder's name
    folder: Path | None  # None: not on this computer
    size_bytes: int  # on disk when present, else roughly what a download fetches
    imported: bool = False  # in SessionScribe's models folder (not a named hub model)

    @property
    def present(self) -> bool:
        return self.folder is not None

    @property
    def value(self) -> str:
        """What Settings stores to use this model: the name, or an imported model's folder."""
        return str(self.folder) if self.imported else self.name


@dataclass(frozen=True)
class AutoChoice:
    """What Settings' "auto" runs on this computer."""

    preferred: str  # the best model for the device
    model: str  # what will actually run: `preferred`, or the best model that is on disk
    present: bool  # False: nothing is on disk; a job needs `preferred` downloaded first


def models_dir() -> Path:
    from engine.store import default_data_dir

    return default_data_dir() / MODELS_FOLDER


def folder_bytes(folder: Path) -> int:
    """A model's size on disk: its model files, links followed (hub snapshots are links)."""
    total = 0
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        try:
            total += (folder / name).stat().st_size
        except OSError:
            pass
    return total


def download_bytes(name: str) -> int:
    return DOWNLOAD_MB.get(name, 0) * 1_000_000


def imported_models() -> list[ModelEntry]:
    root = models_dir()
    try:
        folders = sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))
    except OSError:
        return []
    entries = []
    for folder in folders:
        if all((folder / name).is_file() for name in REQUIRED_FILES):
            entries.append(ModelEntry(folder.name, folder, folder_bytes(folder), imported=True))
    return entries


def catalog() -> list[ModelEntry]:
    """Every named model (on disk or not) and every imported one. Cache lookups only."""
    entries = []
    for name in MODEL_NAMES:
        folder = cached_model_dir(name)
        entries.append(ModelEntry(name, folder, folder_bytes(folder) if folder else download_bytes(name)))
    return entries + imported_models()


def auto_choice(device: str, language: str | None = None) -> AutoChoice:
    """What "auto" runs on `device` ("cpu" or "cuda"), as the engine decides at a job's start."""
    from engine.hardware import DEFAULT_MODEL_CPU, DEFAULT_MODEL_CUDA

    preferred = DEFAULT_MODEL_CUDA if device == "cuda" else DEFAULT_MODEL_CPU
    model, folder = choose_present(preferred, device, english_ok=language in (None, "en"))
    return AutoChoice(preferred, model, folder is not None)


def missing_model(model: str, device: str, language: str | None = None) -> str | None:
    """The named model a job with these settings would need but is not on this computer, or
    None (it is there, or it is a folder/repository the engine checks itself)."""
    if model == "auto":
        choice = auto_choice(device, language)
        return None if choice.present else choice.preferred
    if model in MODEL_REPOS and not Path(model).expanduser().is_dir():
        return None if cached_model_dir(model) is not None else model
    return None


# ----------------------------------------------------------------------------- deleting
def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _delete_hub_revision(repo: str, commit: str) -> None:
    """Remove one revision of a cached repository; blobs another revision uses are kept
    (huggingface_hub's own cache manager decides)."""
    from huggingface_hub import scan_cache_dir

    info = scan_cache_dir(_hub_cache())
    if any(cached.repo_id == repo and any(r.commit_hash == commit for r in cached.revisions) for cached in info.repos):
        info.delete_revisions(commit).execute()


def delete_model(entry: ModelEntry) -> None:
    """Delete a model from the hub cache or SessionScribe's models folder; anything else is
    refused (a folder the user keeps elsewhere is not ours to delete)."""
    if entry.folder is None:
        return
    if entry.imported:
        folder = entry.folder.resolve()
        if folder.parent != models_dir().resolve():
            raise ModelError(f"{entry.name}: not in SessionScribe's models folder; not deleted", kind="not-ours")
        shutil.rmtree(folder)
        return
    repo = MODEL_REPOS.get(entry.name)
    snapshot = entry.folder
    if repo is None or snapshot.parent.name != "snapshots" or not snapshot.resolve().is_relative_to(_hub_cache().resolve()):
        raise ModelError(f"{entry.name}: not in the model cache; not deleted", kind="not-ours")
    _delete_hub_revision(repo, snapshot.name)


def discard_partial_download(name: str) -> None:
    """After a cancelled download: no half model left behind. The partly fetched file and the
    small files already linked into the (incomplete) snapshot go; a complete copy stays."""
    repo = MODEL_REPOS.get(name, name)
    if cached_model_dir(name) is not None:
        return
    from huggingface_hub.file_download import repo_folder_name

    storage = _hub_cache() / repo_folder_name(repo_id=repo, repo_type="model")
    for partial in storage.glob("blobs/*.incomplete"):
        partial.unlink(missing_ok=True)
    revision = pinned_revision(name)
    if revision and (storage / "snapshots" / revision).is_dir():
        _delete_hub_revision(repo, revision)


# ----------------------------------------------------------------------------- importing
def _safe_target(root: Path, member: str) -> Path:
    """Where an archive member lands, refusing absolute paths and `..` (an archive must not
    write outside the folder it is extracted into)."""
    target = (root / member).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ModelError(f"the archive holds a file outside its folder ({member!r}); not imported", kind="unsafe-archive")
    return target


def _extract(archive: Path, into: Path) -> None:
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                _safe_target(into, info.filename)
                # Only plain files and folders: a zip can carry a symbolic link in its mode bits.
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ModelError(f"the archive holds a link ({info.filename!r}); not imported", kind="unsafe-archive")
            zipped.extractall(into)
        return
    with tarfile.open(archive) as tarred:
        for member in tarred.getmembers():
            _safe_target(into, member.name)
            if not (member.isfile() or member.isdir()):
                raise ModelError(f"the archive holds a link or device ({member.name!r}); not imported", kind="unsafe-archive")
        tarred.extractall(into, filter="data")  # the same rules again, by the standard library


def _model_root(folder: Path) -> Path:
    """The model inside an extracted archive: at its top, or in its one folder."""
    if (folder / "model.bin").exists():
        return folder
    children = [path for path in folder.iterdir() if not path.name.startswith(".")]
    if len(children) == 1 and children[0].is_dir():
        return _model_root(children[0])
    return folder  # check_model_dir says what is missing


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _free_name(root: Path, wanted: str) -> Path:
    wanted = wanted.strip(". ") or "model"
    if wanted in MODEL_REPOS:  # "small" names the downloadable model; an import is another
        wanted = f"{wanted}-imported"
    target, number = root / wanted, 2
    while target.exists():
        target, number = root / f"{wanted} ({number})", number + 1
    return target


def import_model(source: Path) -> ModelEntry:
    """Copy a model folder, or extract an archive of one, into SessionScribe's models folder
    and check it is a CTranslate2 Whisper model (the engine's folder check). Nothing is left
    behind when it is not."""
    from engine.folders import private_dir

    source = Path(source).expanduser()
    if not source.exists():
        raise ModelError(f"{source.name}: not found", kind="import-missing")
    if not source.is_dir() and not is_archive(source):
        raise ModelError(
            f"{source.name}: not a model folder or an archive (.zip, .tar.gz, .tgz, .tar)", kind="import-not-model"
        )
    if source.is_dir():
        check_model_dir(source)  # before copying gigabytes
    root = private_dir(models_dir(), "data", ModelError)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
    try:
        if source.is_dir():
            staged = work / "model"
            staged.mkdir()
            for name in REQUIRED_FILES + OPTIONAL_FILES:  # only the model's files, links followed
                if (source / name).is_file():
                    shutil.copyfile(source / name, staged / name)
            label = source.name
        else:
            try:
                _extract(source, work)
            except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
                raise ModelError(
                    f"{source.name}: the archive could not be read ({type(error).__name__})", kind="bad-archive"
                ) from None
            staged = _model_root(work)
            label = source.name
            for suffix in ARCHIVE_SUFFIXES:
                if label.lower().endswith(suffix):
                    label = label[: -len(suffix)]
                    break
        check_model_dir(staged, source.name)
        target = _free_name(root, label)
        os.replace(staged, target)
        return ModelEntry(target.name, target, folder_bytes(target), imported=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
