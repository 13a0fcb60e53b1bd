"""Local folder batches on several worker processes: the same per-file steps (batch.run_one)
as `run_batch`, one whole file per worker at a time.

Why processes: a small photo keeps one model busy for a fraction of a second, too little work
to spread over every core (one 2-thread process keeps ~1.7 of 2 cores busy on 256×192 photos),
while two 1-thread processes each run their own file at full speed. Threads in one process
were tried (a decode-ahead pipeline with two inference lanes) and bought nothing; see the
README's "Throughput on one machine".

The driver keeps the journal and the progress through the same batch.Dispatch as the Ray
engine (app/cluster.py): it checks each output path and commits `running` before a file goes
to a worker, and `done`/`failed` when it comes back. Workers are forked before any model is compiled in the driver (a fork
after OpenVINO or ONNX Runtime started their thread pools could deadlock), so the per-file
function needs no pickling; each worker builds its own model on its first file. A worker
that dies is replaced and its file retried up to `retries` times.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from photoforge.app.batch import BatchReport, Dispatch, Job, Outcome

# Above this many pixels a photo gives one model enough work to keep every core busy, and
# two workers would hold two large images in memory for no gain.
SMALL_PHOTO_PIXELS = 2_000_000
HEADERS_SAMPLED = 256
# How long a stopped worker may take to remove its temporary file before it is killed.
STOP_WAIT = 10.0
# Each worker builds its own model (seconds for a large one): below this many files each, one
# process that builds it once is as quick.
MIN_FILES_PER_WORKER = 4
# Devices asked for by name that one process should own (a GPU shared by two processes gains
# nothing); with `auto` each worker probes for itself.
CPU_DEVICES = ("auto", "cpu", "openvino")


def fork_is_safe() -> bool:
    """Forking is possible here and no compiled model lives in this process yet."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False  # Windows, or a Python without fork: one process
    inference = sys.modules.get("photoforge.engine.inference")
    return inference is None or len(inference.RUNNERS) == 0


def _pixels(path: Path) -> int:
    """Width × height from the file's header; 0 when Pillow cannot tell (the worker will)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a big scan's DecompressionBombWarning: it is only measured
            with Image.open(path) as image:
                return image.width * image.height
    except Image.DecompressionBombError:
        return SMALL_PHOTO_PIXELS + 1  # far beyond small
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the worker, in its words
        return 0


def auto_workers(jobs: list[Job], *, threads: int | None, device: str, cores: int | None = None) -> int:
    """How many worker processes a local batch of `jobs` uses: one per `threads` cores
    (default 1 thread each) when the photos are small (a sample of up to HEADERS_SAMPLED
    headers) and the work runs on the CPU; else 1."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    count = min(len(jobs) // MIN_FILES_PER_WORKER, cores // (threads or 1))
    if count < 2 or device not in CPU_DEVICES or not fork_is_safe():
        return 1
    # A sample of the headers: an archive of 100,000 scans on a network share is not opened
    # twice before the first file starts.
    step = max(1, len(jobs) // HEADERS_SAMPLED)
    if any(_pixels(job.source) > SMALL_PHOTO_PIXELS for job in jobs[::step]):
        return 1
    return count


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt()


@contextmanager
def interrupts_held():
    """Ctrl+C and SIGTERM that arrive in the block take effect as it ends, through the
    handlers that were there, so a step the block makes is made whole or not at all. In
    Python's handlers, not the thread's signal mask: a signal another thread receives still
    runs its Python handler in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    before = {s: signal.signal(s, lambda signum, frame: pending.append((signum, frame)))
              for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if pending:
            signum, frame = pending[0]
            handler = before[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


class _LinesToDriver(io.TextIOBase):
    """A worker's stderr: whole lines go to the driver, which says each once per batch (every
    worker would otherwise repeat the same notice about its device)."""

    def __init__(self, conn):
        self.conn, self.pending = conn, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            _send(self.conn, ("say", line))
        return len(text)


def _die_with(driver: int) -> None:
    """A worker must not outlive a killed driver: it would go on writing into a folder that a
    `--resume` may already be redoing. Linux kills it with the driver; elsewhere it ends at
    the end of its file, when the pipe reads EOF."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != driver:  # the driver died before prctl took effect
        os._exit(0)


def _serve(conn, process, settings: dict, threads: int, driver: int) -> None:
    """A worker's life: files in, ("outcome", Outcome) and ("say", line) out, until the driver
    closes the pipe."""
    _die_with(driver)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the driver's; it stops us with SIGTERM
    signal.signal(signal.SIGTERM, _raise_interrupt)  # so the file being written is removed
    sys.stderr = _LinesToDriver(conn)
    os.environ["PHOTOFORGE_THREADS"] = str(threads)
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(threads)
    from photoforge.app.batch import run_one
    from photoforge.engine.progress import Progress

    job, before, told = None, None, [True]  # told[0]: the driver has the current job's outcome
    try:
        while True:
            try:
                job = conn.recv()
            except EOFError:
                break
            before, told[0] = _identity(job.target), False
            outcome = run_one(job, lambda image, part, job=job: process(image, part, job), Progress(),
                              **settings)
            _send(conn, ("outcome", outcome), told)
    except KeyboardInterrupt:
        # Stopped after the output was renamed into place but before the driver heard (in the
        # job, or between its end and the message: a loaded machine showed that window): tell
        # it, so that what is on disk and what it lists as finished agree.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not told[0] and _identity(job.target) not in (None, before):
            _send(conn, ("outcome", _published(job, settings["fingerprints"])))
    finally:
        os._exit(0)  # never the driver's exit handlers: its journal and progress bar are not ours


