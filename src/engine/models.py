"""Whisper models: names resolved through the huggingface_hub cache, or a local folder.

Names download into huggingface_hub's standard cache, so models that faster-whisper or other
tools already fetched are reused. Downloads report bytes, can be cancelled, and resume where
they stopped (huggingface_hub keeps `.incomplete` blobs). A file only appears in the cache's
snapshot folder once complete, and `resolve_model` checks that every file a model needs is
there, so a half-downloaded model is never loaded.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.errors import Cancelled, ModelError

# The CTranslate2 conversions faster-whisper itself uses.
MODEL_REPOS: dict[str, str] = {
    "tiny": "Systran/faster-whisper-tiny",
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "base": "Systran/faster-whisper-base",
    "base.en": "Systran/faster-whisper-base.en",
    "small": "Systran/faster-whisper-small",
    "small.en": "Systran/faster-whisper-small.en",
    "medium": "Systran/faster-whisper-medium",
    "medium.en": "Systran/faster-whisper-medium.en",
    "large-v1": "Systran/faster-whisper-large-v1",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
}
MODEL_NAMES = tuple(MODEL_REPOS)
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
OPTIONAL_FILES = ("preprocessor_config.json", "vocabulary.json", "vocabulary.txt")

ProgressCallback = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    downloaded: bool
    path: Path | None


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in REQUIRED_FILES[:2])


def _endpoint() -> str | None:
    # Read at call time so tests (and users behind a mirror) can point it elsewhere.
    return os.environ.get("HF_ENDPOINT") or None


def cached_model_dir(name: str) -> Path | None:
    """The complete cached snapshot of a named model, or None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo = MODEL_REPOS.get(name, name)
    try:
        folder = Path(snapshot_download(repo, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    if all((folder / required).is_file() for required in REQUIRED_FILES):
        return folder
    return None


def list_models() -> list[ModelInfo]:
    infos = []
    for name in MODEL_NAMES:
        folder = cached_model_dir(name)
        infos.append(ModelInfo(name, folder is not None, folder))
    return infos


def how_to_get(name: str) -> str:
    return (
        f"run `sessionscribe models download {name}` while online, "
        "or pass --model with a folder that holds a CTranslate2 Whisper model"
    )


def resolve_model(
    name_or_dir: str,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    allow_download: bool = True,
) -> Path:
    """A folder holding a complete model: given directly, from the cache, or downloaded."""
    candidate = Path(name_or_dir).expanduser()
    if candidate.is_dir():
        missing = [name for name in REQUIRED_FILES if not (candidate / name).is_file()]
        if missing:
            raise ModelError(
                f"{candidate.name}: not a CTranslate2 Whisper model folder "
                f"(missing {', '.join(missing)})"
            )
        return candidate
    if name_or_dir not in MODEL_REPOS and "/" not in name_or_dir:
        raise ModelError(
            f"{name_or_dir}: unknown model; use one of {', '.join(MODEL_NAMES)} or a model folder"
        )
    cached = cached_model_dir(name_or_dir)
    if cached is not None:
        return cached
    if not allow_download:
        raise ModelError(f"model '{name_or_dir}' is not downloaded yet: {how_to_get(name_or_dir)}")
    return download(name_or_dir, progress, cancel)


class _CancelledDownload(Exception):
    pass


def _progress_class(total_bytes: int, done_before: list[int], progress, cancel):
    """A tqdm stand-in that forwards byte counts and stops the transfer on cancel."""
    from tqdm.auto import tqdm

    class ByteProgress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._seen = 0

        def update(self, n=1):
            if cancel is not None and cancel.is_set():
                raise _CancelledDownload()
            self._seen += n or 0
            if progress:
                progress(done_before[0] + self._seen, total_bytes or None)

    return ByteProgress


def download(
    name: str, progress: ProgressCallback | None = None, cancel: threading.Event | None = None
) -> Path:
    """Download a named model file by file with byte progress; resumes partial files."""
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    repo = MODEL_REPOS.get(name, name)
    wanted = set(REQUIRED_FILES + OPTIONAL_FILES)
    try:
        info = HfApi(endpoint=_endpoint()).model_info(repo, files_metadata=True)
        files = [(s.rfilename, s.size or 0) for s in info.siblings or [] if s.rfilename in wanted]
    except RepositoryNotFoundError:
        raise ModelError(f"model '{name}': not found on the model hub") from None
    except (HfHubHTTPError, OSError, ValueError) as error:
        raise ModelError(
            f"model '{name}' is not downloaded yet and the model hub can't be reached "
            f"({type(error).__name__}): {how_to_get(name)}"
        ) from None
    if not any(file == "model.bin" for file, _ in files):
        raise ModelError(f"model '{name}': the hub's copy has no model.bin")
    total = sum(size for _, size in files)
    done_before = [0]
    progress_class = _progress_class(total, done_before, progress, cancel)
    folder: Path | None = None
    # Small files first: the big model.bin last, so a cancelled download leaves little behind.
    for filename, size in sorted(files, key=lambda item: item[1]):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        try:
            path = hf_hub_download(
                repo, filename, endpoint=_endpoint(), tqdm_class=progress_class
            )
        except _CancelledDownload:
            raise Cancelled() from None
        except (HfHubHTTPError, OSError, ValueError) as error:
            raise ModelError(
                f"model '{name}': download of {filename} failed ({type(error).__name__}); "
                "run the same command again to resume"
            ) from None
        done_before[0] += size
        if progress:
            progress(done_before[0], total or None)
        folder = Path(path).parent
    assert folder is not None
    return folder
