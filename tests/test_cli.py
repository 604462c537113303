"""The command-line contract: `dsodetect detect ... --out DIR --format yolo,json,png` and `evaluate`."""

import json
import re
import subprocess
import sys

import numpy as np
from astropy.io import fits
from typer.testing import CliRunner

from dsodetect.cli import app

YOLO_LINE = re.compile(r"^0 (0|1|0\.\d+|1\.0+) (0|1|0\.\d+|1\.0+) (0|1|0\.\d+|1\.0+) (0|1|0\.\d+|1\.0+) \d\.\d+$")


def test_detect_batch_writes_contract_outputs_and_survives_bad_files(tmp_path, sky_fits):
    good, _ = sky_fits
    inputs = tmp_path / "in"
    inputs.mkdir()
    good.rename(inputs / "field.fits")
    (inputs / "empty.fits").write_bytes(b"")
    fits.PrimaryHDU(np.full((40, 40), np.nan, np.float32)).writeto(inputs / "blank.fits")
    (inputs / "notes.jpg").write_text("not a jpeg")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "dsodetect.cli", "detect", str(inputs), "--method",
                           "classical", "--out", str(out), "--format", "yolo,json,png"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr  # some files failed
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 3
    assert any("empty.fits" in e and "empty file" in e for e in errors)
    assert any("blank.fits" in e and "no valid pixels" in e for e in errors)
    assert any("notes.jpg" in e and "not an image" in e for e in errors)
    assert sorted(p.name for p in out.iterdir()) == ["field.json", "field.png", "field.txt"]
    lines = (out / "field.txt").read_text().splitlines()
    assert lines and all(YOLO_LINE.match(l) for l in lines), lines
    js = json.loads((out / "field.json").read_text())
    assert js["method"] == "classical" and js["width"] == 320 and len(js["detections"]) == len(lines)


def test_detect_unknown_method_and_format_exit_2(tmp_path, sky_fits):
    path, _ = sky_fits
    runner = CliRunner()
    r = runner.invoke(app, ["detect", str(path), "--method", "magic", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "unknown method" in r.output
    r = runner.invoke(app, ["detect", str(path), "--format", "yolo,gif", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "gif" in r.output


def test_detect_then_evaluate_round_trip(tmp_path, sky_fits):
    path, box = sky_fits
    out, truth = tmp_path / "out", tmp_path / "truth"
    truth.mkdir()
    x0, y0, x1, y1 = box
    (truth / "field.txt").write_text(
        f"0 {(x0 + x1) / 640} {(y0 + y1) / 640} {(x1 - x0) / 320} {(y1 - y0) / 320}\n")
    runner = CliRunner()
    r = runner.invoke(app, ["detect", str(path), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["evaluate", "--pred", str(out), "--truth", str(truth), "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    assert "precision" in r.output and "mAP@0.5" in r.output
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["tp"] == 1  # the rendered nebula is found with IoU >= 0.5


def test_help_lists_commands():
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0 and "detect" in r.output and "evaluate" in r.output


def test_same_stem_inputs_do_not_overwrite_each_other(tmp_path, sky_fits):
    import cv2

    from dsodetect.io import read_image, to_uint8

    path, _ = sky_fits
    # The app's JPEG beside its FITS stack, as Seestar and Vespera save them.
    cv2.imwrite(str(path.with_suffix(".jpg")), to_uint8(read_image(path).display())[:, :, ::-1])
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["detect", str(path.parent), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "same name" in r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["field.json", "field.png", "field.txt", "field_jpg.json", "field_jpg.png", "field_jpg.txt"]
    assert json.loads((out / "field_jpg.json").read_text())["file"].endswith("field.jpg")


def test_renamed_stem_reaches_the_detector(tmp_path, sky_fits):
    # A wrapping detector that writes its own files (identify's <stem>.identify.json)
    # names them from the image, so the new stem must be on the image itself.
    import cv2

    from dsodetect.io import read_image, to_uint8
    from dsodetect.pipeline import run_batch

    path, _ = sky_fits
    jpg = path.with_suffix(".jpg")
    cv2.imwrite(str(jpg), to_uint8(read_image(path).display())[:, :, ::-1])

    class Recorder:
        name = "recorder"

        def __init__(self):
            self.seen = []

        def detect(self, image):
            self.seen.append(image.name)
            return []

    det = Recorder()
    report = run_batch([path, jpg], det, out_dir=tmp_path / "out", formats=("json",))
    assert det.seen == ["field", "field_jpg"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["field.json", "field_jpg.json"]
    assert [r.name for r in report.results] == ["field", "field_jpg"]