def _send(conn, message, sent: list | None = None) -> None:
    """A whole message or none: a stop in the middle would leave the driver half a pickle.
    sent[0] is set True with the stop still held off, so a stop raised as soon as it is let
    through finds it already set."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        conn.send(message)
        if sent is not None:
            sent[0] = True
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _published(job: Job, fingerprints: bool) -> Outcome:
    """The outcome of a file whose output was published as the worker was stopped."""
    if not fingerprints:
        return Outcome(job)
    from photoforge.app.journal import file_hash, fingerprint

    return Outcome(job, source=fingerprint(job.source), output_hash=file_hash(job.target))


class _Worker:
    def __init__(self, context, process, settings: dict, threads: int):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, daemon=True,
                                       args=(child, process, settings, threads, os.getpid()))
        self.process.start()
        child.close()  # so that the worker's death reads as EOF here
        self.job: Job | None = None

    def stop(self, wait: float = STOP_WAIT) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(wait)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.conn.close()


def run_in_workers(jobs: list[Job], process, *, workers: int, threads: int | None, retries: int, progress,
                   on_file: Callable[[int, Job], None], say: Callable[[str], None], report: BatchReport,
                   journal=None, overwrite: bool = False, fmt: str | None = None, quality: int = 95,
                   max_pixels: int | None = None, check=None, inputs: list[Path] | None = None) -> BatchReport:
    """Run `jobs` on `workers` forked processes of `threads` engine threads each; outcomes are
    recorded as they come, in completion order. Interrupts stop the workers (the files they
    were writing are removed) and propagate."""
    from multiprocessing.connection import wait

    if not fork_is_safe():
        raise RuntimeError("worker processes are forked, which is unsafe once a model is loaded in this "
                           "process (or impossible on this system): run the batch in one process")
    inputs = [job.source for job in jobs] if inputs is None else inputs
    context = multiprocessing.get_context("fork")
    settings = dict(inputs=inputs, overwrite=False, fmt=fmt, quality=quality, max_pixels=max_pixels,
                    check=check, quiet_decoders=True, fingerprints=journal is not None)
    per_worker = threads or 1
    pool = [_Worker(context, process, settings, per_worker) for _ in range(workers)]
    say(f"notice: {workers} worker processes of {per_worker} thread{'s' * (per_worker != 1)} each")
    dispatch = Dispatch(jobs, report=report, progress=progress, on_file=on_file, say=say, journal=journal,
                        overwrite=overwrite, fmt=fmt, quality=quality, inputs=inputs)
    deaths: dict[Path, int] = {}
    said: set[str] = set()

    def feed(worker: _Worker) -> None:
        if (job := dispatch.next_job()) is not None:
            worker.job = job  # claimed: a retry after a death may replace what the dead worker wrote
            worker.conn.send(job)

    try:
        for worker in pool:
            feed(worker)
        while busy := {worker.conn: worker for worker in pool if worker.job is not None}:
            for conn in wait(list(busy)):
                worker = busy[conn]
                # A stop between taking a worker's message off the pipe and recording it lost
                # a published file from the list (CI, loaded: 4 on disk, fewer listed): the
                # message and its record are one step.
                with interrupts_held():
                    job, worker.job = worker.job, None
                    try:
                        kind, outcome = conn.recv()
                    except (EOFError, OSError):
                        kind = "died"
                    else:
                        if kind == "say":
                            worker.job = job  # still working on it
                            if outcome not in said:
                                said.add(outcome)
                                say(outcome)
                            continue
                        if outcome is not None:
                            dispatch.done(outcome)
                if kind == "died":  # outside: a worker forked with stops held would inherit that
                    outcome = _death(worker, job, deaths, retries, dispatch)
                    pool[pool.index(worker)] = worker = _Worker(context, process, settings, per_worker)
                    if outcome is not None:
                        dispatch.done(outcome)
                feed(worker)
        return report
    except BaseException:  # interrupted: what the workers finished meanwhile is still recorded
        _stop_and_drain(pool, dispatch.done)
        raise
    finally:
        for worker in pool:
            worker.stop()


def _stop_and_drain(pool: list[_Worker], done: Callable[[Outcome], None]) -> None:
    """Stop every worker (each removes the file it was writing, or reports it if it was already
    published), then take the outcomes they sent."""
    for worker in pool:
        if worker.process.is_alive():
            worker.process.terminate()
    for worker in pool:
        worker.process.join(STOP_WAIT)
    for worker in pool:
        try:
            while worker.job is not None and worker.conn.poll():
                kind, message = worker.conn.recv()
                if kind == "outcome":
                    worker.job = None
                    done(message)
        except (EOFError, OSError):
            pass


def _death(worker: _Worker, job: Job, deaths: dict, retries: int, dispatch: Dispatch) -> Outcome | None:
    """A worker died on `job`: retried first in line while it has tries left (None), else its
    failure."""
    worker.stop(wait=0)
    code = worker.process.exitcode
    deaths[job.source] = deaths.get(job.source, 0) + 1
    if deaths[job.source] <= retries:
        dispatch.retry_first(job)
        return None
    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return Outcome(job, error=f"{job.source}: the worker process died {deaths[job.source]} "
                   f"time{'s' * (deaths[job.source] != 1)} while working on it ({how})")
