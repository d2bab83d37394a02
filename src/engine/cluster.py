"""`sessionscribe transcribe --cluster auto|ADDRESS`: one task per recording on a Ray cluster.

Who does what:
- Workers (engine.remote.TranscribeWorker as Ray actors, one per GPU, or per
  `CPUS_PER_WORKER` cores on CPU-only clusters) keep their model loaded across recordings and
  run the same engine a local run does. They write nothing: the engine's `Transcript`
  (segments with words, voiced regions, language, metadata) and run report come back as the
  task's result.
- The driver (this process) is the one writer: it renders the exports from that `Transcript`
  with the engine's own renderer (engine.export.write_outputs), so they equal a local run's
  byte for byte, and it keeps the job store. Progress events travel from the workers through a Ray queue and reach the
  sink (the terminal's ProgressPrinter) as typed events, as in a local run.
- A lost worker (its process killed, its node gone) is restarted by Ray (`max_restarts`), and
  the driver gives its recording to the next free worker, up to `MAX_ATTEMPTS` times. Nothing
  is written before a task's result is in, so a lost attempt leaves no file and no store row:
  nothing is lost and nothing is doubled.

What travels (recordings are health data): to a worker, the recording's path, or its bytes
through Ray's object store when the worker's node does not see that file (a shared file
system is checked by size and modification time); back, the transcript text and timings and
the run report; meanwhile, progress events that name the recording (never its text). Between
nodes all of it crosses the network in the clear unless Ray's TLS is on (README, "Beyond one
machine").

No telemetry: Ray's usage statistics are switched off before Ray is imported, the dashboard is
not started, and worker logs are not streamed to this terminal.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from engine import events as ev
from engine.errors import SessionScribeError
from engine.options import TranscribeOptions
from engine.remote import AudioSource, RemoteTranscript, TranscribeWorker
from engine.transcript import recording_date

log = logging.getLogger("sessionscribe.cluster")

MAX_ATTEMPTS = 3  # a recording whose worker is lost this often is reported failed
# CPU-only clusters: CTranslate2 runs one model on this many threads per worker. Assumed, not
# measured on a big node: fewer threads per model and more models in parallel use the cores
# better on short recordings, but each model costs its memory again (small: ~0.5 GB).
CPUS_PER_WORKER = 4
START_TIMEOUT_S = 120  # workers not placed by then: the cluster lacks what they ask for
POLL_S = 0.1  # how often the driver looks for results and events


class ClusterError(SessionScribeError):
    """No cluster to run on: Ray missing, or the address does not answer (one human line)."""


def _import_ray():
    # Before Ray is imported: its usage statistics (on by default) would otherwise be collected.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "--cluster needs Ray, which is not installed: pip install 'sessionscribe[cluster]'"
        ) from None
    return ray


@dataclass
class _Job:
    path: Path
    stem: Path
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0
    with_bytes: bool = False


class ClusterRun:
    """A connection to a cluster with its workers started; `run` transcribes a queue on it."""

    def __init__(
        self,
        address: str = "auto",
        workers: int | None = None,
        cpus_per_worker: int | None = None,
        local_cpus: int | None = None,
    ) -> None:
        started = time.perf_counter()
        self.ray = ray = _import_ray()
        self._started_ray = _connect(ray, address, local_cpus)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 1))
        if gpus:
            count, actor_options, self.worker_cores = gpus, {"num_gpus": 1, "num_cpus": 1}, None
        else:
            default = min(CPUS_PER_WORKER, cpus) if workers is None else max(1, cpus // workers)
            per_worker = cpus_per_worker or default
            count, actor_options = max(1, cpus // per_worker), {"num_cpus": per_worker}
            self.worker_cores = per_worker
        count = workers or count
        inbox_name = f"sessionscribe-events-{uuid.uuid4().hex}"
        self._inbox = ray.remote(num_cpus=0)(_EventInbox).options(name=inbox_name).remote()
        ray.get(self._inbox.take.remote())  # registered under its name before any worker looks
        remote_worker = ray.remote(
            max_restarts=MAX_ATTEMPTS,  # a lost worker comes back (its model loaded again)
            max_task_retries=0,  # ...but the driver decides where its recording goes next
            **actor_options,
        )(TranscribeWorker)
        self.workers = [remote_worker.remote(_EventSender(inbox_name)) for _ in range(count)]
        try:
            pids = ray.get([w.pid.remote() for w in self.workers], timeout=START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise ClusterError(
                f"the cluster has no room for {count} worker(s) of {actor_options} after "
                f"{START_TIMEOUT_S} s (its resources: {int(cpus)} CPU, {gpus} GPU)"
            ) from None
        except ray.exceptions.RayError as error:  # a worker (or Ray's local node) died starting
            self.close()
            raise ClusterError(
                f"the cluster's workers could not start ({type(error).__name__}); nothing was transcribed"
            ) from None
        self._pids = dict(zip(self.workers, pids))
        self.running: dict[str, object] = {}  # job id -> the worker transcribing it
        # job id -> seconds from handing it to a worker to its files written (bench/cluster.py
        # takes the worker's own job time out of it: what is left is Ray's cost per recording)
        self.task_seconds: dict[str, float] = {}
        self.startup_s = time.perf_counter() - started  # connect, start workers (models load lazily)

    def worker_pid(self, job_id: str) -> int | None:
        """The process transcribing `job_id` right now (None when it is not running)."""
        worker = self.running.get(job_id)
        return None if worker is None else self._pids.get(worker)

    def close(self) -> None:
        for actor in [*self.workers, self._inbox]:
            try:
                self.ray.kill(actor)
            except Exception:
                pass
        if self._started_ray:
            self.ray.shutdown()

    # -- the queue ----------------------------------------------------------------------------
    def run(
        self,
        inputs: Sequence[Path],
        stems: dict[Path, Path],
        options: TranscribeOptions,
        store,
        sink: ev.EventSink,
    ) -> tuple[int, list[dict]]:
        """Transcribe `inputs` on the workers; returns (failures, --report rows) like
        engine.cli.run_jobs."""
        ray = self.ray
        from ray.exceptions import RayActorError, RayTaskError

        from engine.cli import report_row

        worker_options = options
        if self.worker_cores is not None and not (options.cpu_threads or options.num_workers):
            # A worker's cores, shared out as on one machine: parallel CTranslate2 workers of
            # one thread or a few (its node's whole CPU is not its own).
            from engine.hardware import cpu_split

            workers, threads = cpu_split(self.worker_cores)
            worker_options = options.with_changes(cpu_threads=threads, num_workers=workers)
        jobs = {(job := _Job(Path(path), stems[path])).job_id: job for path in inputs}
        pending = deque(jobs.values())
        free = deque(self.workers)
        in_flight: dict[object, tuple[_Job, object]] = {}
        failures = 0
        rows: dict[str, dict | None] = {}
        submitted: dict[str, float] = {}
        losses: dict[object, int] = {}  # a worker lost more often than Ray restarts it is gone
        while pending or in_flight:
            if pending and not free and not in_flight:  # every worker gone for good
                job = pending.popleft()
                reason = f"{job.path.name}: no worker left on the cluster; not transcribed"
                report, reason = self._finish(job, RemoteTranscript(job.job_id, "failed", reason), options, store, sink)
                failures += 1
                rows[job.job_id] = report_row(job.path, report, reason)
                continue
            while pending and free:
                job, worker = pending.popleft(), free.popleft()
                try:
                    source = AudioSource.of(job.path)
                except OSError:  # missing: the worker's engine says so in the usual words
                    source = AudioSource(str(job.path), job.path.name, -1, -1)
                if job.with_bytes:
                    try:
                        source = AudioSource(source.path, source.name, source.size, source.mtime_ns,
                                             job.path.read_bytes())
                    except OSError:  # gone meanwhile: the worker's engine says so in the usual words
                        source = AudioSource(source.path, source.name, -1, -1)
                ref = worker.transcribe.remote(job.job_id, source, worker_options)
                in_flight[ref] = (job, worker)
                submitted[job.job_id] = time.perf_counter()
                self.running[job.job_id] = worker
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
            self._forward_events(jobs, sink)  # a task's events are all queued before its result
            for ref in ready:
                job, worker = in_flight.pop(ref)
                self.running.pop(job.job_id, None)
                try:
                    result: RemoteTranscript = ray.get(ref)
                except RayActorError:
                    losses[worker] = losses.get(worker, 0) + 1
                    if losses[worker] <= MAX_ATTEMPTS:  # Ray restarts it; calls wait until it is back
                        self._refresh_pid(worker)
                        free.append(worker)
                    job.attempts += 1
                    if job.attempts < MAX_ATTEMPTS:
                        log.warning("job %s: worker lost; retrying (attempt %d)", job.job_id, job.attempts + 1)
                        sink(ev.JobNote(job.job_id, f"{job.path.name}: its worker was lost; transcribing it again "
                                        "on the next free worker", "warning"))
                        pending.appendleft(job)
                        continue
                    result = RemoteTranscript(job.job_id, "failed", f"{job.path.name}: its worker was lost "
                                              f"{MAX_ATTEMPTS} times; not transcribed")
                except RayTaskError as error:  # a bug on the worker: one line, the kind only
                    free.append(worker)
                    kind = type(getattr(error, "cause", None) or error).__name__
                    log.warning("job %s failed on its worker: %s", job.job_id, kind)
                    result = RemoteTranscript(job.job_id, "failed", f"{job.path.name}: unexpected error on "
                                              f"the cluster ({kind})")
                else:
                    free.append(worker)
                    if result.status == "need-bytes":  # the worker's node does not see the file
                        job.with_bytes = True
                        pending.appendleft(job)
                        continue
                report, reason = self._finish(job, result, options, store, sink)
                self.task_seconds[job.job_id] = time.perf_counter() - submitted[job.job_id]
                failures += report is None
                rows[job.job_id] = report_row(job.path, report, reason)
        self._forward_events(jobs, sink)
        ordered = [rows.get(job.job_id) for job in jobs.values()]
        return failures, [row for row in ordered if row is not None]

    def _refresh_pid(self, worker) -> None:
        try:
            self._pids[worker] = self.ray.get(worker.pid.remote(), timeout=120)
        except Exception:
            self._pids.pop(worker, None)

    def _forward_events(self, jobs: dict[str, _Job], sink: ev.EventSink) -> None:
        for event in self.ray.get(self._inbox.take.remote()):
            if isinstance(event, ev.JobStarted) and event.job_id in jobs:
                # The worker's path may be a copy in memory: show the one the user gave.
                event = ev.JobStarted(event.job_id, jobs[event.job_id].path, event.duration_s)
            sink(event)

    # -- the one writer -------------------------------------------------------------------------
    def _finish(self, job: _Job, result: RemoteTranscript, options, store, sink):
        """Exports and the job store for a finished task; returns (report, failure reason)."""
        if result.status == "cancelled":
            sink(ev.JobCancelled(job.job_id))
            return None, None
        if result.status != "done":
            sink(ev.JobFailed(job.job_id, result.reason or f"{job.path.name}: failed"))
            return None, result.reason
        if result.transcript is not None:
            # The date on the driver's own file: a worker sent the bytes dates its copy "today".
            info = dataclasses.replace(result.transcript.info, recorded=recording_date(job.path))
            result.transcript = dataclasses.replace(result.transcript, info=info)
        try:
            outputs, export_s = _write_exports(job, result, options, store, sink)
        except SessionScribeError as error:  # e.g. the disk is full: one line naming the file
            sink(ev.JobFailed(job.job_id, str(error)))
            return None, str(error)
        report = result.report
        report.stages[ev.Stage.EXPORT.value] = round(export_s, 4)
        if store is not None:
            _record(store, job, result, options, outputs)
        sink(ev.JobDone(job.job_id, outputs, report, result.transcript))
        return report, None


class _EventInbox:
    """A Ray actor: the workers' events, in the order each worker sent them, until the
    driver takes them."""

    def __init__(self) -> None:
        self._events: list = []

    def put(self, event) -> None:
        self._events.append(event)

    def take(self) -> list:
        events, self._events = self._events, []
        return events


class _EventSender:
    """A worker's way to the driver's inbox, found by name: a worker Ray restarts finds it
    again (an actor handle given to its constructor would have to outlive it in the object
    store). Each send waits for the inbox, so all of a task's events are in before its result."""

    def __init__(self, inbox_name: str) -> None:
        self.inbox_name = inbox_name
        self._inbox = None

    def __getstate__(self) -> dict:
        return {"inbox_name": self.inbox_name}

    def __setstate__(self, state: dict) -> None:
        self.inbox_name, self._inbox = state["inbox_name"], None

    def __call__(self, event) -> None:
        import ray

        if self._inbox is None:
            self._inbox = ray.get_actor(self.inbox_name)
        ray.get(self._inbox.put.remote(event))


