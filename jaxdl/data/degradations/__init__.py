"""Real-ESRGAN's high-order degradation model on the host (Wang et al. 2021). SPEC: RES-4."""

from jaxdl.data.degradations.config import (
    KERNEL_TYPES,
    RESIZE_MODES,
    BlurConfig,
    DegradationConfig,
    StageConfig,
)
from jaxdl.data.degradations.pipeline import (
    DegradationDraw,
    RealESRGANDegradation,
    StageDraw,
    apply_degradation,
    degrade,
    sample_degradation,
)

__all__ = [
    "KERNEL_TYPES",
    "RESIZE_MODES",
    "BlurConfig",
    "DegradationConfig",
    "DegradationDraw",
    "RealESRGANDegradation",
    "StageConfig",
    "StageDraw",
    "apply_degradation",
    "degrade",
    "sample_degradation",
]
