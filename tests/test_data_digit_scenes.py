"""Digit scenes (segmentation and detection variants): disjoint digit pools, labels consistent
with the canvas (ink threshold, masks, tight boxes, classes), determinism, padded box batches
with a validity mask, errors for malformed boxes and labels; the joint image/label crop."""

import chex
import numpy as np
import pytest

from jaxdl.data import make_pipeline
from jaxdl.data.boxes import check_boxes, pad_boxes
from jaxdl.data.digit_scenes import INK_THRESHOLD, NUM_CLASSES, digit_detection, digit_scenes
from jaxdl.data.segmentation_pairs import CropPair
from jaxdl.data.validate import validate_record


@pytest.fixture(scope="module")
def scenes():
    return {
        "seg": (digit_scenes("train", 40), digit_scenes("test", 40)),
        "det": (digit_detection("train", 40), digit_detection("test", 40)),
    }


def test_train_and_test_canvases_draw_from_disjoint_digit_pools(scenes):
    train, test = scenes["seg"]
    assert len(train.digits) == 4000 and len(test.digits) == 1000
    train_digits = {d.tobytes() for d in train.digits.images}
    assert not any(d.tobytes() in train_digits for d in test.digits.images)
    # Every digit on a test canvas is a test digit: its ink crop appears in the test pool only.
    record = test[0]
    x1, y1, x2, y2 = record["boxes"][0].astype(int)
    crop = (record["image"][y1:y2, x1:x2, 0] >= INK_THRESHOLD) & record["masks"][0][y1:y2, x1:x2]
    pool = {
        name: [(d[..., 0] >= INK_THRESHOLD) for d in src.digits.images]
        for name, src in (("train", train), ("test", test))
    }

    def contains(pool_masks):
        h, w = crop.shape
        for m in pool_masks:
            r, c = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            if (r[-1] - r[0] + 1, c[-1] - c[0] + 1) == (h, w):
                if np.array_equal(m[r[0] : r[-1] + 1, c[0] : c[-1] + 1], crop):
                    return True
        return False

    assert contains(pool["test"]) and not contains(pool["train"])


@pytest.mark.parametrize("variant", ["seg", "det"])
def test_masks_boxes_labels_and_segmentation_agree_with_the_canvas(scenes, variant):
    source = scenes[variant][0]
    counts = []
    for i in range(len(source)):
        r = source[i]
        validate_record(r, source.spec)
        n = int(r["valid"].sum())
        counts.append(n)
        assert r["valid"][:n].all() and not r["valid"][n:].any()  # real rows first
        masks = r["masks"][:n]
        assert (masks.sum(0) <= 1).all()  # instances do not overlap
        np.testing.assert_array_equal(masks.any(0), r["image"][..., 0] >= INK_THRESHOLD)
        expected = np.zeros(r["segmentation"].shape, np.int32)
        for m, label, box in zip(masks, r["labels"][:n], r["boxes"][:n], strict=True):
            expected[m] = label + 1
            rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            np.testing.assert_array_equal(box, [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
            if variant == "det":
                assert max(box[2] - box[0], box[3] - box[1]) <= 28
        np.testing.assert_array_equal(r["segmentation"], expected)
        assert r["segmentation"].max() < NUM_CLASSES
        assert not r["masks"][n:].any() and not r["boxes"][n:].any() and not r["labels"][n:].any()
    lo, hi = (1, 3) if variant == "seg" else (1, 4)
    assert min(counts) >= lo and max(counts) == hi


def test_records_are_deterministic_and_seeded():
    a, b = digit_detection("train", 5, seed=3), digit_detection("train", 5, seed=3)
    chex.assert_trees_all_equal(a[4], b[4])
    assert not np.array_equal(a[4]["image"], digit_detection("train", 5, seed=4)[4]["image"])
    # The test split is seeded apart from the train split (and draws other digits).
    assert not np.array_equal(
        digit_scenes("test", 2)[1]["image"], digit_scenes("train", 2)[1]["image"]
    )


def test_batches_have_static_shapes_and_a_validity_mask(scenes):
    source = scenes["det"][0]
    it = iter(make_pipeline(source, global_batch_size=8, seed=0, process_count=1, process_index=0))
    for _ in range(2):
        batch = next(it)
        assert batch["boxes"].shape == (8, 4, 4) and batch["boxes"].dtype == np.float32
        assert batch["labels"].shape == (8, 4) and batch["valid"].shape == (8, 4)
        assert batch["masks"].shape == (8, 4, 64, 84) and batch["image"].shape == (8, 64, 84, 1)
        assert (batch["valid"].sum(1) >= 1).all()


def test_pad_boxes_pads_and_checks():
    out = pad_boxes(np.array([[1, 2, 5, 9]]), np.array([7]), max_boxes=3, num_classes=10)
    np.testing.assert_array_equal(out["valid"], [True, False, False])
    np.testing.assert_array_equal(out["boxes"][0], [1, 2, 5, 9])
    assert not out["boxes"][1:].any()
    empty = pad_boxes([], [], max_boxes=2, num_classes=10)
    assert not empty["valid"].any() and empty["boxes"].shape == (2, 4)
    with pytest.raises(ValueError, match=r"boxes: expected x2 >= x1, got box 1"):
        check_boxes(np.array([[0, 0, 1, 1], [5, 0, 4, 2]]), np.array([0, 1]), 10)
    with pytest.raises(ValueError, match=r"boxes: expected y2 >= y1"):
        check_boxes(np.array([[0, 3, 1, 1]]), np.array([0]), 10)
    with pytest.raises(ValueError, match=r"labels: expected values in \[0, 10\), got 10"):
        check_boxes(np.array([[0, 0, 1, 1]]), np.array([10]), 10)
    with pytest.raises(ValueError, match=r"labels: expected values in \[0, 10\), got -1"):
        check_boxes(np.array([[0, 0, 1, 1]]), np.array([-1]), 10)
    with pytest.raises(ValueError, match=r"boxes: expected shape \(n, 4\)"):
        check_boxes(np.zeros((2, 3)), np.zeros(2, int), 10)
    with pytest.raises(ValueError, match="at most max_boxes=1"):
        pad_boxes(np.zeros((2, 4)), np.zeros(2, int), max_boxes=1, num_classes=10)


def test_bad_generator_settings_are_named():
    with pytest.raises(ValueError, match="split must be one of"):
        digit_scenes("val")
    with pytest.raises(ValueError, match="max_boxes must be >= max_digits=4"):
        digit_detection(max_boxes=2)
    with pytest.raises(ValueError, match="canvas 20x84 is smaller than a 28 px digit"):
        digit_scenes(height=20)
    with pytest.raises(IndexError, match=r"outside \[0, 3\)"):
        digit_scenes("test", 3)[3]


def test_crop_pair_pads_labels_with_ignore_and_crops_image_and_label_together():
    image = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    label = np.arange(35, dtype=np.int32).reshape(5, 7)
    out = CropPair(6, ignore_index=255)({"image": image, "label": label}, np.random.default_rng(0))
    assert out["image"].shape == (6, 6, 3) and out["label"].shape == (6, 6)
    real = out["label"] != 255
    assert real.sum() == 5 * 6 and not out["image"][~real].any()  # one padded row, black
    np.testing.assert_array_equal(out["image"][..., 0][real] // 3, out["label"][real])
    centre = CropPair(3, random=False)({"image": image, "label": label}, None)
    np.testing.assert_array_equal(centre["label"], label[1:4, 2:5])
