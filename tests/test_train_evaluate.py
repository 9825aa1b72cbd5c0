"""Evaluators: one streaming accumulation (means, confusion counts vs scikit-learn) on the
8-device mesh, and image values written by `fit` as PNG and TensorBoard images."""

import glob
import os
import struct

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from PIL import Image
from sklearn.metrics import f1_score

from jaxdl.metrics import streaming
from jaxdl.train import Task, fit, supervised
from jaxdl.train.evaluate import MeanEvaluator, StreamingEvaluator
from jaxdl.train.writers import read_metrics


@flax.struct.dataclass
class _State:
    params: dict
    ema_params: dict | None = None


def _data(n_batches=3, size=16, seed=0):
    rs = np.random.RandomState(seed)
    return [
        {
            "x": rs.randn(size, 4).astype(np.float32),
            "y": rs.randint(0, 3, size),
            "mask": (np.arange(size) < size - 3 * (i == n_batches - 1)).astype(np.float32),
        }
        for i in range(n_batches)
    ]


def _logits(params, x):
    return x @ params["w"]


def test_mean_evaluator_equals_numpy_masked_mean():
    data = _data()
    params = {"w": np.random.RandomState(1).randn(4, 3).astype(np.float32)}

    def metric_fn(p, s, b):
        err = jnp.sum(_logits(p, b["x"]) ** 2, axis=1)
        return {"sq": jnp.sum(err * b["mask"]), "count": jnp.sum(b["mask"])}

    out = dict(MeanEvaluator(metric_fn, data, prefix="t/")(_State(params)))
    x = np.concatenate([b["x"] for b in data])
    m = np.concatenate([b["mask"] for b in data]) > 0
    expected = np.mean(np.sum((x @ params["w"]) ** 2, axis=1)[m])
    np.testing.assert_allclose(out["t/sq"], expected, rtol=1e-5)
    assert set(out) == {"t/sq"}
    ema = {"w": params["w"] * 0}
    assert dict(MeanEvaluator(metric_fn, data, use_ema=True)(_State(params, ema)))["eval/sq"] == 0


def test_streaming_evaluator_confusion_matches_sklearn():
    data = _data()
    params = {"w": np.random.RandomState(2).randn(4, 3).astype(np.float32)}

    def update(state, p, s, b):
        pred = jnp.argmax(_logits(p, b["x"]), -1)
        return streaming.update(state, b["y"], pred, mask=b["mask"])

    ev = StreamingEvaluator(lambda *_: streaming.init(3), update, streaming.compute, data)
    out = dict(ev(_State(params)))
    x = np.concatenate([b["x"] for b in data])
    y = np.concatenate([b["y"] for b in data])
    m = np.concatenate([b["mask"] for b in data]) > 0
    pred = np.argmax(x @ params["w"], -1)
    np.testing.assert_allclose(
        out["eval/f1_macro"], f1_score(y[m], pred[m], average="macro"), rtol=1e-5
    )
    assert "eval/iou/2" in out  # per-class vectors are yielded entry by entry


def test_empty_data_is_an_error():
    ev = MeanEvaluator(lambda p, s, b: {"count": jnp.sum(b["mask"])}, [])
    with pytest.raises(ValueError, match="no batches"):
        list(ev(_State({"w": np.zeros((4, 3), np.float32)})))


def test_image_values_are_written_as_png_and_tensorboard(tmp_path):
    data = _data(n_batches=4, size=8)

    def loss_fn(p, b, rng):
        return optax.softmax_cross_entropy_with_integer_labels(
            _logits(p, b["x"]), b["y"]
        ).mean(), {}

    init_state, step = supervised(
        loss_fn, optax.sgd(0.1), init_fn=lambda rng: {"w": jnp.zeros((4, 3))}
    )

    def pictures(state):
        grid = np.zeros((4, 5, 6, 1), np.uint8) + int(state.step)  # 4 images -> a 2x2 grid
        return [
            ("samples", grid),
            ("single", np.full((7, 9, 3), 0.5, np.float32)),
            ("w_norm", float(jnp.linalg.norm(state.params["w"]))),
        ]

    config = ml_collections.ConfigDict(
        dict(
            seed=0,
            train=dict(total_steps=4, batch_size=8, eval_every=2, log_every=2, checkpoint_every=0),
        )
    )
    wd = str(tmp_path / "run")
    fit(Task(init_state, step, iter(data), evaluators=[pictures]), config, wd)
    pngs = sorted(glob.glob(os.path.join(wd, "images", "*", "*.png")))
    assert [os.path.relpath(p, wd) for p in pngs] == [
        "images/samples/step_00000002.png",
        "images/samples/step_00000004.png",
        "images/single/step_00000002.png",
        "images/single/step_00000004.png",
    ]
    grid = np.asarray(Image.open(pngs[1]))
    assert grid.shape[:2] == (2 * (5 + 2) + 2, 2 * (6 + 2) + 2) and grid.max() == 4
    single = np.asarray(Image.open(pngs[2]))
    assert single.shape == (7, 9, 3) and int(single[0, 0, 0]) == 128
    records = [r for r in read_metrics(wd) if "w_norm" in r]
    assert [r["step"] for r in records] == [2, 4]
    assert records[0]["samples_png"] == "images/samples/step_00000002.png"
    (events,) = glob.glob(os.path.join(wd, "tensorboard", "events.out.tfevents.*"))
    assert ("samples", 4) in _tensorboard_images(events)
    assert jax.device_count() == 8


def _tensorboard_images(path):
    """(tag, step) of every image summary in a TFRecord event file (tensorboardX's protos)."""
    from tensorboardX.proto import event_pb2

    found = []
    with open(path, "rb") as f:
        while header := f.read(12):
            (length,) = struct.unpack("<Q", header[:8])
            event = event_pb2.Event.FromString(f.read(length))
            f.read(4)
            found += [(v.tag, event.step) for v in event.summary.value if v.HasField("image")]
    return found
