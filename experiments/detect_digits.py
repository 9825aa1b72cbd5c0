"""Two-stage detection: Faster R-CNN and Mask R-CNN (SPEC SEG-4) on digit canvases and COCO.

Quick (embedded: canvases of 1-4 MNIST-5k digits rescaled to 14-28 px, train and test digits
from disjoint pools, `jaxdl.data.digit_scenes.digit_detection`; about 10 min on 2 CPU cores):
    python -m experiments.detect_digits --preset faster_rcnn_quick --workdir workdirs/frcnn_quick
    python -m experiments.detect_digits --preset mask_rcnn_quick --workdir workdirs/mrcnn_quick
Full (TFDS `coco/2017`, ResNet-50 C4 backbone, images resized and padded to 800x800):
    python -m experiments.detect_digits --preset faster_rcnn --workdir workdirs/frcnn_coco
`mask_rcnn` needs instance masks, which TFDS `coco/2017` does not hold: it is refused with that
message. Writes results.json (COCO AP, AP50, AP75 of boxes, and of masks for Mask R-CNN, on the
held-out images) and detections.png (test canvases with their detections).
"""

from __future__ import annotations

import os
import time
from functools import partial

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, data
from jaxdl.data.digit_scenes import digit_detection
from jaxdl.detection import coco_source
from jaxdl.detection.coco_eval import average_precision
from jaxdl.detection.drawing import draw_detections
from jaxdl.detection.model import RCNN, training_losses
from jaxdl.detection.postprocess import detect, paste_masks
from jaxdl.images import save_grid
from jaxdl.train import Task, engine_config, fit, step_options, supervised

PRESETS = ("faster_rcnn", "mask_rcnn", "faster_rcnn_quick", "mask_rcnn_quick")
GT_KEYS = ("boxes", "labels", "masks", "iscrowd")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    preset = preset or "faster_rcnn"
    if preset not in PRESETS:
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    quick = preset.endswith("_quick")
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data = ml_collections.ConfigDict()
    c.data.dataset = "digit_detection" if quick else "tfds:coco/2017"
    c.data.data_dir = ""  # TFDS data dir ("": $TFDS_DATA_DIR or ~/tensorflow_datasets)
    c.data.image_size = (64, 84) if quick else (800, 800)  # COCO: resized + padded to this
    c.data.max_boxes = 4 if quick else 100  # ground-truth rows per image (padded)
    c.data.train_size = 10_000  # digit canvases (quick only)
    c.data.test_size = 500  # digit canvases (quick); COCO uses all 5,000 validation images
    c.data.num_workers = 0

    c.model = ml_collections.ConfigDict()
    c.model.mask = preset.startswith("mask")
    c.model.backbone = "digits" if quick else "resnet50"
    c.model.backbone_widths = (16, 32, 64) if quick else (64,)
    c.model.anchor_sizes = (16.0, 24.0, 32.0) if quick else (64.0, 128.0, 256.0, 512.0)
    c.model.aspect_ratios = (1.0, 2.0) if quick else (0.5, 1.0, 2.0)  # h / w
    c.model.box_hidden = 256 if quick else 1024
    c.model.mask_width = 32 if quick else 256
    c.model.mask_convs = 2 if quick else 4

    c.train = engine_config(
        total_steps=1500 if quick else 90_000,
        batch_size=8 if quick else 16,
        log_every=50 if quick else 100,
        eval_every=1500 if quick else 10_000,
        checkpoint_every=500 if quick else 5_000,
        clip_norm=10.0,
    )
    c.train.optimizer = "adam" if quick else "sgd"  # sgd: momentum 0.9 (the papers)
    c.train.learning_rate = 1e-3 if quick else 0.02
    c.train.warmup_steps = 100 if quick else 1_000
    c.train.weight_decay = 0.0 if quick else 1e-4
    c.train.rpn_batch = 256  # anchors sampled per image, positive fraction 0.5
    c.train.rpn_pre_nms = 300 if quick else 2000
    c.train.rpn_post_nms = 100 if quick else 2000
    c.train.roi_batch = 64 if quick else 512  # RoIs per image, positive fraction 0.25

    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 50 if quick else 8
    c.eval.rpn_pre_nms = 300 if quick else 1000
    c.eval.rpn_post_nms = 100 if quick else 1000
    c.eval.score_threshold = 0.05
    c.eval.nms_threshold = 0.5
    c.eval.max_detections = 20 if quick else 100
    c.eval.num_pictured = 12
    return c


def _check(config) -> None:
    if config.model.mask and config.data.dataset.startswith("tfds:coco"):
        raise cli.ConfigError(
            "mask_rcnn: TFDS coco/2017 has no instance masks; train Mask R-CNN on "
            "--config.data.dataset=digit_detection (preset mask_rcnn_quick)"
        )
    if config.data.dataset not in ("digit_detection",) and not config.data.dataset.startswith(
        "tfds:"
    ):
        raise cli.ConfigError(
            f"--config.data.dataset={config.data.dataset!r}: expected 'digit_detection' or a "
            "TFDS detection set such as 'tfds:coco/2017'"
        )
    if config.train.optimizer not in ("adam", "sgd"):
        raise cli.ConfigError(
            f"--config.train.optimizer must be 'adam' or 'sgd', got {config.train.optimizer!r}"
        )


