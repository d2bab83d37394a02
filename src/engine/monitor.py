"""System load sampling (CPU, RAM, NVIDIA GPU) for live gauges and run reports.

No Qt here: the desktop app polls `SystemSampler.sample()` from a worker thread, and the
engine or benchmarks can use it headless. Every NVML failure is turned into `gpu=None` plus a
plain sentence, because a machine without an NVIDIA GPU or driver is a normal machine, not an
error.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

NO_GPU_REASON = "No NVIDIA GPU or driver found"


@dataclass(frozen=True)
class GpuSample:
    name: str
    util_percent: float
    vram_used_bytes: int
    vram_total_bytes: int
    temperature_c: float | None  # None when the board does not report it
    power_w: float | None


@dataclass(frozen=True)
class SystemSample:
    time: float  # time.monotonic() when taken
    cpu_percent: float  # whole machine, 0-100
    ram_used_bytes: int
    ram_total_bytes: int
    gpu: GpuSample | None
    gpu_unavailable_reason: str | None  # set exactly when gpu is None
    # SessionScribe's own share of the machine (this process and its decoder children),
    # 0-100 on the same scale as cpu_percent: the machine may be busy with other programs.
    own_cpu_percent: float | None = None


def _nvml_reason(error: BaseException) -> str:
    """Turn an NVML exception into a sentence a clinician can act on."""
    name = type(error).__name__
    if "LibraryNotFound" in name or "DriverNotLoaded" in name or isinstance(error, ImportError):
        return NO_GPU_REASON
    if "NoPermission" in name:
        return "The NVIDIA driver refused access to the GPU (permission denied)"
    if "GpuIsLost" in name:
        return "The GPU stopped responding; restart the computer"
    if "Uninitialized" in name:
        return NO_GPU_REASON
    text = str(error).strip() or name
    return f"GPU readings unavailable ({text})"


class SystemSampler:
    """Takes one `SystemSample` per call; cheap enough to call several times a second.

    NVML is initialised once, on first use, and only the first GPU is read (the engine runs on
    one device). Thread-safe: calls are serialised by a lock because NVML handles and psutil's
    CPU-percent baseline are shared state.
    """

    def __init__(self, gpu_index: int = 0) -> None:
        self._gpu_index = gpu_index
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._handle: Any = None
        self._gpu_name = ""
        self._gpu_reason: str | None = None
        self._nvml_tried = False
        # psutil measures CPU use since the previous call; prime it so the first real sample
        # is not a meaningless 0.0.
        psutil.cpu_percent(interval=None)
        self._own: dict[int, psutil.Process] = {}  # pid -> Process: cpu_percent keeps a baseline per object
        self._own_cpu()

    def _init_nvml(self) -> None:
        self._nvml_tried = True
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            if count <= self._gpu_index:
                self._gpu_reason = NO_GPU_REASON
                return
            handle = pynvml.nvmlDeviceGetHandleByIndex(self._gpu_index)
            name = pynvml.nvmlDeviceGetName(handle)
            self._gpu_name = name.decode() if isinstance(name, bytes) else str(name)
            self._nvml, self._handle = pynvml, handle
        except Exception as error:  # any NVML/import failure means "no GPU readings"
            self._gpu_reason = _nvml_reason(error)

    def _gpu(self) -> GpuSample | None:
        if not self._nvml_tried:
            self._init_nvml()
        if self._handle is None:
            return None
        nvml, handle = self._nvml, self._handle
        try:
            util = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        except Exception as error:
            # The GPU vanished or the driver broke mid-run: stop asking, say why.
            self._gpu_reason = _nvml_reason(error)
            self._handle = None
            return None
        temperature: float | None
        try:
            temperature = float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        except Exception:
            temperature = None  # optional reading; many laptops/VMs do not expose it
        power: float | None
        try:
            power = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0  # milliwatts
        except Exception:
            power = None
        return GpuSample(
            name=self._gpu_name,
            util_percent=float(util),
            vram_used_bytes=int(memory.used),
            vram_total_bytes=int(memory.total),
            temperature_c=temperature,
            power_w=power,
        )

    def sample(self) -> SystemSample:
        with self._lock:
            memory = psutil.virtual_memory()
            gpu = self._gpu()
            return SystemSample(
                time=time.monotonic(),
                cpu_percent=float(psutil.cpu_percent(interval=None)),
                ram_used_bytes=int(memory.total - memory.available),
                ram_total_bytes=int(memory.total),
                gpu=gpu,
                gpu_unavailable_reason=None if gpu is not None else (self._gpu_reason or NO_GPU_REASON),
                own_cpu_percent=self._own_cpu(),
            )

    def _own_cpu(self) -> float | None:
        """CPU use of this process and its children (the decoder runs in one) since the last
        call, as a share of the whole machine."""
        try:
            me = psutil.Process()
            current = {me.pid: me, **{child.pid: child for child in me.children(recursive=True)}}
        except psutil.Error:
            return None
        total = 0.0
        for pid, process in current.items():
            known = self._own.setdefault(pid, process)
            try:
                total += known.cpu_percent(interval=None)  # 0 on a process's first reading
            except psutil.Error:
                continue
        for pid in set(self._own) - set(current):
            del self._own[pid]
        return min(100.0, total / (psutil.cpu_count() or 1))

    def close(self) -> None:
        with self._lock:
            if self._nvml is not None:
                try:
                    self._nvml.nvmlShutdown()
                except Exception:
                    pass
            self._nvml = self._handle = None
            self._nvml_tried = True
            self._gpu_reason = self._gpu_reason or "GPU sampling stopped"
