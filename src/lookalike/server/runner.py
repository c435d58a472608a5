"""The background worker: one thread in the server that runs queued jobs, one at a time,
each in its own process so the API stays responsive, a cancel is a kill, and a crash in
a job cannot take the server down."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import sys
import threading
import types

from .store import Store, new_id
from .tasks import Paths, run_job

log = logging.getLogger("lookalike.server")

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0

INTERRUPTED = "interrupted: the server stopped while this job was {}; start it again"


class JobRunner:
    """Runs jobs from the store. ``start`` first fails the jobs a previous server left
    active (they can never finish), then polls for queued ones."""

    def __init__(self, store: Store, paths: Paths):
        self.store = store
        self.paths = paths
        self.id = new_id()  # this server instance; a job records which instance runs it
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # forkserver: job processes fork from a clean process that has lookalike imported
        # (fast start) and never ran the server's threads.
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["lookalike.server.tasks", "lookalike.api"])

    def start(self) -> None:
        for job_id in self.store.fail_interrupted(INTERRUPTED.format("queued or running")):
            log.warning("job %s was interrupted by a server restart; marked failed", job_id)
        shutil.rmtree(self.paths.root / "work", ignore_errors=True)
        self._thread = threading.Thread(target=self._loop, name="lookalike-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued or cancelled: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=GRACE_SECONDS + 5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.store.next_queued()
            if job is None:
                self._wake.wait(POLL_SECONDS * 5)
                self._wake.clear()
                continue
            if self.store.start_job(job["id"], self.id):
                try:
                    self._run(job)
                except Exception:  # never let one job kill the worker thread
                    log.exception("job %s: runner error", job["id"])
                    self.store.finish_job(job["id"], self.id, "failed", error="internal error in the job runner")
        # leave nothing active behind us
        self.store.fail_interrupted(INTERRUPTED.format("queued"))

    def _run(self, job: dict) -> None:
        proc = self._ctx.Process(target=run_job, args=(str(self.paths.root), job["id"], self.id, os.getpid()),
                                 name=f"lookalike-job-{job['id']}")
        _start_without_main(proc)
        cancelled = False
        while proc.is_alive():
            proc.join(POLL_SECONDS)
            if not proc.is_alive():
                break
            row = self.store.get("jobs", job["id"])
            cancelled = bool(row and (row["cancel_requested"] or row["status"] != "running"))
            if cancelled or self._stop.is_set():
                _terminate(proc)
        row = self.store.get("jobs", job["id"])
        cancelled = cancelled or bool(row and row["cancel_requested"])
        if cancelled:
            self.store.finish_job(job["id"], self.id, "cancelled", error="cancelled by the user")
        elif self._stop.is_set():
            self.store.finish_job(job["id"], self.id, "failed", error=INTERRUPTED.format("running"))
        else:  # only changes the job if the process did not record an outcome itself
            self.store.finish_job(job["id"], self.id, "failed",
                                  error=f"the job process ended unexpectedly (exit code {proc.exitcode})")
        shutil.rmtree(self.paths.work(job["id"]), ignore_errors=True)


def _start_without_main(proc) -> None:
    """Start ``proc`` without re-importing the server's ``__main__`` in the job process
    (multiprocessing would, and a script without an ``if __name__ == "__main__"`` guard
    would then start a second server). The job needs only ``lookalike``."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        proc.start()
    finally:
        sys.modules["__main__"] = main


def _terminate(proc) -> None:
    """SIGTERM (the job cleans up its temporary files), then SIGKILL after a grace period."""
    proc.terminate()
    proc.join(GRACE_SECONDS)
    if proc.is_alive():
        proc.kill()
        proc.join()
