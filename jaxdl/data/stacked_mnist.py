"""Stacked MNIST: three MNIST digits stacked as the RGB channels of one 28x28x3 image.

The 1,000-mode benchmark of Metz et al. 2017 (unrolled GAN, arXiv:1611.02163), VEEGAN
(Srivastava et al. 2017, arXiv:1705.07761) and PacGAN (Lin et al. 2018, arXiv:1712.04086).
Record i stacks the digits at a fixed seeded triple of indices into a digit source (default: the
embedded MNIST-5k split); its label is the mode 100·a + 10·b + c of the three digit labels (as
`jaxdl.gan.stacked_mnist_modes`). Images are built on access, so `size` (128,000 in PacGAN's
VEEGAN setup) costs only the (size, 3) index table. SPEC: GAN-4.
"""

from __future__ import annotations

import numpy as np

from jaxdl.data.sources import ArraySource, mnist5k
from jaxdl.data.validate import RecordSpec

NUM_MODES = 1000


class StackedMNIST:
    """Random-access source of `{"image": uint8 (H, W, 3), "label": int64 mode in [0, 1000)}`.

    `digits`: an `ArraySource` of single-channel digit images with labels 0..9.
    `triples` (size, 3) int64: the digit indices of each record (R, G, B channel).
    """

    def __init__(self, digits: ArraySource, size: int, seed: int = 0):
        if digits.images.shape[-1] != 1 or digits.num_classes != 10:
            raise ValueError(
                f"StackedMNIST needs single-channel digits with 10 classes, got images "
                f"{digits.images.shape} with {digits.num_classes} classes"
            )
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.digits = digits
        self.triples = np.random.default_rng(seed).integers(0, len(digits), (size, 3))
        self.num_classes = NUM_MODES
        self.name = f"stacked_{digits.name}"
        h, w, _ = digits.images.shape[1:]
        self.spec = RecordSpec(image=((h, w, 3), np.uint8), label=((), np.int64))

    def __len__(self) -> int:
        return len(self.triples)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        idx = self.triples[index]
        a, b, c = self.digits.labels[idx]
        return {
            "image": np.concatenate(self.digits.images[idx], axis=-1),
            "label": np.int64(100 * a + 10 * b + c),
        }

    def digit_labels(self) -> np.ndarray:
        """(size, 3) int64 labels of every record's three digits (channel order)."""
        return self.digits.labels[self.triples]

    def __repr__(self) -> str:
        return f"StackedMNIST({self.name!r}, n={len(self)}, spec={self.spec})"


def stacked_mnist(split: str = "train", size: int = 128_000, seed: int = 0) -> StackedMNIST:
    """Stacked MNIST-5k: `size` records from the embedded MNIST-5k `split` (4,000 train /
    1,000 test digits); the test split is seeded apart from the train split."""
    return StackedMNIST(mnist5k(split), size, seed=seed if split == "train" else seed + 1)
