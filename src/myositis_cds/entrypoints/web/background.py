"""Rendering off the request path: a stored patient's page and trend figures, made when the record
is stored rather than when someone first opens it.

Every patient created or replaced through the web application (API, forms, import, entry edits
and deletions) is handed to :meth:`BackgroundRenderer.stored` once its transaction has committed
(:meth:`~myositis_cds.adapters.storage.database.Database.when_stored`). One thread per server
process then computes its results for today once, draws its trend figures and renders its page,
and keeps both as stored views of that version and date (:mod:`.figures`,
:func:`~myositis_cds.services.patient_page.keep_page`), where every process finds them. Nothing is
read to do so (the job carries the record just written, whose write was audited) and nothing is
kept when the patient changed or went meanwhile.

A figure whose stored view is missing (a record stored before this release or by the command line,
a new day, a job dropped or lost with its process) is asked for with :meth:`~BackgroundRenderer.figure`:
the job goes to the front of the queue and the request waits for it a bounded time, then serves the
figure or, while it is still being drawn, :data:`~.figures.BEING_DRAWN_SVG` — never an error.

Bounded: at most ``max_pending`` jobs wait (beyond that a write's job is dropped and its figures are
drawn when first asked for); one job runs at a time, so drawing never takes more than one thread
of a process. A job that fails is logged by the error's type only (no patient data) and the thread
carries on; a thread that died is started again by the next job.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from myositis_cds.entrypoints.web.clinical import Clinic
from myositis_cds.entrypoints.web.figures import encode_figures
from myositis_cds.errors import RecordValidationError
from myositis_cds.services.patient_page import keep_page
from myositis_cds.services.patient_results import patient_results
from myositis_cds.services.ports import StoredPatient, StoredView, UnitOfWorkFactory
from myositis_cds.services.views import save_view

__all__ = ["MAX_PENDING", "BackgroundRenderer", "RenderJob"]

logger = logging.getLogger("myositis_cds.web.background")

MAX_PENDING: Final = 256
"""Jobs waiting at most (per server process)."""

JobKey = tuple[int, int, dt.date]
"""Patient id, record version, assessment date."""


@dataclass(slots=True, kw_only=True)
class RenderJob:
    """One patient at one version and date; ``done`` is set when it has run (or was skipped)."""

    patient: StoredPatient
    as_of: dt.date
    page: bool
    """Also render and keep the page (a write's job; a figure request needs only the figures)."""
    done: threading.Event = field(default_factory=threading.Event)
    figures: dict[str, bytes] = field(default_factory=dict)
    invalid: RecordValidationError | None = None
    """The record does not validate (e.g. under a newer knowledge pack): nothing to draw."""

    @property
    def key(self) -> JobKey:
        return (self.patient.id, self.patient.version, self.as_of)


class BackgroundRenderer:
    """A bounded queue of render jobs and the one thread that runs them (see the module)."""

    def __init__(self, uow: UnitOfWorkFactory, clinic: Clinic, *,
                 max_pending: int = MAX_PENDING) -> None:
        self._uow = uow
        self._clinic = clinic
        self._max = max_pending
        self._pending: OrderedDict[JobKey, RenderJob] = OrderedDict()
        self._running: RenderJob | None = None
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped = 0
        """Write jobs not queued because the queue was full."""
        self.failed = 0
        """Jobs that raised (logged by type)."""

    @property
    def pending(self) -> int:
        """Jobs queued (not counting the one running)."""
        with self._changed:
            return len(self._pending)

    def stored(self, patient: StoredPatient) -> None:
        """A patient was created or replaced: render its page and figures for today (queued at
        the back; dropped when the queue is full). Returns at once."""
        job = RenderJob(patient=patient, as_of=self._clinic.today(), page=True)
        with self._changed:
            if self._closed or job.key in self._pending:
                return
            if len(self._pending) >= self._max:
                self.dropped += 1
                return
            self._pending[job.key] = job
            self._start()
            self._changed.notify_all()

    def figure(self, patient: StoredPatient, as_of: dt.date, name: str, *,
               wait: float) -> bytes | None:
        """The figure ``name`` of ``patient`` on ``as_of``, drawn by the thread ahead of every
        other job; None when it is not drawn within ``wait`` seconds (or the queue is full).
        Raises :class:`RecordValidationError` when the record does not validate."""
        job = self._urgent(RenderJob(patient=patient, as_of=as_of, page=False))
        if job is None or not job.done.wait(wait):
            return None
        if job.invalid is not None:
            raise job.invalid
        return job.figures.get(name)

    def _urgent(self, job: RenderJob) -> RenderJob | None:
        with self._changed:
            if self._closed:
                return None
            if self._running is not None and self._running.key == job.key:
                return self._running
            queued = self._pending.get(job.key)
            if queued is None and len(self._pending) >= self._max:
                return None
            self._pending[job.key] = queued = queued or job
            self._pending.move_to_end(job.key, last=False)
            self._start()
            self._changed.notify_all()
            return queued

    def _start(self) -> None:
        """Start the thread if it is not running (first job, or it died). Lock held."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="myositis-cds-renderer",
                                            daemon=True)
            self._thread.start()

    def _next(self) -> RenderJob | None:
        with self._changed:
            while not self._pending and not self._closed:
                self._changed.wait()
            if self._closed:
                return None
            _, job = self._pending.popitem(last=False)
            self._running = job
            return job

    def _superseded(self, job: RenderJob) -> bool:
        """A write's job for a version that a newer pending job of the same patient replaces."""
        with self._changed:
            return job.page and any(
                key[0] == job.patient.id and key[1] > job.patient.version for key in self._pending)

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                if not self._superseded(job):
                    self._run(job)
            except Exception as exc:  # logged by type only (a traceback may hold record values)
                self.failed += 1
                logger.error("background rendering failed: %s", type(exc).__name__)
            finally:
                with self._changed:
                    self._running = None
                    self._changed.notify_all()
                job.done.set()

    def _run(self, job: RenderJob) -> None:
        clinic = self._clinic
        try:
            results = patient_results(job.patient.record, parse=clinic.parse, as_of=job.as_of,
                                      params=clinic.params)
        except RecordValidationError as exc:
            job.invalid = exc
            return
        job.figures = clinic.figures(results)
        job.done.set()  # a waiting figure request need not wait for the database
        save_view(self._uow, StoredView(
            patient_id=job.patient.id, version=job.patient.version, as_of=job.as_of,
            fingerprint=clinic.figures_fingerprint, body=encode_figures(job.figures), summary={}))
        if job.page:
            keep_page(self._uow, job.patient, results, fingerprint=clinic.fingerprint,
                      params=clinic.params, render=clinic.render_page)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is queued or running (tests, benchmarks); False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._pending and self._running is None, timeout)

    def open(self) -> None:
        """Take jobs (again, after :meth:`close`: the application started anew)."""
        with self._changed:
            self._closed = False

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; let the running one finish (up to ``timeout`` seconds). Jobs still
        queued are dropped (their figures are drawn when first asked for)."""
        with self._changed:
            self._closed = True
            for job in self._pending.values():
                job.done.set()
            self._pending.clear()
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
