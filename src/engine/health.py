"""Device health: is CUDA really usable by CTranslate2, and if not, why and how to fix it.

A device count is not enough: the seed died 20 s into inference when cuBLAS/cuDNN turned out
to be missing. We check the libraries CTranslate2 will dlopen, and the pipeline runs a real
warm-up (encode + one decode step) right after loading a model on CUDA, falling back to the
CPU with the reason if anything fails.
"""
from __future__ import annotations

import ctypes
import glob
import os
import sys
from dataclasses import dataclass, field

# CTranslate2 4.5+ wheels are built against CUDA 12 and cuDNN 9.
CUDA_LIBRARIES = {
    "libcublas.so.12": "cuBLAS 12 (pip install nvidia-cublas-cu12, or install the CUDA 12 toolkit)",
    "libcudnn.so.9": "cuDNN 9 for CUDA 12 (pip install nvidia-cudnn-cu12==9.*)",
}


@dataclass
class DeviceHealth:
    cuda_usable: bool = False
    ctranslate2_devices: int = 0
    torch_version: str = ""
    torch_cuda: str | None = None  # CUDA version torch was built with
    torch_cuda_available: bool = False
    driver: str | None = None
    gpus: list[dict] = field(default_factory=list)  # name, total/free bytes (NVML)
    libraries: dict[str, str] = field(default_factory=dict)  # soname -> "found at ..."/"missing"
    problems: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    @property
    def free_vram_bytes(self) -> int | None:
        return max((gpu["free_bytes"] for gpu in self.gpus), default=None)

    def lines(self) -> list[str]:
        out = [
            f"CUDA usable by CTranslate2: {'yes' if self.cuda_usable else 'no'}",
            f"CTranslate2 CUDA devices: {self.ctranslate2_devices}",
            (
                f"torch {self.torch_version}: built for CUDA {self.torch_cuda or 'none (CPU build)'}, "
                f"CUDA available: {'yes' if self.torch_cuda_available else 'no'}"
                if self.torch_version
                else "torch: not checked (no CUDA device)"
            ),
            f"NVIDIA driver: {self.driver or 'not found'}",
        ]
        for gpu in self.gpus:
            out.append(
                f"GPU {gpu['index']}: {gpu['name']}, {gpu['free_bytes'] / 2**30:.1f} GiB free "
                f"of {gpu['total_bytes'] / 2**30:.1f} GiB"
            )
        for soname, where in self.libraries.items():
            out.append(f"{soname}: {where}")
        out.extend(f"Problem: {problem}" for problem in self.problems)
        return out


def _nvidia_wheel_dirs() -> list[str]:
    """Library folders of NVIDIA's pip wheels (nvidia-cublas-cu12 etc.), which the dynamic
    loader does not search by itself."""
    dirs = []
    for base in sys.path:
        dirs.extend(glob.glob(os.path.join(base, "nvidia", "*", "lib")))
    return dirs


def _load_library(soname: str) -> str | None:
    """Load `soname` globally (so CTranslate2's later dlopen finds it); where it came from."""
    try:
        ctypes.CDLL(soname, mode=ctypes.RTLD_GLOBAL)
        return "found by the system loader"
    except OSError:
        pass
    for folder in _nvidia_wheel_dirs():
        candidate = os.path.join(folder, soname)
        if os.path.exists(candidate):
            try:
                ctypes.CDLL(candidate, mode=ctypes.RTLD_GLOBAL)
                return f"loaded from {folder}"
            except OSError:
                continue
    return None


def _read_nvml(health: DeviceHealth) -> None:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no driver, no library: both simply mean "no NVIDIA GPU here"
        return
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        health.driver = driver.decode() if isinstance(driver, bytes) else driver
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            health.gpus.append(
                {
                    "index": index,
                    "name": name.decode() if isinstance(name, bytes) else name,
                    "total_bytes": int(memory.total),
                    "free_bytes": int(memory.free),
                }
            )
    except Exception as error:  # a half-working driver: report, don't crash
        health.problems.append(f"NVML error: {error}")
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def check_device(include_torch: bool = True) -> DeviceHealth:
    """Everything we can learn without loading a model. Cheap on machines without a GPU:
    with `include_torch=False` torch (2-3 s to import) is only consulted when CTranslate2
    sees a CUDA device, since it cannot change the verdict otherwise."""
    import ctranslate2

    health = DeviceHealth()
    try:
        health.ctranslate2_devices = ctranslate2.get_cuda_device_count()
    except Exception as error:
        health.problems.append(f"CTranslate2 could not query CUDA: {error}")
    if include_torch or health.ctranslate2_devices:
        import torch

        health.torch_version = torch.__version__
        health.torch_cuda = torch.version.cuda
        health.torch_cuda_available = bool(torch.cuda.is_available())
    _read_nvml(health)
    if health.ctranslate2_devices == 0:
        if health.gpus:
            health.problems.append(
                "an NVIDIA GPU is present but CTranslate2 sees no CUDA device"
            )
            health.fixes.append(
                "update the NVIDIA driver to one that supports CUDA 12, then run "
                "`sessionscribe doctor` again"
            )
        return health
    for soname, package in CUDA_LIBRARIES.items():
        where = _load_library(soname)
        health.libraries[soname] = where or "missing"
        if where is None:
            health.problems.append(f"{soname} is missing, so CTranslate2 can't run on the GPU")
            health.fixes.append(f"install {package}")
    if health.torch_cuda and not health.torch_cuda.startswith("12") and health.problems:
        health.fixes.append(
            f"torch was built for CUDA {health.torch_cuda}; its libraries do not serve "
            "CTranslate2, which needs the CUDA 12 ones above"
        )
    health.cuda_usable = not health.problems
    return health
