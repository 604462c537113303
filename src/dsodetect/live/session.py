"""One live session: each new stack is detected, written, tracked and announced.

The session folder holds everything the outreach page shows::

    <session>/session.sqlite        the store (what was processed, events sent)
    <session>/session.json          snapshot for the web page (rewritten atomically)
    <session>/session.jsonl         the session log, one line per stack
    <session>/view/<stem>.jpg       the stretched stack, without overlays
    <session>/<method>/<stem>.txt   the same outputs as ``dsodetect detect``
    <session>/<method>/<stem>.json  (and .png, plus .<product>.png for
    <session>/<method>/<stem>.png    heatmaps, highlights, starless views)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..detection import Detection
from ..io import ImageReadError, read_image, to_uint8
from ..io.atomic import atomic_write
from ..outputs import write_image, write_outputs
from ..pipeline import process
from .integration import SessionClock, describe_time, integration_seconds, is_known
from .notify import Notifier
from .snr import detection_snr, fit_sqrt_growth, format_duration, starless_gray, time_to_snr
from .store import SessionStore, file_key, strict_json
from .tracking import Track, names_match_target, update_tracks

__all__ = ["SessionConfig", "LiveSession", "IdentifyHook", "FieldSolver", "starless_gray"]

#: ``hook(image, detections)`` adds ``extras["names"]`` / ``extras["description"]`` in place.
IdentifyHook = Callable[[object, list], object]

VIEW_MAX_SIDE = 2048
#: Sky level of the page's view of a linear stack. The apps' JPEG skies sit at 0.03-0.12 (synth/look.py, from
#: real Stellina/Vespera JPEGs); the auto-STF's usual 0.25 is the "mid-grey sky" visitors found odd.
VIEW_SKY = 0.10


@dataclass
class SessionConfig:
    """What a live session looks for and when it speaks.

    Attributes
    ----------
    session_dir : Path
        Where outputs, the store and the page snapshot go.
    formats : tuple of str
        Per-method outputs, as ``dsodetect detect --format``.
    target : str, optional
        Name of the expected target (matched against identified names).
        Smart telescopes centre their target, so a detection covering the
        frame centre also confirms it.
    target_radius : float
        Radius of the target aperture at the frame centre, as a fraction of
        the shorter image side.
    appear_score : float
        Score a detection needs to be announced as a new object.
    snr_threshold : float
        S/N at which an object counts as clearly visible (for the time estimates).
    no_signal_minutes : float
        Integration after which an unconfirmed target raises "no signal".
    min_iou : float
        Overlap that makes two boxes in successive stacks the same object.
    flatten : bool
        Subtract the sky's gradient from linear stacks before detection
        (:meth:`dsodetect.io.Image.flattened`).
    """

    session_dir: Path
    formats: tuple = ("yolo", "json", "png")
    target: str | None = None
    target_radius: float = 0.08
    appear_score: float = 0.3
    snr_threshold: float = 5.0
    no_signal_minutes: float = 30.0
    min_iou: float = 0.1
    root: Path | None = None  # watched folder: file keys are relative to it
    solve_timeout: float = 60.0  # seconds astrometry.net may spend on the field (in the background)
    hook_timeout: float = 10.0  # seconds a custom identify hook may take before the stack goes on without it
    flatten: bool = False


def _resolve_target(target: str):
    """The catalogue entry of ``--target`` (any alias), said in one line; None when the name is unknown."""
    try:
        from ..identify.names import resolve

        entry = resolve(target)
    except (ImportError, RuntimeError, OSError):
        return None
    if entry is None:
        print(f"note: target {target!r} is not a name in OpenNGC or dsodetect's name table; it is confirmed by "
              f"an object at the frame centre only", flush=True)
    else:
        print(f"target: {entry.label}" + ("" if entry.in_catalog else " (not in OpenNGC: confirmed by an object "
                                                                      "at the frame centre)"), flush=True)
    return entry


def _detection_from_dict(d: dict) -> Detection:
    extras = dict(d.get("extras") or {})
    return Detection(*d["box"], score=d["score"], label=d.get("label", "DSO"),
                     method=d.get("method", ""), extras=extras)


def _is_builtin_identify(hook) -> bool:
    return (getattr(hook, "__module__", "") == "dsodetect.identify.match"
            and getattr(hook, "__name__", "") == "identify")


class FieldSolver:
    """Plate solving beside the live loop: the field is solved once, in a worker thread, and reused.

    :meth:`solution_for` never blocks. The first stack of a field starts a
    solve (``solve_fn(image, timeout=...)``, by default
    :func:`dsodetect.identify.solve`) in a daemon thread and returns None:
    that stack goes on unnamed. Later stacks get the solution once it is
    there, as long as the field has not changed: smart telescopes register
    their stacks, so the stars stay at the same pixels; the brightest stars
    of each stack are matched to those of the solved one (star registration;
    a small shift moves the WCS with it). A failed solve is said in one line
    (``on_message``) and not retried until the field changes (another frame
    size, stars that no longer match, another header position).

    Parameters
    ----------
    solve_fn : callable, optional
        ``solve_fn(image, timeout=seconds) -> Solution``.
    timeout : float
        Seconds the solver may spend (astrometry.net's own limit; the live loop never waits).
    on_message : callable
        Receives the one-line outcome of each solve.
    """

    def __init__(self, solve_fn=None, *, timeout: float = 60.0, on_message=print):
        if solve_fn is None:
            from ..identify.solver import solve as solve_fn
        self.solve_fn = solve_fn
        self.timeout = timeout
        self.on_message = on_message
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.state = "idle"  # "solving", "solved", "failed"
        self.message = ""
        self.solution = None
        self._field = None  # (signature, reference stars) of the field solved or being solved
        self.solves = 0

    @staticmethod
    def _signature(image) -> tuple:
        pos = ()
        if image.header is not None:
            from ..io.headers import header_number

            ra = header_number(image.header, "RA", "ra", warn=False)
            dec = header_number(image.header, "DEC", "dec", warn=False)
            if ra is not None and dec is not None:
                pos = (round(ra * 2) / 2, round(dec * 2) / 2)  # half-degree cells
        return (tuple(image.shape), pos)

    @staticmethod
    def _stars(image) -> np.ndarray:
        try:
            from ..identify.solver import extract_stars

            return extract_stars(image, max_stars=40)[:, :2]
        except Exception:
            return np.zeros((0, 2))

    @staticmethod
    def _offset(ref: np.ndarray, cur: np.ndarray, tol: float = 3.0):
        """Median shift (dx, dy) of ``cur`` against ``ref`` when most stars match within ``tol`` px, else None.

        With fewer than 5 stars in either there is nothing to register: the
        field counts as unchanged (its signature already matched).
        """
        if len(ref) < 5 or len(cur) < 5:
            return 0.0, 0.0
        from scipy.spatial import cKDTree

        dist, idx = cKDTree(ref).query(cur, k=1, distance_upper_bound=tol)
        ok = np.isfinite(dist)
        if ok.sum() < max(5, 0.4 * min(len(ref), len(cur))):
            return None
        d = cur[ok] - ref[idx[ok]]
        return float(np.median(d[:, 0])), float(np.median(d[:, 1]))

    def solution_for(self, image):
        """The solution for this stack's field, or None (not solved yet, solving, or failed). Never blocks."""
        if image.wcs is not None:  # a header WCS needs no solving
            from ..identify.solver import solve

            sol = solve(image, hint=False, timeout=0)
            if sol.ok:
                return sol
        sig = self._signature(image)
        with self._lock:
            state, field_ = self.state, self._field
        if state == "solving":  # one solve at a time; this stack goes on unnamed
            return None
        if state in ("solved", "failed") and field_ is not None and field_[0] == sig:
            shift = self._offset(field_[1], self._stars(image))
            if shift is not None:  # the same field
                return self._shifted(shift) if state == "solved" else None
        self._start(image, sig)
        return None

    def _shifted(self, shift):
        dx, dy = shift
        sol = self.solution
        if abs(dx) < 0.5 and abs(dy) < 0.5:
            return sol
        import copy

        moved = copy.copy(sol)
        moved.wcs = sol.wcs.deepcopy()
        moved.wcs.wcs.crpix = moved.wcs.wcs.crpix + np.array([dx, dy])
        return moved

    def _start(self, image, sig) -> None:
        stars = self._stars(image)
        with self._lock:
            self.state, self.message, self._field = "solving", "", (sig, stars)
            self.solution = None
            self.solves += 1
        name = image.path.name if image.path is not None else image.name

        def work():
            t0 = time.time()
            try:
                sol = self.solve_fn(image, timeout=self.timeout)
                err = None if sol.ok else (sol.message or "no solution")
            except Exception as exc:  # a solver bug must not end the session
                sol, err = None, f"{type(exc).__name__}: {exc}"
            dt = time.time() - t0
            if err is None:
                from ..identify.geometry import pixel_scale

                h, w = image.shape
                ra, dec = sol.center(w, h)
                msg = (f"field solved from {name} in {dt:.1f} s: RA {ra:.3f} Dec {dec:+.3f}, "
                       f"{pixel_scale(sol.wcs):.2f}\"/px; objects are named from the next stack on")
            else:
                msg = (f"plate solve failed on {name} after {dt:.1f} s ({err}); "
                       f"objects stay unnamed until the field changes")
            with self._lock:
                self.state = "solved" if err is None else "failed"
                self.solution = sol if err is None else None
                self.message = msg
            if self.on_message:
                self.on_message(msg)

        self._thread = threading.Thread(target=work, name="dsodetect-solve", daemon=True)
        self._thread.start()

    def as_identifier(self, identify_fn=None):
        """An ``identifier(image, detections)`` for :func:`dsodetect.pipeline.process` that never blocks:
        it names with this field's solution when there is one (returning the
        :class:`~dsodetect.identify.IdentifyReport`) and returns None otherwise."""
        if identify_fn is None:
            from ..identify.match import identify as identify_fn

        def identifier(image, detections):
            solution = self.solution_for(image)
            return None if solution is None else identify_fn(image, detections, solution=solution)

        return identifier

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a solve in flight (tests, shutdown)."""
        t = self._thread
        if t is not None:
            t.join(timeout)

    def status(self) -> dict:
        with self._lock:
            return {"state": self.state, "message": self.message, "solves": self.solves}


@dataclass
class StackOutcome:
    """What processing one file did."""

    path: Path
    status: str  # "done", "failed" or "skipped"
    stack_id: int | None = None
    record: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    error: str | None = None


class LiveSession:
    """Process stacks one at a time: detect with every method, track, notify.

    Parameters
    ----------
    config : SessionConfig
    detectors : list of Detector
        Any objects with ``name`` and ``detect(image)``.
    notifier : Notifier, optional
    identify : callable, optional
        ``identify(image, detections)``: adds catalogue names and a one-line
        description to ``Detection.extras`` (the identify step, when present).
    """

    def __init__(self, config: SessionConfig, detectors, *, notifier: Notifier | None = None,
                 identify: IdentifyHook | None = None):
        if not detectors:
            raise ValueError("a live session needs at least one detection method")
        self.config = config
        self.detectors = list(detectors)
        self.notifier = notifier or Notifier(desktop=False)
        self.identify = identify
        self.target_entry = None
        self.field_solver: FieldSolver | None = None  # made on first use by the built-in identify hook
        self._hook_pool: ThreadPoolExecutor | None = None
        self._hook_future = None
        self.dir = Path(config.session_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = SessionStore(self.dir / "session.sqlite")
        self.session_start = self.store.setdefault_meta("session_start", time.time())
        if config.target:
            self.store.set_meta("target", config.target)
            self.target_entry = _resolve_target(config.target)  # also warms the name index up
        self.tracks: list[Track] = []
        stacks = self.store.stacks(status=None)  # decoded once for both
        done = [r for r in stacks if r["status"] == "done"]
        self.clock = SessionClock(max((r.get("seconds") or 0 for r in done), default=None))
        self._known = {r["id"] for r in done if is_known(r.get("seconds_source"))}
        self._replay(done)
        phone = self.dir / "phone.json"  # `dsodetect serve --host 0.0.0.0` fills it; the page asks for it
        if not phone.exists():
            atomic_write(phone, b'{"urls": []}')
        self._rewrite_log(stacks)
        self.write_snapshot()
        self.send_pending()

    # ------------------------------------------------------------ restart
    def _replay(self, stacks: list[dict]) -> None:
        """Rebuild the tracks from the stored ``"done"`` stacks (same result as live)."""
        self.tracks = []
        for rec in stacks:
            dets, snrs = self._stored_detections(rec)
            update_tracks(self.tracks, dets, rec["id"], rec.get("seconds"),
                          min_iou=self.config.min_iou, snr=snrs)

    @staticmethod
    def _stored_detections(rec: dict):
        dets, snrs = [], []
        for m in rec.get("methods", {}).values():
            for d in m["detections"]:
                dets.append(_detection_from_dict(d))
                snrs.append(d.get("snr"))
        return dets, snrs

    def _rewrite_log(self, stacks: list[dict]) -> None:
        """Rewrite the session log from all stored stacks, failed ones included."""
        lines = [strict_json(_log_line(r)) for r in stacks]
        atomic_write(self.dir / "session.jsonl", "".join(line + "\n" for line in lines).encode())

    def send_pending(self) -> None:
        """Send events stored but not yet sent (e.g. the watcher was killed in between)."""
        for ev in self.store.events(unsent_only=True):
            self.notifier.send(ev["kind"], ev["title"], ev["message"])
            self.store.mark_sent(ev["id"])

    def close(self) -> None:
        self.notifier.flush(timeout=5)
        if self._hook_pool is not None:
            self._hook_pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    # ------------------------------------------------------------ names
    def _name(self, image, detections: list, path: Path) -> None:
        """Run the identify step without ever holding the stack up.

        The built-in :func:`dsodetect.identify.identify` gets the field's
        solution from :class:`FieldSolver` (solved once, in the background);
        until there is one, stacks go on unnamed. Any other hook runs in a
        worker on copies of the detections, and is given up on after
        ``hook_timeout`` seconds.
        """
        hook = self.identify
        if hook is None:
            return
        if _is_builtin_identify(hook):
            if self.field_solver is None:
                self.field_solver = FieldSolver(timeout=self.config.solve_timeout,
                                                on_message=lambda m: print(m, flush=True))
            # Solve from the first stack on, objects or not: the names are ready when objects show.
            solution = self.field_solver.solution_for(image)
            if solution is not None and detections:
                hook(image, detections, solution=solution)
            return
        if not detections:
            return
        import copy

        if self._hook_future is not None and not self._hook_future.done():
            return  # still busy with an earlier stack: this one goes on unnamed
        copies = [copy.deepcopy(d) for d in detections]
        if self._hook_pool is None:
            self._hook_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dsodetect-identify")
        future = self._hook_future = self._hook_pool.submit(hook, image, copies)
        try:
            future.result(timeout=self.config.hook_timeout)
        except FutureTimeout:
            print(f"warning: identification took over {self.config.hook_timeout:g} s on {path.name}; "
                  f"this stack goes on unnamed", flush=True)
            return
        for d, c in zip(detections, copies):
            d.extras.update(c.extras)

    # ------------------------------------------------------------ one file
    def key(self, path) -> str:
        return file_key(path, self.config.root)

    def is_done(self, path) -> bool:
        """True when this version of the file is already in the store."""
        try:
            return self.store.has(self.key(path))
        except (OSError, ValueError):
            return False

    def process(self, path) -> StackOutcome:
        """Process one complete stack file, exactly once per file version."""
        path = Path(path)
        try:
            key = self.key(path)
            mtime = path.stat().st_mtime
        except OSError as exc:
            return StackOutcome(path, "failed", error=f"{path}: {exc.strerror or exc}")
        if self.store.has(key):
            return StackOutcome(path, "skipped")
        t_start = time.time()
        try:
            image = read_image(path)
            if self.config.flatten:
                image = image.flattened()
        except ImageReadError as exc:
            record = {"file": str(path), "name": path.name, "error": exc.reason}
            self.store.commit_stack(key, str(path), "failed", record)
            self._append_log(record | {"status": "failed"})
            print(f"error: {exc}", flush=True)
            return StackOutcome(path, "failed", record=record, error=str(exc))

        seconds, source = integration_seconds(image.header, path, session_start=self.session_start,
                                              mtime=mtime)
        seconds, source = self.clock.update(seconds, source)  # never backwards within a session
        stack_id = self.store.next_stack_id()
        if is_known(source):
            self._known.add(stack_id)
        h, w = image.shape
        methods, all_dets = {}, []
        for detector in self.detectors:
            result = process(image, detector)  # detect, tile, clip; naming runs beside the loop
            try:
                self._name(image, result.detections, path)
            except Exception as exc:  # identification is a bonus, never a stop
                print(f"warning: identification failed on {path.name}: {exc}", flush=True)
            out_dir = self.dir / detector.name
            write_outputs(result, out_dir, self.config.formats, extras=True)
            products = {k: f"{detector.name}/{image.name}.{k}.png" for k, p in result.products.items()
                        if p.data.ndim in (2, 3)}
            methods[detector.name] = {"seconds": round(result.seconds, 3), "products": products,
                                      "detections": result.detections}
            all_dets.extend(result.detections)

        # S/N of every box and of the target aperture, on a star-removed image.
        target_aperture = (w / 2, h / 2, self.config.target_radius * min(w, h))
        snrs = detection_snr(image, all_dets, extra=[target_aperture], mask_boxes=True)
        det_snr, target_snr = [float(s) for s in snrs[:-1]], float(snrs[-1])

        view = self.dir / "view" / f"{image.name}.jpg"
        _write_view(view, image)

        k = 0
        for m in methods.values():
            dicts = []
            for d in m["detections"]:
                dd = d.to_dict(w, h)
                dd["snr"] = round(det_snr[k], 2)
                dicts.append(dd)
                k += 1
            m["detections"] = dicts
        record = {"file": str(path), "name": path.name, "stem": image.name, "width": w, "height": h,
                  "seconds": seconds, "seconds_source": source, "mtime": mtime,
                  "view": f"view/{image.name}.jpg", "target_snr": round(target_snr, 2),
                  "methods": methods}
        new_tracks = update_tracks(self.tracks, all_dets, stack_id, seconds, min_iou=self.config.min_iou,
                                   snr=det_snr)
        events = self._events(stack_id, record, new_tracks)
        record["processing_seconds"] = round(time.time() - t_start, 3)
        self.store.commit_stack(key, str(path), "done", record, events)
        record["id"] = stack_id
        self._append_log(record | {"status": "done"})
        self.write_snapshot()
        self._print_summary(record)
        self.send_pending()
        return StackOutcome(path, "done", stack_id, record, events)

    # ------------------------------------------------------------ events
    @staticmethod
    def _target_history(stacks: list[dict]) -> list[tuple]:
        """``(seconds, target S/N)`` of the stack records whose integration time is measured
        (header, sidecar, file name): estimated or held times never feed a time-to-detection."""
        return [(r.get("seconds"), r.get("target_snr")) for r in stacks
                if r.get("seconds") and is_known(r.get("seconds_source"))]

    def target_eta(self, stacks: list[dict] | None = None) -> dict:
        """S/N growth of the target aperture and when it should reach the threshold.

        Parameters
        ----------
        stacks : list of dict, optional
            Stack records to fit; by default the stored ones (read from the store).
        """
        return self._history_eta(self._target_history(self.store.stacks() if stacks is None else stacks))

    def _history_eta(self, hist: list[tuple]) -> dict:
        a = fit_sqrt_growth([t for t, _ in hist], [s for _, s in hist]) if hist else None
        need = time_to_snr(a, self.config.snr_threshold)
        now = hist[-1][0] if hist else None
        return {"snr_per_sqrt_s": a, "needed_seconds": need, "now_seconds": now,
                "remaining_seconds": None if need is None or now is None else max(0.0, need - now)}

    def track_eta(self, track: Track) -> float | None:
        """Total integration at which a marginal object should reach the S/N threshold."""
        pts = [(o.seconds, o.snr) for o in track.observations
               if o.seconds and o.snr is not None and o.stack in self._known]
        a = fit_sqrt_growth([t for t, _ in pts], [s for _, s in pts]) if pts else None
        return time_to_snr(a, self.config.snr_threshold)

    def _target_track(self, stack_id: int, frame: tuple[int, int]) -> Track | None:
        """The track that confirms the target in this stack, if any.

        Identified names that match ``--target`` win; otherwise the best object
        whose box covers the frame centre (where smart telescopes put the
        target), unless it was identified as something else.
        """
        cfg = self.config
        seen = [t for t in self.tracks if t.last.stack == stack_id and t.last.score >= cfg.appear_score]
        for t in seen:
            if names_match_target(t.names, cfg.target):
                return t
        w, h = frame
        # An object identified as something else does not confirm a named target.
        # A target OpenNGC does not hold (Spaghetti Nebula) can only be confirmed this way.
        nameable = self.target_entry is not None and self.target_entry.in_catalog
        central = [t for t in seen if t.box[0] <= w / 2 <= t.box[2] and t.box[1] <= h / 2 <= t.box[3]
                   and not (cfg.target and t.names and nameable)]
        return max(central, key=lambda t: t.last.score, default=None)

    def _events(self, stack_id: int, record: dict, new_tracks: list[Track]) -> list[dict]:
        cfg = self.config
        events = []
        when = (describe_time(record["seconds"], record["seconds_source"]) if record["seconds"]
                else f"stack {stack_id}")
        for t in self.tracks:
            if t.last.stack != stack_id or t.last.score < cfg.appear_score:
                continue
            key = f"appeared:{t.id}"
            if self.store.has_event(key):
                continue
            desc = f" -- {t.description}" if t.description else ""
            snr = f", S/N {t.last.snr:.1f}" if t.last.snr is not None else ""
            events.append({"key": key, "kind": "appeared", "title": f"New object: {t.label()}",
                           "message": f"{t.label()} appeared after {when} (score {t.last.score:.2f}{snr}, "
                                      f"{'+'.join(t.last.methods) or 'detector'}) in {record['name']}{desc}"})
        target = self._target_track(stack_id, (record["width"], record["height"]))
        tname = cfg.target or "target"
        if target is not None and not self.store.has_event("target_confirmed"):
            events.append({"key": "target_confirmed", "kind": "target_confirmed",
                           "title": f"Target confirmed: {cfg.target or target.label()}",
                           "message": f"{tname} confirmed after {when} as {target.label()} "
                                      f"(score {target.last.score:.2f})"})
        hist = self._target_history(self.store.stacks() + [record])  # one store read: fit and count
        eta = self._history_eta(hist)
        record["target_eta"] = eta
        seconds = (record["seconds"] or 0) if is_known(record["seconds_source"]) else 0
        n_timed = len(hist)
        if (target is None and n_timed >= 2 and eta["remaining_seconds"] and not self.store.has_event("eta")
                and not self.store.has_event("target_confirmed")):
            events.append({"key": "eta", "kind": "eta",
                           "title": f"{tname} expected in ~{format_duration(eta['remaining_seconds'])}",
                           "message": f"{tname} not visible yet (S/N {record['target_snr']:.1f} after {when}); "
                                      f"at ~sqrt(t) growth it should reach S/N {cfg.snr_threshold:g} after about "
                                      f"{format_duration(eta['needed_seconds'])} of integration "
                                      f"({format_duration(eta['remaining_seconds'])} more)."})
        if (target is None and not self.store.has_event("target_confirmed")
                and seconds >= cfg.no_signal_minutes * 60 and not self.store.has_event("no_signal")):
            if eta["remaining_seconds"]:
                hint = (f" At the current S/N growth (~sqrt(t)) it would need about "
                        f"{format_duration(eta['needed_seconds'])} of integration in total "
                        f"({format_duration(eta['remaining_seconds'])} more).")
            elif eta["needed_seconds"] is not None:
                hint = (f" The frame centre shows S/N {record['target_snr']:.1f} yet no method finds an object "
                        f"there: check framing and focus.")
            else:
                hint = " No signal is growing at the frame centre."
            events.append({"key": "no_signal", "kind": "no_signal",
                           "title": f"No signal after {format_duration(seconds)}",
                           "message": f"{tname} not detected after {format_duration(seconds)} -- "
                                      f"consider stopping or changing target.{hint}"})
        return events

    # ------------------------------------------------------------ outputs
    def _append_log(self, record: dict) -> None:
        with open(self.dir / "session.jsonl", "a") as fh:
            fh.write(strict_json(_log_line(record)) + "\n")

    def snapshot(self) -> dict:
        """The state the web page shows: stacks, tracks, events, target and estimates."""
        stacks = self.store.stacks()
        cfg = self.config
        latest = stacks[-1] if stacks else None
        tracks = []
        for t in self.tracks:
            d = t.to_dict()
            d["in_latest"] = latest is not None and t.last.stack == latest["id"]
            d["visible"] = t.last.score >= cfg.appear_score
            eta = self.track_eta(t)
            d["eta_seconds"] = eta
            d["marginal"] = bool(t.last.snr is not None and t.last.snr < cfg.snr_threshold)
            # The one set the page counts, lists and draws: in the latest stack with an announced score.
            d["shown"] = bool(d["in_latest"] and d["visible"])
            d["signal"] = signal_level(t.last.snr, cfg.snr_threshold)
            tracks.append(d)
        events = [{k: e[k] for k in ("id", "kind", "stack_id", "title", "message", "created")}
                  for e in self.store.events()]
        confirmed = self.store.has_event("target_confirmed")
        return {
            "version": self.store.count(None),
            "updated": time.time(),
            "session_start": self.session_start,
            "target": {"name": cfg.target, "confirmed": confirmed, "snr_threshold": cfg.snr_threshold,
                       **self.target_eta(stacks)},
            "methods": [d.name for d in self.detectors],
            "appear_score": cfg.appear_score,
            "shown_count": sum(1 for t in tracks if t["shown"]),
            "solver": self.field_solver.status() if self.field_solver is not None else None,
            "stacks": [{k: s.get(k) for k in ("id", "name", "stem", "width", "height", "seconds",
                                               "seconds_source", "view", "target_snr", "methods",
                                               "processed_at", "processing_seconds")}
                       for s in stacks],
            "tracks": tracks,
            "events": events,
        }

    def write_snapshot(self) -> None:
        atomic_write(self.dir / "session.json", strict_json(self.snapshot()).encode())

    def _print_summary(self, record: dict) -> None:
        t = describe_time(record["seconds"], record["seconds_source"])
        n = sum(len(m["detections"]) for m in record["methods"].values())
        how = f" ({record['seconds_source']})" if is_known(record["seconds_source"]) else ""
        parts = [f"{record['name']}: {t}{how}, {n} detection(s), "
                 f"{len(self.tracks)} object(s) so far, {record['processing_seconds']:.2f} s"]
        if not self.store.has_event("target_confirmed"):
            eta = record.get("target_eta") or {}
            snr = record["target_snr"]
            if eta.get("remaining_seconds") == 0:
                parts.append(f"  target S/N {snr:.1f} at the frame centre, above {self.config.snr_threshold:g}, "
                             f"yet no method finds an object there")
            elif eta.get("remaining_seconds") is not None:
                parts.append(f"  target S/N {snr:.1f}; at ~sqrt(t) it should reach S/N "
                             f"{self.config.snr_threshold:g} after ~{format_duration(eta['needed_seconds'])} "
                             f"in total ({format_duration(eta['remaining_seconds'])} more)")
            else:
                parts.append(f"  target S/N {snr:.1f}; no growing signal at the frame centre yet")
        for tr in self.tracks:
            if tr.last.stack == record["id"] and tr.last.snr is not None and tr.last.snr < self.config.snr_threshold:
                eta = self.track_eta(tr)
                if (eta and record["seconds"] and is_known(record["seconds_source"])
                        and eta <= 10 * record["seconds"]):  # else: not this night
                    parts.append(f"  {tr.label()} is marginal (S/N {tr.last.snr:.1f}); should be clear after "
                                 f"~{format_duration(eta)} ({format_duration(max(0, eta - record['seconds']))} more)")
        print("\n".join(parts), flush=True)


def signal_level(snr: float | None, threshold: float = 5.0) -> dict:
    """A visitor's measure of how well an object shows: ``faint`` / ``clear`` / ``bright`` and a bar.

    ``faint`` below the S/N threshold (5: not yet clearly visible), ``clear``
    up to 4x the threshold, ``bright`` beyond. ``bar`` in [0, 1] grows with
    log S/N (1 at 10x the threshold), so thousands and hundreds both read as
    a full bar instead of numbers that mean nothing to a visitor. The S/N
    itself stays in the details.
    """
    if snr is None or not np.isfinite(snr) or snr <= 0:
        return {"level": "unknown", "bar": 0.0}
    level = "faint" if snr < threshold else "clear" if snr < 4 * threshold else "bright"
    bar = float(np.clip(np.log1p(snr) / np.log1p(10 * threshold), 0.0, 1.0))
    return {"level": level, "bar": round(bar, 3)}


def _log_line(record: dict) -> dict:
    line = {k: record.get(k) for k in ("id", "status", "name", "file", "seconds", "seconds_source",
                                        "target_snr", "processing_seconds", "error") if k in record}
    if "methods" in record:
        line["detections"] = {m: len(v["detections"]) for m, v in record["methods"].items()}
    return line


def _write_view(path: Path, image) -> None:
    """The stretched stack as a JPEG for the page (long side at most VIEW_MAX_SIDE)."""
    import cv2

    if not image.stretched:
        # Linear FITS: neutral sky, one linked stretch, the sky as dark as the apps show it
        # (io.stretch.color_stretch; mono data gets the plain auto-stretch at the same sky level).
        from ..io.stretch import color_stretch

        rgb = to_uint8(color_stretch(image.data, image.mask, target_bkg=VIEW_SKY))
    else:
        rgb = to_uint8(image.display())
    h, w = rgb.shape[:2]
    if max(h, w) > VIEW_MAX_SIDE:
        s = VIEW_MAX_SIDE / max(h, w)
        rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, rgb)  # encoded in memory and renamed into place
