"""A local stand-in for the model hub (huggingface_hub 2.x's view of it), for engine and app
tests: see tests/test_models.py's docstring for what it serves and how it can misbehave.

Nothing here touches the real hub or the real cache: `hub_cache` points HF_ENDPOINT at the
stand-in and the hub cache at the test's temporary folder.
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

REPO = "Systran/faster-whisper-tiny"
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json", "preprocessor_config.json")
EXTRA_FILES = {"README.md": b"# tiny\n", ".gitattributes": b"*.bin filter=lfs diff=lfs merge=lfs -text\n"}
LFS_FILES = {"model.bin"}  # served through a redirect to the "CDN", like the real hub
PIECE = 64 * 1024  # what the stand-in writes at a time, and the client's read size in tests


def _pinned_tiny() -> str | None:
    import engine.models

    return getattr(engine.models, "MODEL_REVISIONS", {}).get("tiny")


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """Two loopback listeners (hub + CDN) serving one repo; see the module docstring."""

    def __init__(self, files: dict[str, bytes], repo: str = REPO):
        self.repo = repo
        self.files = files
        # The commit SessionScribe pins "tiny" to, served as "main" too.
        self.commit = _pinned_tiny() or hashlib.sha1(b"commit-1").hexdigest()
        self.sha256 = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.cut_after: dict[str, int] = {}  # file -> bytes to send before dropping the connection (once)
        self.down_after_cut = False  # after a cut, answer 503 to everything (the network "went away")
        self.down = False
        self.corrupt_next: set[str] = set()  # files whose next body has one byte flipped
        self.xet = False  # advertise Xet storage for model.bin (X-Xet-Hash + refresh route)
        self.delay = 0.0  # seconds to wait between pieces of model.bin's body (a slow line)
        self._servers = [self._serve(), self._serve()]
        self.endpoint = f"http://127.0.0.1:{self._servers[0].server_port}"
        self.cdn = f"http://127.0.0.1:{self._servers[1].server_port}"

    def _serve(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.hub = self  # type: ignore[attr-defined]
        server.handle_error = lambda request, address: None  # clients hanging up is expected
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def close(self) -> None:
        self.delay = 0.0
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def requests(self, file: str, method: str = "GET") -> list[dict]:
        with self.lock:
            return [entry for entry in self.log if entry["file"] == file and entry["method"] == method]

    def model_bin_ranges(self) -> list[str | None]:
        """The Range header of every transfer of model.bin's bytes (CDN GETs, after any redirect)."""
        return [entry["range"] for entry in self.requests("model.bin") if entry["path"].startswith("/cdn/")]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def take_cut(self, file: str) -> int | None:
        with self.lock:
            return self.cut_after.pop(file, None)

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        entry = {"rfilename": name, "size": len(data), "blobId": _git_blob_sha1(data)}
        if name in LFS_FILES:
            entry["lfs"] = {"size": len(data), "sha256": self.sha256[name], "pointerSize": 134}
        return entry

    def tree_entry(self, name: str) -> dict:
        data = self.files[name]
        entry = {"type": "file", "path": name, "size": len(data), "oid": _git_blob_sha1(data)}
        if name in LFS_FILES:
            entry["lfs"] = {"oid": self.sha256[name], "size": len(data), "pointerSize": 134}
        return entry


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeHub/1"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    @property
    def hub(self) -> FakeHub:
        return self.server.hub  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_GET(self) -> None:
        self._route("GET")

    def _route(self, method: str) -> None:
        hub = self.hub
        url = urlsplit(self.path)
        path = unquote(url.path)
        file = None
        if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            file = match[3]
        elif match := re.fullmatch(r"/cdn/([0-9a-f]{64})", path):
            file = next((name for name, sha in hub.sha256.items() if sha == match[1]), None)
        with hub.lock:
            hub.log.append({"method": method, "path": path, "file": file, "range": self.headers.get("Range")})
        if hub.down:
            return self._reply(503, {"X-Error-Message": "hub is down"})
        port = self.server.server_port
        if port == int(hub.cdn.rsplit(":", 1)[1]):
            if file is None or not path.startswith("/cdn/"):
                return self._reply(404)
            return self._send_file(method, file, {"ETag": f'"{hub.sha256[file]}"'})

        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
            if match[1] != hub.repo:
                return self._reply(404, {"X-Error-Code": "RepoNotFound"})
            query = parse_qs(url.query)
            siblings = [hub.sibling(name) if query.get("blobs") else {"rfilename": name} for name in hub.files]
            info = {"id": hub.repo, "modelId": hub.repo, "sha": hub.commit, "private": False, "siblings": siblings}
            return self._reply_json(info)
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)", path):
            if match[1] != hub.repo:
                return self._reply(404, {"X-Error-Code": "RepoNotFound"})
            return self._reply_json([hub.tree_entry(name) for name in hub.files])
        if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            repo, revision = match[1], match[2]
            if repo != hub.repo:
                return self._reply(404, {"X-Error-Code": "RepoNotFound"})
            if revision not in ("main", hub.commit):
                return self._reply(404, {"X-Error-Code": "RevisionNotFound"})
            if file not in hub.files:
                return self._reply(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": hub.commit})
            data = hub.files[file]
            common = {"X-Repo-Commit": hub.commit}
            if file in LFS_FILES:  # the hub answers with a redirect to its CDN, sizes and sha256 on it
                return self._reply(302, {
                    **common,
                    "Location": f"{hub.cdn}/cdn/{hub.sha256[file]}",
                    "ETag": f'"{_git_blob_sha1(b"pointer " + data[:64])}"',
                    "X-Linked-Etag": f'"{hub.sha256[file]}"',
                    "X-Linked-Size": str(len(data)),
                    **({
                        "X-Xet-Hash": hashlib.sha256(b"xet" + data[:64]).hexdigest(),
                        "X-Xet-Refresh-Route": f"/api/models/{hub.repo}/xet-read-token/{hub.commit}",
                    } if hub.xet else {}),
                })
            return self._send_file(method, file, {**common, "ETag": f'"{_git_blob_sha1(data)}"'})
        return self._reply(404)

    def _reply(self, status: int, headers: dict | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _reply_json(self, value) -> None:
        self._reply(200, {"Content-Type": "application/json"}, json.dumps(value).encode())

    def _send_file(self, method: str, file: str, headers: dict) -> None:
        hub = self.hub
        data = hub.files[file]
        start, status = 0, 200
        extra = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream", **headers}
        if requested := self.headers.get("Range"):
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", requested.strip())
            if match is None or int(match[1]) >= len(data):
                return self._reply(416, {"Content-Range": f"bytes */{len(data)}"})
            start = int(match[1])
            end = int(match[2]) if match[2] else len(data) - 1
            data = data[start : end + 1]
            status = 206
            extra["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{len(hub.files[file])}"
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method == "HEAD":
            return
        cut = hub.take_cut(file) if method == "GET" else None
        with hub.lock:
            if method == "GET" and file in hub.corrupt_next:
                hub.corrupt_next.discard(file)
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        limit = len(data) if cut is None else min(cut, len(data))
        try:
            for offset in range(0, limit, PIECE):
                self.wfile.write(data[offset : min(offset + PIECE, limit)])
                self.wfile.flush()
                if hub.delay and file == "model.bin":
                    time.sleep(hub.delay)
        except OSError:  # the client hung up (cancelled or killed)
            return
        if cut is not None:  # drop the connection mid-body
            if hub.down_after_cut:
                hub.down = True
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def hub(tiny_model):
    files = {name: (tiny_model / name).read_bytes() for name in MODEL_FILES}
    server = FakeHub({**files, **EXTRA_FILES})
    yield server
    server.close()


@pytest.fixture
def hub_cache(hub, tmp_path, monkeypatch) -> Path:
    """Online against the stand-in, with a private hub cache, in this process and in children."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # huggingface_hub reads and writes 10 MiB at a time; the 7.7 MB stand-in model.bin must
    # behave like a real 1.5 GB one (several reads), so partial data reaches the disk.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", PIECE)
    return cache
