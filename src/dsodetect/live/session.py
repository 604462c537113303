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

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..detection import Detection
from ..io import ImageReadError, read_image, to_uint8
from ..outputs import write_outputs
from ..pipeline import run_detector
from .integration import integration_seconds
from .notify import Notifier
from .snr import detection_snr, fit_sqrt_growth, format_duration, starless_gray, time_to_snr
from .store import SessionStore, file_key
from .tracking import Track, update_tracks

__all__ = ["SessionConfig", "LiveSession", "IdentifyHook", "starless_gray"]

#: ``hook(image, detections)`` adds ``extras["names"]`` / ``extras["description"]`` in place.
IdentifyHook = Callable[[object, list], object]

VIEW_MAX_SIDE = 2048


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


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _names_match(names, target: str | None) -> bool:
    if not target:
        return False
    norm = lambda s: "".join(str(s).lower().split())  # "M 31" == "m31"
    return any(norm(n) == norm(target) for n in names)


def _detection_from_dict(d: dict) -> Detection:
    extras = dict(d.get("extras") or {})
    return Detection(*d["box"], score=d["score"], label=d.get("label", "DSO"),
                     method=d.get("method", ""), extras=extras)


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
        self.dir = Path(config.session_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = SessionStore(self.dir / "session.sqlite")
        self.session_start = self.store.setdefault_meta("session_start", time.time())
        if config.target:
            self.store.set_meta("target", config.target)
        self.tracks: list[Track] = []
        stacks = self.store.stacks(status=None)  # decoded once for both
        self._replay([r for r in stacks if r["status"] == "done"])
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
        lines = [json.dumps(_log_line(r)) for r in stacks]
        _atomic_write(self.dir / "session.jsonl", "".join(line + "\n" for line in lines))

    def send_pending(self) -> None:
        """Send events stored but not yet sent (e.g. the watcher was killed in between)."""
        for ev in self.store.events(unsent_only=True):
            self.notifier.send(ev["kind"], ev["title"], ev["message"])
            self.store.mark_sent(ev["id"])

    def close(self) -> None:
        self.notifier.flush(timeout=5)
        self.store.close()

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
        except ImageReadError as exc:
            record = {"file": str(path), "name": path.name, "error": exc.reason}
            self.store.commit_stack(key, str(path), "failed", record)
            self._append_log(record | {"status": "failed"})
            print(f"error: {exc}", flush=True)
            return StackOutcome(path, "failed", record=record, error=str(exc))

        seconds, source = integration_seconds(image.header, path, session_start=self.session_start,
                                              mtime=mtime)
        stack_id = self.store.next_stack_id()
        h, w = image.shape
        methods, all_dets = {}, []
        for detector in self.detectors:
            result = run_detector(detector, image)
            if self.identify is not None:
                try:
                    self.identify(image, result.detections)
                except Exception as exc:  # identification is a bonus, never a stop
                    print(f"warning: identification failed on {path.name}: {exc}", flush=True)
            out_dir = self.dir / detector.name
            write_outputs(result, out_dir, self.config.formats, extras=True)
            products = {k: f"{detector.name}/{image.name}.{k}.png" for k, v in result.extras.items()
                        if isinstance(v, np.ndarray) and v.ndim in (2, 3)}
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
        """``(seconds, target S/N)`` of the stack records with a known integration time."""
        return [(r.get("seconds"), r.get("target_snr")) for r in stacks if r.get("seconds")]

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
        pts = [(o.seconds, o.snr) for o in track.observations if o.seconds and o.snr is not None]
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
            if _names_match(t.names, cfg.target):
                return t
        w, h = frame
        # An object identified as something else does not confirm a named target.
        central = [t for t in seen if t.box[0] <= w / 2 <= t.box[2] and t.box[1] <= h / 2 <= t.box[3]
                   and not (cfg.target and t.names)]
        return max(central, key=lambda t: t.last.score, default=None)

    def _events(self, stack_id: int, record: dict, new_tracks: list[Track]) -> list[dict]:
        cfg = self.config
        events = []
        when = format_duration(record["seconds"]) if record["seconds"] else f"stack {stack_id}"
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
        seconds = record["seconds"] or 0
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
            fh.write(json.dumps(_log_line(record)) + "\n")

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
            "stacks": [{k: s.get(k) for k in ("id", "name", "stem", "width", "height", "seconds",
                                               "seconds_source", "view", "target_snr", "methods",
                                               "processed_at", "processing_seconds")}
                       for s in stacks],
            "tracks": tracks,
            "events": events,
        }

    def write_snapshot(self) -> None:
        _atomic_write(self.dir / "session.json", json.dumps(self.snapshot()))

    def _print_summary(self, record: dict) -> None:
        t = format_duration(record["seconds"]) if record["seconds"] else "unknown integration"
        n = sum(len(m["detections"]) for m in record["methods"].values())
        parts = [f"{record['name']}: {t} ({record['seconds_source']}), {n} detection(s), "
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
                if eta and record["seconds"] and eta <= 10 * record["seconds"]:  # else: not this night
                    parts.append(f"  {tr.label()} is marginal (S/N {tr.last.snr:.1f}); should be clear after "
                                 f"~{format_duration(eta)} ({format_duration(max(0, eta - record['seconds']))} more)")
        print("\n".join(parts), flush=True)


def _log_line(record: dict) -> dict:
    line = {k: record.get(k) for k in ("id", "status", "name", "file", "seconds", "seconds_source",
                                        "target_snr", "processing_seconds", "error") if k in record}
    if "methods" in record:
        line["detections"] = {m: len(v["detections"]) for m, v in record["methods"].items()}
    return line


def _write_view(path: Path, image) -> None:
    """The stretched stack as a JPEG for the page (long side at most VIEW_MAX_SIDE)."""
    import cv2

    rgb = to_uint8(image.display())
    h, w = rgb.shape[:2]
    if max(h, w) > VIEW_MAX_SIDE:
        s = VIEW_MAX_SIDE / max(h, w)
        rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    if rgb.ndim == 3:
        rgb = rgb[:, :, ::-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.jpg")
    if not cv2.imwrite(str(tmp), rgb, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"{path}: could not write JPEG")
    os.replace(tmp, path)
