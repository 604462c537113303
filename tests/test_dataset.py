"""Data set tooling: YOLO read/write/validate, tiling, crops, splits, DeepSpaceYoloDataset zip, augmentations."""

import hashlib
import zipfile

import cv2
import numpy as np
import pytest

from dsodetect.dataset import find_samples, parse_labels, read_labels, validate_dataset, write_labels
from dsodetect.dataset.crops import balance, crop_label, make_crop_dataset, random_crops
from dsodetect.dataset.deepspace import load_deepspace, unpack_zip
from dsodetect.dataset.split import source_id, split_by_source, write_split
from dsodetect.dataset.tiling import labels_in_tile, tile_frame
from dsodetect.postprocess import stitch_image
from dsodetect.detection import Detection
from dsodetect.postprocess import Tile


def _jpg(path, w=64, h=48, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(path), img)
    return path


def _dataset(root, names, boxes="0 0.5 0.5 0.2 0.2\n"):
    for n in names:
        _jpg(root / "images" / f"{n}.jpg")
        (root / "labels").mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"{n}.txt").write_text(boxes)
    return root


def test_parse_labels_reports_problems_instead_of_raising(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("0 0.5 0.5 0.2 0.2\n\n0 0.5 0.5\n0 a b c d\n0 0.95 0.5 0.2 0.2\n0 1.5 1.5 0.2 0.2\n"
                 "3 0.5 0.5 0.1 0.1\n0 0.5 0.5 0 0.1\n0 0.5 0.5 0.2 0.2 0.9\n")
    lf = parse_labels(p)
    text = "\n".join(lf.problems)
    assert ":2: empty line" in text
    assert ":3: expected" in text and ":4: not numbers" in text
    assert ":5: box outside the image (clipped)" in text
    assert ":6: box entirely outside" in text
    assert ":7: class 3" in text and ":8: box has no area" in text
    assert len(lf.boxes) == 3  # line 1, the clipped line 5 and the 6-column line 9
    _, xc, yc, w, h = lf.boxes[1]
    assert xc + w / 2 == pytest.approx(1.0) and w == pytest.approx(0.15)


def test_write_then_read_labels_roundtrip(tmp_path):
    dets = [Detection(10, 20, 50, 40), Detection(-5, 0, 30, 10), Detection(70, 70, 90, 90)]
    p = write_labels(tmp_path / "l.txt", dets, 64, 48)
    lines = p.read_text().splitlines()
    assert len(lines) == 2 and all(len(line.split()) == 5 for line in lines)  # clipped, off-image dropped
    back = read_labels(p, 64, 48)
    assert back[0].x0 == pytest.approx(10, abs=1e-3) and back[0].y1 == pytest.approx(40, abs=1e-3)
    assert back[1].x0 == pytest.approx(0, abs=1e-3)
    write_labels(tmp_path / "e.txt", [], 64, 48)
    assert (tmp_path / "e.txt").read_text() == ""


def test_validate_reports_every_kind_of_problem(tmp_path):
    root = _dataset(tmp_path / "ds", ["a", "b"])
    _jpg(root / "images" / "nolabel.jpg")
    (root / "labels" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "images" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "labels" / "broken.txt").write_text("0 0.5 0.5 0.1\n")
    rep = validate_dataset(root)
    text = "\n".join(rep.problems)
    assert rep.n_images == 4 and not rep.ok
    assert "nolabel.jpg: image has no label file" in text
    assert "orphan.txt: label file without an image" in text
    assert "broken.jpg: unreadable image" in text and "broken.txt:1: expected" in text
    clean = validate_dataset(_dataset(tmp_path / "ok", ["x", "y"]))
    assert clean.ok and clean.n_boxes == 2
    missing = validate_dataset(tmp_path / "nothing")
    assert not missing.ok and "no such data set folder" in missing.problems[0]


def test_find_samples_understands_ultralytics_and_roboflow_layouts(tmp_path):
    from dsodetect.dataset import write_data_yaml

    u = tmp_path / "u"
    for split in ("train", "val"):
        _jpg(u / "images" / split / f"{split}1.jpg")
        (u / "labels" / split).mkdir(parents=True)
        (u / "labels" / split / f"{split}1.txt").write_text("")
    write_data_yaml(u, splits=("train", "val"))
    s = find_samples(u)
    assert sorted((x.stem, x.split) for x in s) == [("train1", "train"), ("val1", "val")]
    assert all(x.label is not None for x in s)
    r = tmp_path / "r"
    _jpg(r / "valid" / "images" / "v.jpg")
    (r / "valid" / "labels").mkdir(parents=True)
    (r / "valid" / "labels" / "v.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    s = find_samples(r)
    assert [(x.stem, x.split) for x in s] == [("v", "val")] and s[0].label.name == "v.txt"


def test_tile_labels_clip_and_drop_slivers():
    t = Tile(0, 0, 100, 100)
    small_in = Detection(10, 10, 30, 30)
    half_out = Detection(80, 10, 120, 30)    # half inside -> kept, clipped
    mostly_out = Detection(90, 40, 190, 60)  # 10 % inside -> dropped
    sliver = Detection(97, 0, 200, 200)      # 3 px wide inside -> dropped
    huge = Detection(-100, -100, 300, 300)   # fills the tile though little of it is inside -> kept
    got = labels_in_tile([small_in, half_out, mostly_out, sliver, huge], t)
    boxes = [(d.x0, d.y0, d.x1, d.y1) for d in got]
    assert boxes == [(10, 10, 30, 30), (80, 10, 100, 30), (0, 0, 100, 100)]


def test_tile_and_stitch_back():
    rng = np.random.default_rng(0)
    frame = (rng.random((1000, 1300, 3)) * 255).astype(np.uint8)
    obj = Detection(500, 300, 700, 420)  # straddles a tile seam
    tiles = tile_frame(frame, [obj], size=608, overlap=64)
    assert all(a.shape[:2] == (608, 608) for _, a, _ in tiles)
    assert sum(len(d) for _, _, d in tiles) >= 2, "the object is seen (clipped) in two tiles"
    assert np.array_equal(stitch_image([(t, a) for t, a, _ in tiles], 1000, 1300), frame)


def test_crop_labels_and_balance():
    big = Detection(0, 0, 1000, 1000)
    small = Detection(100, 100, 140, 140)
    assert crop_label((0, 0, 224, 224), [big]) == 1           # nebula fills the crop
    assert crop_label((50, 50, 274, 274), [small]) == 1       # whole galaxy inside
    assert crop_label((300, 300, 524, 524), [small]) == 0     # nothing
    assert crop_label((130, 130, 354, 354), [small]) is None  # a corner of it: ambiguous
    rng = np.random.default_rng(0)
    crops = random_crops(rng, 640, 640, [small], 40)
    assert len(crops) > 10 and {lab for _, lab in crops} == {0, 1}
    for (x0, y0, x1, y1), _ in crops:
        assert x1 - x0 == 224 and 0 <= x0 and x1 <= 640
    bal = balance(crops, rng)
    assert sum(lab for _, lab in bal) * 2 == len(bal)


def test_crop_dataset_balanced_imagefolder(tmp_path):
    root = tmp_path / "ds"
    for i in range(3):
        _jpg(root / "images" / f"{i}.jpg", 320, 320, seed=i)
        (root / "labels").mkdir(exist_ok=True)
        (root / "labels" / f"{i}.txt").write_text("0 0.3 0.3 0.15 0.15\n")
    counts = make_crop_dataset(find_samples(root), tmp_path / "crops", per_image=6, size=96)
    assert counts["train/dso"] == counts["train/empty"] > 0
    assert len(list((tmp_path / "crops" / "train" / "dso").glob("*.jpg"))) == counts["train/dso"]


def test_split_by_source_has_no_leakage_and_right_sizes():
    names = [f"{i}_{k}" for i in range(200) for k in range(2)] + [f"s{i}" for i in range(100)]
    parts = split_by_source(names, seed=3)
    assert sorted(sum(parts.values(), [])) == sorted(names)
    ids = {k: {source_id(n) for n in v} for k, v in parts.items()}
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"]) and not (ids["val"] & ids["test"])
    assert len(parts["train"]) == pytest.approx(400, abs=4)
    assert len(parts["val"]) == pytest.approx(50, abs=3) and len(parts["test"]) == pytest.approx(50, abs=3)
    assert split_by_source(names, seed=3) == parts and split_by_source(names, seed=4) != parts
    with pytest.raises(ValueError):
        split_by_source(names, fractions=(1, 2))


def _deepspace_zip(path, n=20, evil=False):
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            ok, buf = cv2.imencode(".jpg", np.full((32, 32, 3), i * 10 % 255, np.uint8))
            zf.writestr(f"DeepSpaceYoloDataset/images/{i}.jpg", buf.tobytes())
            zf.writestr(f"DeepSpaceYoloDataset/labels/{i}.txt", "0 0.5 0.5 0.25 0.25\n")
        if evil:
            zf.writestr("../escape.txt", "x")
    return path


def test_deepspace_loader_verifies_unpacks_and_splits(tmp_path):
    z = _deepspace_zip(tmp_path / "DeepSpaceYoloDataset.zip")
    md5 = hashlib.md5(z.read_bytes()).hexdigest()
    res = load_deepspace(z, tmp_path / "out", checksum=f"md5:{md5}")
    assert res["checksum"] == f"md5:{md5}" and not res["problems"]
    assert res["counts"] == {"train": 16, "val": 2, "test": 2}
    assert (tmp_path / "out" / "data.yaml").exists()
    rep = validate_dataset(tmp_path / "out")
    assert rep.ok and rep.n_images == 20 and set(rep.splits) == {"train", "val", "test"}
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_deepspace(z, tmp_path / "out2", checksum="md5:" + "0" * 32)
    with pytest.raises(ValueError, match="unsafe member"):
        unpack_zip(_deepspace_zip(tmp_path / "evil.zip", 2, evil=True), tmp_path / "x")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable zip"):
        load_deepspace(tmp_path / "junk.zip", tmp_path / "out3")


def test_write_split_copies_and_writes_data_yaml(tmp_path):
    root = _dataset(tmp_path / "ds", [f"{i}_{k}" for i in range(10) for k in range(2)])
    counts = write_split(find_samples(root), tmp_path / "sp", seed=0)
    assert sum(counts.values()) == 20
    rep = validate_dataset(tmp_path / "sp")
    assert rep.ok and rep.n_images == 20


def test_augmentations_keep_boxes_inside_and_are_seeded():
    from dsodetect.dataset.augment import augment, detection_augmentations

    pipe = detection_augmentations(320)
    img = (np.random.default_rng(0).random((400, 400, 3)) * 255).astype(np.uint8)
    boxes = [[0.5, 0.5, 0.3, 0.2], [0.1, 0.1, 0.1, 0.1]]
    for seed in range(10):
        out, b = augment(pipe, img, boxes, seed=seed)
        assert out.shape == (320, 320, 3) and len(b) <= 2
        assert np.all(b[:, :2] - b[:, 2:] / 2 >= -1e-6) and np.all(b[:, :2] + b[:, 2:] / 2 <= 1 + 1e-6)
    a1, b1 = augment(pipe, img, boxes, seed=7)
    a2, b2 = augment(pipe, img, boxes, seed=7)
    assert np.array_equal(a1, a2) and np.allclose(b1, b2)


def test_cli_validate_exit_codes(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    ok = _dataset(tmp_path / "ok", ["a"])
    r = CliRunner().invoke(app, ["dataset", "validate", str(ok)])
    assert r.exit_code == 0 and "1 images" in r.output
    (ok / "labels" / "a.txt").write_text("0 0.5 0.5\n")
    r = CliRunner().invoke(app, ["dataset", "validate", str(ok)])
    assert r.exit_code == 1 and "a.txt:1: expected" in r.output and "Traceback" not in r.output


def test_cli_tile_split_crops_deepspace(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    run = CliRunner().invoke
    big = tmp_path / "big"
    _jpg(big / "images" / "frame.jpg", 1300, 700)
    (big / "labels").mkdir()
    (big / "labels" / "frame.txt").write_text("0 0.5 0.5 0.2 0.3\n")
    _jpg(big / "images" / "bad.jpg").write_bytes(b"junk")
    r = run(app, ["dataset", "tile", str(big), str(tmp_path / "tiles"), "--size", "608"])
    assert r.exit_code == 1 and "bad.jpg" in r.output and "1 frames -> 6 tiles" in r.output
    assert len(list((tmp_path / "tiles" / "labels").glob("frame_x*_y*.txt"))) == 6
    r = run(app, ["dataset", "split", str(tmp_path / "tiles"), "-o", str(tmp_path / "split")])
    assert r.exit_code == 0 and (tmp_path / "split" / "data.yaml").exists()
    # All six tiles come from one frame: they stay together in one split.
    assert sorted(int(v.split(": ")[1]) for v in r.output.split(" -> ")[0].split(", ")) == [0, 0, 6]
    r = run(app, ["dataset", "crops", str(tmp_path / "tiles"), str(tmp_path / "crops"), "--size", "128"])
    assert r.exit_code == 0 and "train/dso" in r.output
    z = _deepspace_zip(tmp_path / "d.zip", 10)
    r = run(app, ["dataset", "deepspace", str(z), "-o", str(tmp_path / "ds"), "--checksum", "md5:" + "1" * 32])
    assert r.exit_code == 2 and "checksum mismatch" in r.output and "Traceback" not in r.output
    r = run(app, ["dataset", "deepspace", str(z), "-o", str(tmp_path / "ds")])
    assert r.exit_code == 0 and "train: 8, val: 1, test: 1" in r.output


def test_pseudo_label_writes_a_yolo_folder_that_links_the_images(tmp_path):
    """Unlabelled images + a model -> a YOLO folder (images linked, not copied); a bad file costs a warning."""
    from dsodetect.detection import DetectionResult, DsodetectWarning
    from dsodetect.train.data import pseudo_label

    class Brightest:  # a model: one box around the brightest pixel's 9 x 9 neighbourhood
        name = "brightest"

        def detect(self, image):
            g = image.gray()
            y, x = np.unravel_index(int(np.argmax(g)), g.shape)
            return DetectionResult(image, self.name, [Detection(x - 4, y - 4, x + 5, y + 5, score=0.9)])

    src = tmp_path / "unlabeled"
    src.mkdir()
    for k in range(2):
        img = np.zeros((48, 64, 3), np.uint8)
        img[20 + k, 30 + k] = 255
        cv2.imwrite(str(src / f"{k}_0.png"), img)
    (src / "broken.jpg").write_bytes(b"not an image")
    with pytest.warns(DsodetectWarning, match="broken.jpg"):
        n = pseudo_label(src, tmp_path / "pseudo", detector=Brightest())
    assert n == 2
    link = tmp_path / "pseudo" / "images" / "1_0.png"
    assert link.is_symlink() and link.resolve() == (src / "1_0.png").resolve()
    (d,) = read_labels(tmp_path / "pseudo" / "labels" / "1_0.txt", 64, 48)
    assert (d.x0, d.y0, d.x1, d.y1) == pytest.approx((27, 17, 36, 26), abs=1e-3)
    assert validate_dataset(tmp_path / "pseudo").ok


def test_extra_training_folders_go_to_the_training_split_only(tmp_path):
    import yaml

    from dsodetect.train.data import add_training_folders

    cfg = tmp_path / "data.yaml"
    cfg.write_text(yaml.safe_dump({"path": str(tmp_path), "train": "images/train", "val": "images/val", "nc": 1}))
    extra = tmp_path / "pseudo"
    (extra / "images").mkdir(parents=True)
    (extra / "labels").mkdir()
    add_training_folders(cfg, [extra])
    got = yaml.safe_load(cfg.read_text())
    assert got["train"] == ["images/train", str((extra / "images").resolve())] and got["val"] == "images/val"
    with pytest.raises(FileNotFoundError, match="images/ and labels/"):
        add_training_folders(cfg, [tmp_path / "nowhere"])