def _write_exports(job: _Job, result: RemoteTranscript, options, store, sink):
    from engine.export import check_output_names, mode_limit, write_outputs
    from engine.outputs import choose_stem, clashes, own_outputs

    sink(ev.StageStarted(job.job_id, ev.Stage.EXPORT))
    started = time.perf_counter()
    # As the engine chooses (Engine._output_stem): never over a file not written for this recording.
    owned = own_outputs(store, job.path, result.fingerprint)
    stem = choose_stem(job.stem, options.formats, owned)
    check_output_names(stem, options.formats, job.path.name)
    if stem != job.stem:
        kept = clashes(job.stem, options.formats, owned)[0].name
        sink(ev.JobNote(job.job_id, f"{job.path.name}: {kept} is not a transcript of this recording and is "
                        f"kept; the transcripts are saved as {stem.name}.* instead", "warning"))
    outputs = write_outputs(result.transcript, stem, options.formats, mode_limit(job.path))
    seconds = time.perf_counter() - started
    sink(ev.StageProgress(job.job_id, ev.Stage.EXPORT, 1.0, 1.0))
    sink(ev.StageFinished(job.job_id, ev.Stage.EXPORT, seconds))
    return outputs, seconds


def _record(store, job: _Job, result: RemoteTranscript, options, outputs) -> None:
    """The job's row as a local run leaves it: the same job for the same content and settings
    again (a rerun replaces its windows), its windows, language, duration, outputs, report."""
    record = store.find_resumable(result.fingerprint, result.options_key, job.path.name)
    if record is None:
        record = store.create_job(job.path, options.to_dict(), result.options_key, result.fingerprint, status="running")
    store.reset_windows(record.id)
    store.set_fingerprint(record.id, result.fingerprint, result.options_key)
    for window in result.windows:
        store.commit_window(
            record.id, window.index, window.start_s, window.end_s, window.segments, window.speech, window.voices
        )
    info = result.transcript.info
    if info.language:
        store.set_language(record.id, info.language)
    if result.report is not None and result.report.audio_s:
        store.set_duration(record.id, result.report.audio_s)
    store.finish(record.id, {fmt: str(path) for fmt, path in outputs.items()}, result.report.to_dict(), info.to_dict())