def source(config, split: str):
    d = config.data
    if d.dataset == "digit_detection":
        size = d.train_size if split == "train" else d.test_size
        h, w = d.image_size
        return digit_detection(
            split, size, seed=config.seed, height=h, width=w, max_boxes=d.max_boxes
        )
    split = {"train": "train", "test": "validation"}[split]
    return coco_source.coco_detection(d.dataset[5:], split, d.data_dir, d.image_size, d.max_boxes)


def make_model(config) -> RCNN:
    m = config.model
    return RCNN(
        num_classes=coco_source.num_classes(config.data.dataset),
        backbone=m.backbone,
        backbone_widths=tuple(m.backbone_widths),
        anchor_sizes=tuple(m.anchor_sizes),
        aspect_ratios=tuple(m.aspect_ratios),
        box_hidden=m.box_hidden,
        mask=m.mask,
        mask_width=m.mask_width,
        mask_convs=m.mask_convs,
    )


def _optimizer(t) -> optax.GradientTransformation:
    warmup = min(t.warmup_steps, t.total_steps - 1)
    lr = optax.warmup_cosine_decay_schedule(0.0, t.learning_rate, warmup, t.total_steps)
    if t.optimizer == "adam":
        return optax.adamw(lr, weight_decay=t.weight_decay)
    return optax.chain(optax.add_decayed_weights(t.weight_decay), optax.sgd(lr, momentum=0.9))


class DetectionEvaluator:
    """Runs `detect` over the test set: COCO AP/AP50/AP75 (boxes; masks for Mask R-CNN) and a
    picture of the first `num_pictured` test images with their detections."""

    def __init__(self, model: RCNN, config, test_source):
        self.model, self.config, self.source = model, config, test_source
        e = config.eval
        self.detect = jax.jit(
            partial(
                detect,
                model,
                rpn_pre_nms=e.rpn_pre_nms,
                rpn_post_nms=e.rpn_post_nms,
                score_threshold=e.score_threshold,
                nms_threshold=e.nms_threshold,
                max_detections=e.max_detections,
            )
        )
        h, w = config.data.image_size
        self.paste = jax.jit(jax.vmap(partial(paste_masks, height=h, width=w)))
        self.results: dict = {}
        self.picture: np.ndarray | None = None

    def __call__(self, state):
        variables = {"params": state.params, **state.mutable}
        batches = data.eval_batches(
            self.source, [data.ScaleToSymmetric()], self.config.eval.batch_size, pad=True
        )
        gts, dets, pictured = [], [], []
        for batch in batches:
            out = self.detect(variables, jnp.asarray(batch["image"]))
            if self.model.mask:
                out["masks"] = self.paste(out["masks"], out["boxes"]) >= 0.5
            out = jax.device_get(out)
            for i in np.flatnonzero(batch["mask"]):
                v, keep = batch["valid"][i], out["valid"][i]
                gts.append({k: batch[k][i][v] for k in GT_KEYS if k in batch})
                dets.append({k: out[k][i][keep] for k in out if k != "valid"})
                if len(pictured) < self.config.eval.num_pictured:
                    pictured.append(draw_detections(batch["image"][i], dets[-1], gts[-1]))
        r = {"box": average_precision(gts, dets, "bbox")}
        if self.model.mask:
            r["mask"] = average_precision(gts, dets, "segm")
        self.results = {**r, "num_images": len(gts)}
        self.picture = np.stack(pictured)
        for kind, ap in r.items():
            for k in ("AP", "AP50", "AP75"):
                yield f"test/{kind}_{k}", ap[k]
        yield "detections", self.picture


def build(config) -> tuple[Task, DetectionEvaluator]:
    _check(config)
    model = make_model(config)
    t = config.train
    train = data.make_pipeline(
        source(config, "train"),
        [data.ScaleToSymmetric()],
        global_batch_size=t.batch_size,
        seed=config.seed,
        num_workers=config.data.num_workers,
    )
    evaluator = DetectionEvaluator(model, config, source(config, "test"))
    losses = partial(
        training_losses,
        rpn_batch=t.rpn_batch,
        rpn_pre_nms=t.rpn_pre_nms,
        rpn_post_nms=t.rpn_post_nms,
        roi_batch=t.roi_batch,
    )

    def loss_fn(params, batch, rng, mutable):
        parts = losses(model, {"params": params, **mutable}, batch, rng)
        return sum(parts.values()), (parts, mutable)

    def init_fn(rng):
        h, w = config.data.image_size
        return model.init(rng, jnp.zeros((1, h, w, 1 if config.model.backbone == "digits" else 3)))

    init_state, train_step = supervised(
        loss_fn, _optimizer(t), init_fn=init_fn, has_mutable=True, **step_options(t)
    )
    return Task(init_state, train_step, train, evaluators=[evaluator]), evaluator


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="detect_digits", presets=PRESETS)
    cli.init_distributed(args)
    t0 = time.time()
    task, evaluator = build(config)
    state = fit(task, config, args.workdir)
    if not evaluator.results:  # a finished run restored: nothing was trained, evaluate once
        list(evaluator(state))
    results = {
        "preset": args.preset,
        "steps": config.train.total_steps,
        **evaluator.results,
        "wall_time_s": time.time() - t0,
    }
    if jax.process_index() == 0:
        pictures = evaluator.picture
        save_grid(
            pictures, os.path.join(args.workdir, "detections.png"), nrow=min(4, len(pictures))
        )
        cli.write_results(args.workdir, results)
    return results


if __name__ == "__main__":
    cli.run(main)
