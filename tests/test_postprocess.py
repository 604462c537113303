"""Box arithmetic, NMS, merging and tiling shared by every method."""

import numpy as np
import pytest

from dsodetect import Detection
from dsodetect.postprocess import (box_iou, clip_detections, filter_min_size, merge_overlapping, nms,
                                   tile_grid, untile)


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 5]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0, 0.25]])


def test_nms_keeps_best_of_overlapping_and_all_disjoint():
    dets = [Detection(0, 0, 10, 10, 0.5), Detection(1, 1, 10, 10, 0.9), Detection(50, 50, 60, 60, 0.1),
            Detection(0, 0, 10, 10, -0.2)]
    kept = nms(dets, 0.5)
    assert [d.score for d in kept] == [0.9, 0.1]


def test_merge_joins_fragments_transitively_and_keeps_far_boxes():
    # A chain of overlapping fragments (a nebula in pieces) and one separate galaxy.
    chain = [Detection(i * 8, 0, i * 8 + 10, 10, 0.1 * (i + 1)) for i in range(5)]
    far = Detection(200, 200, 220, 220, 0.3)
    merged = merge_overlapping(chain + [far], containment=0.1)
    assert len(merged) == 2
    big = max(merged, key=lambda d: d.area)
    assert (big.x0, big.y0, big.x1, big.y1) == (0, 0, 42, 10)
    assert big.score == pytest.approx(0.5) and big.extras["merged"] == 5
    assert all(isinstance(v, float) for v in (big.x0, big.x1))


def test_merge_gap_joins_nearby_boxes():
    a, b = Detection(0, 0, 10, 10, 0.5), Detection(14, 0, 24, 10, 0.5)
    assert len(merge_overlapping([a, b])) == 2
    assert len(merge_overlapping([a, b], gap=5)) == 1


def test_clip_and_min_size():
    dets = [Detection(-5, -5, 10, 10), Detection(90, 90, 120, 120), Detection(200, 200, 210, 210),
            Detection(10, 10, 12, 40)]
    clipped = clip_detections(dets, 100, 100)
    assert [(d.x0, d.y0, d.x1, d.y1) for d in clipped][:2] == [(0, 0, 10, 10), (90, 90, 100, 100)]
    assert len(clipped) == 3
    assert len(filter_min_size(clipped, min_size=5)) == 2


@pytest.mark.parametrize("h,w", [(2080, 3096), (640, 640), (500, 300), (1080, 1920)])
def test_tile_grid_covers_frame_with_overlap(h, w):
    tiles = tile_grid(h, w, size=608, overlap=64)
    cover = np.zeros((h, w), int)
    for t in tiles:
        assert t.x1 - t.x0 == min(608, w) and t.y1 - t.y0 == min(608, h)
        cover[t.slices] += 1
    assert cover.min() >= 1
    xs = sorted({t.x0 for t in tiles})
    assert all(b - a <= 608 - 64 for a, b in zip(xs, xs[1:]))


def test_untile_shifts_into_frame():
    t = tile_grid(1000, 1000, 608, 64)[-1]
    d = untile([Detection(1, 2, 3, 4)], t)[0]
    assert (d.x0, d.y0, d.x1, d.y1) == (t.x0 + 1, t.y0 + 2, t.x0 + 3, t.y0 + 4)
