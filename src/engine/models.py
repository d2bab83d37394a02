"""Whisper models: names resolved through the huggingface_hub cache, or a local folder.

Names download into huggingface_hub's standard cache, so models that faster-whisper or other
tools already fetched are reused. Downloads report bytes, can be cancelled, and resume where
they stopped: huggingface_hub (>= 1.x) restarts every file from zero and deletes what it had on
failure, so each file is fetched here into `blobs/<etag>.incomplete`, continued with an HTTP
Range request on the next try, checked against the hub's sha256 where it gives one, and only
then handed to `hf_hub_download`, which links the complete blob into the snapshot folder.
model.bin comes last, and `resolve_model` checks that every file a model needs is there, so a
half-downloaded model is never loaded.
"""
from __future__ import annotations

import hashlib
import importlib
import json
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


# Whisper uses 80 mel bins (128 for large-v3); a config asking for far more made feature
# extraction grow to gigabytes before failing, and the failure was blamed on the recording.
MEL_BINS_RANGE = (1, 512)


def _json_object(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise ValueError(f"{path.name} is not readable JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} does not hold settings")
    return value


def _whole(config: dict, key: str, low: int, high: int, file: str) -> None:
    value = config.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{file} asks for {key} = {value!r} (expected {low} to {high})")


def check_model_dir(path: Path, label: str | None = None) -> Path:
    """Raise ModelError naming the model (never a recording) unless `path` looks like a usable
    CTranslate2 Whisper model: its files present and not empty, its settings sane. Cheap (no
    loading): it runs before any recording is touched."""
    path = Path(path)
    label = label or path.name
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelError(
            f"{label}: not a CTranslate2 Whisper model folder (missing {', '.join(missing)})",
            kind="model-incomplete",
        )
    empty = [name for name in REQUIRED_FILES if (path / name).stat().st_size == 0]
    if empty:
        raise ModelError(f"{label}: broken model folder ({', '.join(empty)} is empty)", kind="model-broken")
    try:
        config = _json_object(path / "config.json")
        for key in ("n_mels", "num_mel_bins"):
            _whole(config, key, *MEL_BINS_RANGE, "config.json")
        preprocessor = path / "preprocessor_config.json"
        if preprocessor.is_file():
            features = _json_object(preprocessor)
            _whole(features, "feature_size", *MEL_BINS_RANGE, preprocessor.name)
            _whole(features, "sampling_rate", 16000, 16000, preprocessor.name)
            _whole(features, "n_fft", 16, 4096, preprocessor.name)
            _whole(features, "hop_length", 1, 4096, preprocessor.name)
            _whole(features, "chunk_length", 1, 60, preprocessor.name)
            _whole(features, "n_samples", 1, 16000 * 60, preprocessor.name)
            _whole(features, "nb_max_frames", 1, 16000 * 60, preprocessor.name)
    except ValueError as problem:
        raise ModelError(f"{label}: broken model folder ({problem})", kind="model-broken") from None
    return path


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
        # Only the model's files: a cache filled by faster-whisper (which fetches just these) has
        # a cached tree listing naming README.md etc., and without patterns huggingface_hub
        # would call that snapshot incomplete.
        folder = Path(
            snapshot_download(
                repo, local_files_only=True, allow_patterns=list(REQUIRED_FILES + OPTIONAL_FILES)
            )
        )
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
        return check_model_dir(candidate)
    if name_or_dir not in MODEL_REPOS and "/" not in name_or_dir:
        raise ModelError(
            f"{name_or_dir}: unknown model; use one of {', '.join(MODEL_NAMES)} or a model folder"
        )
    cached = cached_model_dir(name_or_dir)
    if cached is not None:
        return check_model_dir(cached, name_or_dir)
    if not allow_download:
        raise ModelError(f"model '{name_or_dir}' is not downloaded yet: {how_to_get(name_or_dir)}")
    return download(name_or_dir, progress, cancel)


class _CancelledDownload(Exception):
    pass


class _DamagedDownload(Exception):
    pass


def _network_errors() -> tuple[type[BaseException], ...]:
    """What a failed transfer raises. huggingface_hub 2.x talks through httpx2, whose connection
    errors (refused, reset, cut short) are not OSErrors, so they are named here too."""
    from huggingface_hub.errors import HfHubHTTPError

    errors: list[type[BaseException]] = [HfHubHTTPError, OSError, ValueError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _progress_class(done_before: list[int], report, cancel):
    """A tqdm stand-in that forwards byte counts and stops the transfer on cancel."""
    from tqdm.auto import tqdm

    class ByteProgress(tqdm):
        def __init__(self, *args, **kwargs):
            initial = kwargs.get("initial") or 0  # bytes a resumed file already had
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._seen = initial

        def update(self, n=1):
            if cancel is not None and cancel.is_set():
                raise _CancelledDownload()
            self._seen += n or 0
            report(done_before[0] + self._seen)

    return ByteProgress


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _fetch_blob(repo: str, filename: str, sha256: str | None, progress_class) -> None:
    """Put one file's complete blob into the hub cache, continuing a partial one if there is one.

    Afterwards `hf_hub_download` finds the blob (same ETag, same path) and only links it into
    the snapshot. Files the hub gives no ETag or size for are left to `hf_hub_download`.
    """
    from urllib.parse import urlsplit

    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get, repo_folder_name
    from huggingface_hub.utils import WeakFileLock, build_hf_headers

    endpoint = _endpoint()
    url = hf_hub_url(repo, filename, endpoint=endpoint)
    meta = get_hf_file_metadata(url, endpoint=endpoint)
    if not meta.etag or meta.size is None or not meta.location:
        return
    storage = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo, repo_type="model")
    blob = storage / "blobs" / meta.etag
    if blob.exists():
        return
    # Plain HTTP even where the hub offers Xet (hf_xet cannot continue a partial file). Like
    # huggingface_hub's own HTTP fallback, a Xet file is fetched through its /resolve URL.
    source = url if meta.xet_file_data is not None else meta.location
    headers = build_hf_headers()
    if urlsplit(source).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # a CDN's signed URL: the token stays with the hub
    lock = storage.parent / ".locks" / storage.name / f"{meta.etag}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = blob.with_name(f"{meta.etag}.incomplete")
    with WeakFileLock(lock):  # another SessionScribe process may be fetching the same file
        if blob.exists():
            return
        if partial.exists() and partial.stat().st_size > meta.size:
            partial.unlink()
        with partial.open("ab") as file:  # appends: a Range request continues from its size
            http_get(
                source,
                file,
                resume_size=file.tell(),
                headers=headers,
                expected_size=meta.size,
                displayed_filename=filename,
                tqdm_class=progress_class,
            )
        if sha256 and _sha256(partial) != sha256:
            partial.unlink()
            raise _DamagedDownload()
        os.replace(partial, blob)


def download(
    name: str, progress: ProgressCallback | None = None, cancel: threading.Event | None = None
) -> Path:
    """Download a named model file by file with byte progress; resumes partial files."""
    from huggingface_hub import HfApi, constants, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    repo = MODEL_REPOS.get(name, name)
    wanted = set(REQUIRED_FILES + OPTIONAL_FILES)
    network_errors = _network_errors()
    try:
        info = HfApi(endpoint=_endpoint()).model_info(
            repo, files_metadata=True, timeout=constants.HF_HUB_ETAG_TIMEOUT
        )
        files = [
            (s.rfilename, s.size or 0, s.lfs.sha256 if s.lfs else None)
            for s in info.siblings or []
            if s.rfilename in wanted
        ]
    except RepositoryNotFoundError:
        raise ModelError(f"model '{name}': not found on the model hub") from None
    except network_errors as error:
        raise ModelError(
            f"model '{name}' is not downloaded yet and the model hub can't be reached "
            f"({type(error).__name__}): {how_to_get(name)}"
        ) from None
    if not any(file == "model.bin" for file, _, _ in files):
        raise ModelError(f"model '{name}': the hub's copy has no model.bin")
    total = sum(size for _, size, _ in files)
    reported = [0]

    def report(done: int) -> None:
        # Never backwards (a server that ignores Range makes huggingface_hub rewind its count).
        if progress and done > reported[0]:
            reported[0] = done
            progress(done, total or None)

    done_before = [0]
    progress_class = _progress_class(done_before, report, cancel)
    folder: Path | None = None
    # Small files first and model.bin last: a snapshot holding model.bin holds everything.
    for filename, size, sha256 in sorted(files, key=lambda item: (item[0] == "model.bin", item[1])):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        try:
            _fetch_blob(repo, filename, sha256, progress_class)
            path = hf_hub_download(
                repo, filename, endpoint=_endpoint(), tqdm_class=progress_class
            )
        except _CancelledDownload:
            raise Cancelled() from None
        except _DamagedDownload:
            raise ModelError(
                f"model '{name}': {filename} arrived damaged and was discarded; "
                "run the same command again to download it afresh"
            ) from None
        except network_errors as error:
            raise ModelError(
                f"model '{name}': download of {filename} failed ({type(error).__name__}); "
                "run the same command again to resume"
            ) from None
        done_before[0] += size
        report(done_before[0])
        folder = Path(path).parent
    assert folder is not None
    return folder
