"""Issue 13, `evaluate`: malformed labels, predictions and options are rejected with file and line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dsodetect import Detection
from dsodetect.cli import app
from dsodetect.evaluation import (MalformedLabels, evaluate, evaluate_folders, format_report, load_labels,
                                  parse_label_line)

GOOD_TRUTH = "0 0.5 0.5 0.2 0.2\n"
GOOD_PRED = "0 0.5 0.5 0.2 0.2 0.9\n"

# Each line is invalid on its own; together with the reason it must be rejected for.
MALFORMED = {
    "0 nan 0.5 0.2 0.2 0.9": "not finite",
    "0 0.5 NaN 0.2 0.2 0.9": "not finite",
    "0 0.5 0.5 inf 0.2 0.9": "not finite",
    "0 0.5 0.5 0.2 -inf 0.9": "not finite",
    "0 0.5 0.5 0.2 0.2 nan": "not finite",
    "0 0.5 0.5 0.2 0.2 inf": "not finite",
    "0 -0.1 0.5 0.2 0.2 0.9": "outside [0, 1]",
    "0 0.5 -0.5 0.2 0.2 0.9": "outside [0, 1]",
    "0 1.5 0.5 0.2 0.2 0.9": "outside [0, 1]",
    "0 0.5 0.5 1.2 0.2 0.9": "outside [0, 1]",
    "0 0.5 0.5 0.2 2 0.9": "outside [0, 1]",
    "0 0.5 0.5 -0.2 0.2 0.9": "outside [0, 1]",
    "0 0.5 0.5 0 0.2 0.9": "not positive",
    "0 0.5 0.5 0.2 0 0.9": "not positive",
    "0 0.5 0.5 0.2 0.2 -0.1": "score",
    "0 0.5 0.5 0.2 0.2 1.5": "score",
    "0 0.5 0.5 0.2 0.2 1e308": "score",
    "0 0.5 0.5 0.2": "5 or 6 fields",
    "0 0.5 0.5 0.2 0.2 0.9 7": "5 or 6 fields",
    "0.5 0.5 0.2 0.2 0.9 1 2 3": "5 or 6 fields",
    "0 0.5 oops 0.2 0.2 0.9": "not a number",
    "zero 0.5 0.5 0.2 0.2 0.9": "not a number",
    "-1 0.5 0.5 0.2 0.2 0.9": "non-negative integer",
    "0.5 0.5 0.5 0.2 0.2 0.9": "non-negative integer",
    "nan 0.5 0.5 0.2 0.2 0.9": "not finite",
    "0 1e999 0.5 0.2 0.2 0.9": "not finite",
    "0 0x1p-1 0.5 0.2 0.2 0.9": "not a number",
}


@pytest.mark.parametrize("line", sorted(MALFORMED))
def test_parse_label_line_rejects(line):
    with pytest.raises(ValueError, match=MALFORMED[line].replace("[", r"\[").replace("]", r"\]")):
        parse_label_line(line)


def test_parse_label_line_accepts_edges():
    assert parse_label_line("   ") is None
    assert parse_label_line("0 0 1 1 1 0") == (0, 0.0, 1.0, 1.0, 1.0, 0.0)
    assert parse_label_line("2 0.5 0.5 1e-6 1e-6") == (2, 0.5, 0.5, 1e-6, 1e-6, None)
    assert parse_label_line("1.0 0.5 0.5 0.2 0.2 1") == (1, 0.5, 0.5, 0.2, 0.2, 1.0)


def _folders(tmp_path, pred_lines, truth_lines=GOOD_TRUTH):
    t, p = tmp_path / "t", tmp_path / "p"
    t.mkdir(exist_ok=True)
    p.mkdir(exist_ok=True)
    (t / "a.txt").write_text(truth_lines)
    (p / "a.txt").write_text(pred_lines)
    return p, t


@pytest.mark.parametrize("line", sorted(MALFORMED))
def test_malformed_prediction_is_refused_with_file_and_line(tmp_path, line):
    p, t = _folders(tmp_path, GOOD_PRED + line + "\n")
    with pytest.raises(MalformedLabels) as info:
        evaluate_folders(p, t)
    assert [(r.line, r.path.endswith("a.txt")) for r in info.value.rejected] == [(2, True)]
    assert "a.txt:2:" in str(info.value)


def test_non_strict_skips_and_reports_every_rejected_entry(tmp_path):
    bad = ["0 nan 0.5 0.2 0.2 0.9", "0 0.5 0.5 0.2 0.2 1.5", "0 2 0.5 0.2 0.2 0.9"]
    p, t = _folders(tmp_path, GOOD_PRED + "\n".join(bad) + "\n", GOOD_TRUTH + "0 0.5 0.5 0 0.1\n")
    out = tmp_path / "rep"
    r = evaluate_folders(p, t, strict=False, out_dir=out)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 0, 0)  # only the valid entries count
    assert r["recall"] <= 1.0 and r["precision"] <= 1.0
    assert sorted(x.split(":")[-3] for x in r["rejected"]) == ["2", "2", "3", "4"]
    text = format_report(r)
    assert "rejected 4 malformed entries" in text and "a.txt:3:" in text
    saved = json.loads((out / "report.json").read_text())
    assert len(saved["rejected"]) == 4


def test_unreadable_label_files_are_listed(tmp_path):
    p, t = _folders(tmp_path, GOOD_PRED)
    (t / "b.txt").write_bytes(b"\xff\xfe\x00binary")
    (p / "b.txt").write_text("0 0.5 0.5 0.2 0.2 0.5\n")
    with pytest.raises(MalformedLabels, match="b.txt: not a text file"):
        evaluate_folders(p, t)
    r = evaluate_folders(p, t, strict=False)
    assert r["images"] == 1 and any("b.txt" in x for x in r["rejected"])
    rejected = []
    assert set(load_labels(t, rejected=rejected)) == {"a"} and len(rejected) == 1


@pytest.mark.parametrize("iou", [-1, 0, 1.5, float("nan"), float("inf"), "abc"])
def test_bad_iou_is_a_value_error(tmp_path, iou):
    p, t = _folders(tmp_path, GOOD_PRED)
    with pytest.raises(ValueError, match="iou"):
        evaluate_folders(p, t, iou=iou)
    with pytest.raises(ValueError, match="iou"):
        evaluate({"a": []}, {"a": []}, iou=iou)


@pytest.mark.parametrize("score", [-0.1, 1.5, float("nan")])
def test_bad_min_score_is_a_value_error(tmp_path, score):
    p, t = _folders(tmp_path, GOOD_PRED)
    with pytest.raises(ValueError, match="min-score"):
        evaluate_folders(p, t, min_score=score)


def test_in_memory_non_finite_detections_are_refused():
    truth = {"a": [Detection(0, 0, 10, 10)]}
    with pytest.raises(ValueError, match="non-finite"):
        evaluate({"a": [Detection(0, 0, 10, 10, float("nan"))]}, truth)
    with pytest.raises(ValueError, match="non-finite"):
        evaluate({"a": [Detection(0, 0, float("inf"), 10, 0.5)]}, truth)


def test_iou_one_is_allowed(tmp_path):
    p, t = _folders(tmp_path, GOOD_PRED)
    assert evaluate_folders(p, t, iou=1.0)["tp"] == 1


@pytest.mark.parametrize("args", [["--iou", "-1"], ["--iou", "0"], ["--iou", "1.5"], ["--iou", "nan"],
                                  ["--min-score", "nan"]])
def test_cli_bad_options_exit_2(tmp_path, args):
    p, t = _folders(tmp_path, GOOD_PRED)
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(p), "--truth", str(t), *args])
    assert r.exit_code == 2 and "error:" in r.output and "Traceback" not in r.output


def test_cli_malformed_entries_exit_2_with_each_file_and_line(tmp_path):
    p, t = _folders(tmp_path, GOOD_PRED + "0 0.5 0.5 0.2 0.2 nan\n0 0.5 0.5 0.2 0.2 -1\n")
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(p), "--truth", str(t)])
    assert r.exit_code == 2
    assert "a.txt:2:" in r.output and "a.txt:3:" in r.output and "best F1" not in r.output


def test_non_utf8_stems_are_evaluated_and_reported(tmp_path):
    import os

    p, t = _folders(tmp_path, GOOD_PRED)
    name = os.fsencode(t) + b"/b\xff.txt"
    with open(name, "wb") as fh:
        fh.write(b"0 0.5 0.5 0.2 0.2\n")
    with open(os.fsencode(p) + b"/b\xff.txt", "wb") as fh:
        fh.write(b"0 0.5 0.5 0.2 0.2 0.8\n0 0.5 0.5 0.2 0.2 nan\n")
    out = tmp_path / "rep"
    r = evaluate_folders(p, t, out_dir=out, strict=False)
    assert r["tp"] == 2 and len(r["rejected"]) == 1 and "b\\xff.txt:2:" in r["rejected"][0]
    format_report(r).encode("utf-8")
    assert b"b\xff" in (out / "per_image.csv").read_bytes()
    json.loads((out / "report.json").read_text())
