"""`--engine ray`: the same per-file pipeline (batch.run_one) on a Ray cluster.

The driver (the `photoforge` process) keeps the journal and the progress; a pool of Ray
actors, one per `threads` CPUs of the cluster, each loads the model once (the engine caches
one compiled model per process) and runs whole files: load → process → save → hash, on paths
that every node sees. The driver checks each output path and commits `running` before the
file goes to a worker, and commits `done`/`failed` when it comes back, so resume works as in
local batches. A worker that dies (killed, out of memory, node lost) is restarted by Ray and
its file retried, on whichever node the actor comes back, up to --retries times.

Ray is an optional extra (`pip install 'photoforge[cluster]'`); nothing imports this module,
or Ray, unless `--engine ray` is given.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from photoforge.app.batch import BatchReport, Dispatch, Job, Outcome, UsageError

INSTALL_HINT = "pip install 'photoforge[cluster]'"
# One file per worker at a time: a file queued behind one that kills the worker would lose a
# retry for nothing. The round trip between files costs milliseconds; a file, seconds.
IN_FLIGHT_PER_WORKER = 1


def require_ray():
    """The ray module, or UsageError saying how to get it."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--engine ray needs Ray, which is not installed here: {INSTALL_HINT} "
                         "(on every machine of the cluster)") from None
    return ray


class FileWorker:
    """Runs whole files; one per Ray actor. `process(image, progress, job)` and `settings`
    (run_one's keyword arguments) come pickled from the driver."""

    def __init__(self, process, settings: dict, threads: int):
        # The engine sizes its thread pool from this unless --threads was given; Ray gave
        # this actor `threads` CPUs.
        os.environ.setdefault("PHOTOFORGE_THREADS", str(threads))
        self.process, self.settings = process, settings

    def run(self, job: Job) -> Outcome:
        from photoforge.app.batch import run_one
        from photoforge.engine.progress import Progress

        return run_one(job, lambda image, part: self.process(image, part, job), Progress(),
                       fingerprints=True, quiet_decoders=True, **self.settings)

    def pid(self) -> int:
        return os.getpid()


def run_on_ray(jobs: list[Job], process, *, address: str | None, threads: int | None, retries: int,
               progress, on_file: Callable[[int, Job], None], say: Callable[[str], None], report: BatchReport,
               journal=None, overwrite: bool = False, fmt: str | None = None, quality: int = 95,
               max_pixels: int | None = None, check=None, inputs: list[Path] | None = None,
               workers: int | None = None) -> BatchReport:
    """Run `jobs` on Ray (connecting to `address`, or the cluster this process already joined,
    or a new local one); results are recorded as they come, in completion order."""
    ray = require_ray()
    inputs = [job.source for job in jobs] if inputs is None else inputs
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=True)
    try:
        per_worker = threads or 1
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = workers or max(1, cpus // per_worker)
        remote = ray.remote(num_cpus=per_worker, max_restarts=-1, max_task_retries=retries)(FileWorker)
        settings = dict(inputs=inputs, overwrite=False, fmt=fmt, quality=quality, max_pixels=max_pixels,
                        check=check)
        # Passed by value: an actor that Ray restarts needs its arguments again.
        pool = [remote.remote(process, settings, per_worker) for _ in range(count)]
        say(f"notice: Ray: {count} worker{'s' * (count != 1)} of {per_worker} CPU on a cluster of {cpus} CPUs")
        dispatch = Dispatch(jobs, report=report, progress=progress, on_file=on_file, say=say, journal=journal,
                            overwrite=overwrite, fmt=fmt, quality=quality, inputs=inputs)
        flying: dict = {}  # ref → (job, worker)

        def feed(worker) -> None:
            if (job := dispatch.next_job()) is not None:
                flying[worker.run.remote(job)] = (job, worker)

        for worker in pool:
            for _ in range(IN_FLIGHT_PER_WORKER):
                feed(worker)
        while flying:
            ready, _ = ray.wait(list(flying), num_returns=1)
            job, worker = flying.pop(ready[0])
            try:
                outcome = ray.get(ready[0])
            except ray.exceptions.RayActorError as error:
                outcome = Outcome(job, error=f"{job.source}: the worker died {retries + 1} times while "
                                  f"working on it ({type(error).__name__})")
            except ray.exceptions.RayTaskError as error:
                outcome = Outcome(job, error=f"{job.source}: {error.cause or error}")
            dispatch.done(outcome)
            feed(worker)
        return report
    finally:
        if started_here:
            ray.shutdown()
