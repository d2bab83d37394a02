"""Whisper models: names resolved through the huggingface_hub cache, or a local folder.

Names download into huggingface_hub's standard cache, so models that faster-whisper or other
tools already fetched are reused. Downloads report bytes, can be cancelled, and resume where
they stopped: huggingface_hub (>= 1.x) restarts every file from zero and deletes what it had on
failure, so each file is fetched here into `blobs/<etag>.incomplete`, continued with an HTTP
Range request on the next try, checked against the hub's sha256 where it gives one, and only
then handed to `hf_hub_download`, which links the complete blob into the snapshot folder.
model.bin comes last, and `resolve_model` checks that every file a model needs is there, so a
half-downloaded model is never loaded.

What is fetched is fixed and checked (a model runs on health data, and a repository can change
under its name): every known name is pinned to one commit of its repository (`MODEL_REVISIONS`;
a name the table does not pin yet is pinned at its first download to the commit it came from,
recorded in `model-revisions.json` in the data folder, and kept to afterwards); every file is
checked against the hub's own hash of it (sha256 for LFS files, the git blob sha1 for small
ones) and discarded if it differs; and an arbitrary `owner/name` repository is downloaded only
when asked for explicitly (`allow_any_repo`, the CLI's `--any-repo`).
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

# The commit each name is fetched at. Each one was found pinned, or as a snapshot folder, in
# other public projects that use the same repository (tiny, base, small and large-v3 in many;
# tiny.en, base.en and medium in two or more; large-v3-turbo in one). No hub is reachable
# where this was written, so none was re-checked against it; a wrong one fails the download
# with "revision not found" and never fetches other files. None: not pinned yet; the commit
# of the first download is recorded and kept to (REVISIONS_FILE).
MODEL_REVISIONS: dict[str, str | None] = {
    "tiny": "d90ca5fe260221311c53c58e660288d3deb8d356",
    "tiny.en": "0d3d19a32d3338f10357c0889762bd8d64bbdeba",
    "base": "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
    "base.en": "3d3d5dee26484f91867d81cb899cfcf72b96be6c",
    "small": "536b0662742c02347bc0e980a01041f333bce120",
    "small.en": None,
    "medium": "08e178d48790749d25932bbc082711ddcfdfbc4f",
    "medium.en": None,
    "large-v1": None,
    "large-v2": None,
    "large-v3": "edaa852ec7e145841d8ffdb056a99866b5f0a478",
    "large-v3-turbo": "0c94664816ec82be77b20e824c8e8675995b0029",
    "distil-large-v3": None,
}
REVISIONS_FILE = "model-revisions.json"  # in the data folder: {repo: commit} recorded at first download
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


def _revisions_path() -> Path:
    from engine.store import default_data_dir

    return default_data_dir() / REVISIONS_FILE


def _recorded_revisions() -> dict[str, str]:
    try:
        value = json.loads(_revisions_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def pinned_revision(name: str) -> str | None:
    """The commit `name` (a model name or an explicit repo) is fetched at, or None if not
    pinned yet (its first download pins it)."""
    return MODEL_REVISIONS.get(name) or _recorded_revisions().get(MODEL_REPOS.get(name, name))


def _record_revision(repo: str, commit: str) -> None:
    """Keep the commit a first download came from, so later downloads fetch the same one."""
    from engine.export import write_atomic
    from engine.folders import private_dir

    path = _revisions_path()
    try:
        private_dir(path.parent, "data", ModelError)
        recorded = _recorded_revisions()
        recorded[repo] = commit
        write_atomic(path, json.dumps(recorded, indent=2, sort_keys=True) + "\n", max_mode=0o600)
    except Exception:  # the model is there and verified; only the pin for next time is lost
        pass


def cached_model_dir(name: str) -> Path | None:
    """The complete cached snapshot of a named model at its pinned revision, or None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo = MODEL_REPOS.get(name, name)
    revision = pinned_revision(name)
    try:
        # Only the model's files: a cache filled by faster-whisper (which fetches just these) has
        # a cached tree listing naming README.md etc., and without patterns huggingface_hub
        # would call that snapshot incomplete.
        folder = Path(
            snapshot_download(
                repo,
                revision=revision,
                local_files_only=True,
                allow_patterns=list(REQUIRED_FILES + OPTIONAL_FILES),
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


@dataclass(frozen=True)
class ModelAdvice:
    """How the front end that shows a failure lets its user get a model ("{name}" is the
    model). The engine serves the CLI and the app: a GUI user must not be told to type a
    command, and a terminal user has no Settings tab."""

    missing: str  # the model is not on this computer (the hub may be reachable)
    offline: str  # ... and the model hub cannot be reached: downloading is no way out now

    def for_missing(self, name: str) -> str:
        return self.missing.format(name=name)

    def for_offline(self, name: str) -> str:
        return self.offline.format(name=name)


MODEL_FOLDER = "a folder holding a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json)"
CLI_ADVICE = ModelAdvice(
    missing=(
        "run `sessionscribe models download {name}` while online, "
        "or pass --model DIR with " + MODEL_FOLDER
    ),
    offline="copy " + MODEL_FOLDER + " from a computer that has one and pass it with --model DIR",
)


def how_to_get(name: str, advice: ModelAdvice = CLI_ADVICE) -> str:
    return advice.for_missing(name)


# What "auto" uses when its first choice (engine.hardware) is not on disk: the best model
# that is, in this order. On the CPU the models above `small` are slower than real time on a
# few cores, so the smaller ones come first and the big ones only before nothing at all; a
# multilingual model comes before its English-only twin because "auto" detects the language.
AUTO_FALLBACK: dict[str, tuple[str, ...]] = {
    "cpu": (
        "small", "small.en", "base", "base.en", "tiny", "tiny.en", "medium", "medium.en",
        "distil-large-v3", "large-v3-turbo", "large-v3", "large-v2", "large-v1",
    ),
    "cuda": (
        "large-v3-turbo", "large-v3", "distil-large-v3", "large-v2", "large-v1", "medium",
        "medium.en", "small", "small.en", "base", "base.en", "tiny", "tiny.en",
    ),
}


def choose_present(preferred: str, device: str, english_ok: bool = True) -> tuple[str, Path | None]:
    """`preferred` if it is on disk, else the best named model that is (AUTO_FALLBACK), as
    (name, folder); (preferred, None) when no model is on disk at all. Cache lookups only.
    `english_ok` False (another language was asked for) passes over English-only models."""
    folder = cached_model_dir(preferred)
    if folder is not None:
        return preferred, folder
    for name in AUTO_FALLBACK.get(device, AUTO_FALLBACK["cpu"]):
        if not english_ok and name.endswith(".en"):
            continue
        if name != preferred and (folder := cached_model_dir(name)) is not None:
            return name, folder
    return preferred, None


# Roughly what each name downloads (model.bin of the float16 conversions), so `models list`
# can say what a download costs before the hub is asked; the hub's own sizes are used while
# downloading.
DOWNLOAD_MB: dict[str, int] = {
    "tiny": 75, "tiny.en": 75, "base": 145, "base.en": 145, "small": 484, "small.en": 484,
    "medium": 1530, "medium.en": 1530, "large-v1": 3090, "large-v2": 3090, "large-v3": 3090,
    "large-v3-turbo": 1620, "distil-large-v3": 1510,
}


def model_size_text(folder: Path | None) -> str:
    """The size of a model on disk (model.bin and friends, links followed), e.g. "75 MB"."""
    if folder is None:
        return "-"
    total = 0
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        try:
            total += (folder / name).stat().st_size
        except OSError:
            pass
    return f"{total / 1e9:.1f} GB" if total >= 1e9 else f"{total / 1e6:.0f} MB"


def resolve_model(
    name_or_dir: str,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    allow_download: bool = True,
    advice: ModelAdvice = CLI_ADVICE,
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
    if name_or_dir not in MODEL_REPOS:  # any other repository: only when asked for explicitly
        raise ModelError(
            f"model '{name_or_dir}' is not one of SessionScribe's models and is not downloaded: "
            f"run `sessionscribe models download {name_or_dir} --any-repo` to fetch it on purpose",
            kind="model-not-known",
        )
    if not allow_download:
        raise ModelError(
            f"model '{name_or_dir}' is not on this computer: {advice.for_missing(name_or_dir)}",
            kind="model-missing",
        )
    return download(name_or_dir, progress, cancel, advice=advice)


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


def _git_blob_sha1(path: Path) -> str:
    """The hash git (and so the hub) gives a small file: sha1 of "blob <size>\\0" + its bytes."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, sha256: str | None, blob_sha1: str | None) -> bool:
    """True when the file is what the hub says it is."""
    if sha256:
        return _sha256(path) == sha256
    if blob_sha1:
        return _git_blob_sha1(path) == blob_sha1
    return False  # nothing to check it against: not accepted


def _discard(path: Path) -> None:
    """Remove a cached file that failed its check: the blob and the snapshot's link to it."""
    for target in (Path(os.path.realpath(path)), Path(path)):
        try:
            target.unlink()
        except OSError:
            pass


def _fetch_blob(repo: str, revision: str, filename: str, sha256: str | None, progress_class) -> bool:
    """Put one file's complete blob into the hub cache, continuing a partial one if there is one.

    Afterwards `hf_hub_download` finds the blob (same ETag, same path) and only links it into
    the snapshot. Files the hub gives no ETag or size for are left to `hf_hub_download`.
    Returns True when this call fetched the file and checked its sha256.
    """
    from urllib.parse import urlsplit

    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get, repo_folder_name
    from huggingface_hub.utils import WeakFileLock, build_hf_headers

    endpoint = _endpoint()
    url = hf_hub_url(repo, filename, revision=revision, endpoint=endpoint)
    meta = get_hf_file_metadata(url, endpoint=endpoint)
    if not meta.etag or meta.size is None or not meta.location:
        return False
    storage = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo, repo_type="model")
    blob = storage / "blobs" / meta.etag
    if blob.exists():
        return False
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
            return False
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
    return bool(sha256)


def download(
    name: str,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    allow_any_repo: bool = False,
    advice: ModelAdvice = CLI_ADVICE,
) -> Path:
    """Download a named model (or, with `allow_any_repo`, any `owner/name` repository) at its
    pinned revision, file by file with byte progress; resumes partial files; every file is
    checked against the hub's hash of it."""
    from huggingface_hub import HfApi, constants, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if name not in MODEL_REPOS and not (allow_any_repo and "/" in name):
        raise ModelError(
            f"model '{name}': not one of SessionScribe's models ({', '.join(MODEL_NAMES)}); "
            "to download another hub repository, name it as owner/name and pass --any-repo",
            kind="model-not-known",
        )
    repo = MODEL_REPOS.get(name, name)
    pinned = pinned_revision(name)
    wanted = set(REQUIRED_FILES + OPTIONAL_FILES)
    network_errors = _network_errors()
    try:
        info = HfApi(endpoint=_endpoint()).model_info(
            repo, revision=pinned, files_metadata=True, timeout=constants.HF_HUB_ETAG_TIMEOUT
        )
        files = [
            (s.rfilename, s.size or 0, s.lfs.sha256 if s.lfs else None, getattr(s, "blob_id", None))
            for s in info.siblings or []
            if s.rfilename in wanted
        ]
    except RevisionNotFoundError:
        raise ModelError(
            f"model '{name}': the pinned revision {pinned} is not on the model hub", kind="revision-missing"
        ) from None
    except RepositoryNotFoundError:
        raise ModelError(f"model '{name}': not found on the model hub") from None
    except network_errors as error:
        # Not "run models download": that is what was just tried. Offline, the way out is a
        # model folder brought from elsewhere.
        raise ModelError(
            f"model '{name}' is not on this computer and there is no connection to the model hub "
            f"({type(error).__name__}): {advice.for_offline(name)}",
            kind="hub-unreachable",
        ) from None
    if not any(file == "model.bin" for file, *_ in files):
        raise ModelError(f"model '{name}': the hub's copy has no model.bin")
    unverifiable = [file for file, _, sha256, blob_sha1 in files if not (sha256 or blob_sha1)]
    if unverifiable:
        raise ModelError(
            f"model '{name}': the hub gives no checksum for {', '.join(unverifiable)}; not downloaded",
            kind="unverifiable",
        )
    # Every file from one commit: the pinned one, or for a first download the one the hub
    # named just now (a push halfway through must not mix two versions).
    revision = pinned or info.sha
    if not revision:
        raise ModelError(f"model '{name}': the hub named no revision to download", kind="unverifiable")
    total = sum(size for _, size, *_ in files)
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
    for filename, size, sha256, blob_sha1 in sorted(files, key=lambda item: (item[0] == "model.bin", item[1])):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        try:
            checked = _fetch_blob(repo, revision, filename, sha256, progress_class)
            path = hf_hub_download(
                repo, filename, revision=revision, endpoint=_endpoint(), tqdm_class=progress_class
            )
            if not checked and not _verify(Path(path), sha256, blob_sha1):
                _discard(Path(path))
                raise _DamagedDownload()
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
    if not pinned:
        _record_revision(repo, revision)
    return folder
