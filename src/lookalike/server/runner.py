"""The background worker: one thread in the server that runs queued jobs, one at a time,
each in its own process so the API stays responsive, a cancel is a kill, and a crash in
a job cannot take the server down."""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import select
import shutil
import subprocess
import sys
import threading
import time

from .store import Store, new_id
from .tasks import Paths

log = logging.getLogger("lookalike.server")

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0

# Job processes are forked from a helper process the runner starts: a fresh interpreter
# that has imported lookalike (so a job starts at once) and holds nothing of the server,
# neither its threads nor its ``__main__`` (a user's script, maybe without an ``if
# __name__ == "__main__"`` guard, which multiprocessing's spawn and forkserver would run
# again). It starts from the server's ``sys.path``, so it runs the same lookalike.
HELPER = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
          "from lookalike.server.tasks import fork_jobs; fork_jobs(int(sys.argv[2]))")

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
        try:
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
        finally:  # leave nothing active behind us
            self.store.fail_interrupted(INTERRUPTED.format("queued"))

    def _run(self, job: dict) -> None:
        try:
            self._supervise(job)
        finally:
            shutil.rmtree(self.paths.work(job["id"]), ignore_errors=True)

    def _supervise(self, job: dict) -> None:
        """Run the job in a process of its own, stop it when the job is cancelled or the
        server stops, and record the outcome the process could not record itself."""
        helper = _Helper.take()
        helper.start({"data_dir": str(self.paths.root), "job_id": job["id"], "runner": self.id})
        cancelled, kill_at, code = False, None, None
        while code is None:
            code = helper.wait(POLL_SECONDS)
            if code is not None:
                break
            if kill_at is None:
                row = self.store.get("jobs", job["id"])
                cancelled = bool(row and (row["cancel_requested"] or row["status"] != "running"))
                if cancelled or self._stop.is_set():
                    helper.send("stop")  # SIGTERM: the job cleans up its temporary files ...
                    kill_at = time.monotonic() + GRACE_SECONDS
            elif time.monotonic() > kill_at:
                helper.send("kill")  # ... or is killed after a grace period
                kill_at = math.inf
        helper.give_back()
        row = self.store.get("jobs", job["id"])
        cancelled = cancelled or bool(row and row["cancel_requested"])
        if cancelled:
            self.store.finish_job(job["id"], self.id, "cancelled", error="cancelled by the user")
        elif self._stop.is_set():
            self.store.finish_job(job["id"], self.id, "failed", error=INTERRUPTED.format("running"))
        else:  # only changes the job if the process did not record an outcome itself
            self.store.finish_job(job["id"], self.id, "failed",
                                  error=f"the job process ended unexpectedly (exit code {code})")


class _Helper:
    """A helper process (``tasks.fork_jobs``): it forks a process for each job it is sent,
    signals it when told ("stop": SIGTERM, "kill": SIGKILL) and answers its exit code when
    it ends (negative: the signal that ended it). Being the job's parent, it never signals
    a process that was reaped. A helper runs one job at a time; idle ones wait, lookalike
    imported, for the next job of any runner in this server process."""

    _idle: list[_Helper] = []
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None

    @classmethod
    def take(cls) -> _Helper:
        with cls._lock:
            return cls._idle.pop() if cls._idle else cls()

    def give_back(self) -> None:
        with self._lock:
            self._idle.append(self)

    @classmethod
    def close_idle(cls) -> None:
        with cls._lock:
            while cls._idle:
                cls._idle.pop().close()

    def start(self, order: dict) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            # its own session: a Ctrl-C at the server's terminal goes to the server, which
            # then stops the job cleanly
            self._proc = subprocess.Popen(
                [sys.executable, "-c", HELPER, json.dumps(sys.path, default=str), str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, start_new_session=True)
        self.send(json.dumps(order))

    def send(self, line: str) -> None:
        try:
            self._proc.stdin.write(line.encode() + b"\n")
        except BrokenPipeError:
            self._lost()

    def _lost(self) -> None:
        """The helper was killed; its job stops itself (see ``tasks._stop_when_gone``)."""
        code = self._proc.wait()
        self.close()
        raise RuntimeError(f"the job helper process ended (exit code {code})")

    def wait(self, timeout: float) -> int | None:
        """The job's exit code once it has ended, else None after ``timeout`` seconds."""
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self._proc.stdout.readline()
        if not line:
            self._lost()
        return int(line)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            self._proc.stdout.close()
            self._proc.kill()
            self._proc.wait()
            self._proc = None


atexit.register(_Helper.close_idle)  # (they would end anyway: their stdin closes with this process)