def _connect(ray, address: str, local_cpus: int | None) -> bool:
    """Join the cluster at `address` ("auto": the one this machine belongs to, else start a
    local one); True when this process started Ray (and so shuts it down)."""
    common = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if ray.is_initialized():
        return False
    if address != "auto" and not _answers(address):  # ray.init would wait minutes for it
        raise ClusterError(f"no Ray cluster answers at {address}")
    try:
        ray.init(address=address, **common)
        return False
    except ConnectionError:
        if address != "auto":
            raise ClusterError(f"no Ray cluster answers at {address}") from None
    except Exception as error:  # a malformed address, an authentication failure
        raise ClusterError(f"could not join the Ray cluster at {address} ({type(error).__name__})") from None
    ray.init(num_cpus=local_cpus or os.cpu_count() or 1, **common)
    return True


def _answers(address: str, timeout_s: float = 5.0) -> bool:
    """Does anything listen at HOST:PORT (or ray://HOST:PORT)?"""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def run_on_cluster(address: str, inputs, stems, options, store, sink, workers: int | None = None) -> tuple[int, list[dict]]:
    """`transcribe --cluster`: the queue on a cluster; (failures, report rows) as run_jobs."""
    try:
        try:
            run = ClusterRun(address, workers=workers)
        except ClusterError:
            if address != "auto":
                raise
            # A local cluster's node can die while starting on a loaded machine (seen on a
            # 2-core box at load 6): start it once more before giving up.
            run = ClusterRun(address, workers=workers)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return len(inputs), []
    try:
        return run.run(inputs, stems, options, store, sink)
    finally:
        run.close()
