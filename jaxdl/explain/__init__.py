"""Attribution: Integrated Gradients, gradient saliency, SmoothGrad and the randomization sanity
check. SPEC: BAS-8. See docs/explain.md."""

from jaxdl.explain.integrated_gradients import (
    METHODS,
    IntegratedGradients,
    integrated_gradients,
    path_nodes,
)
from jaxdl.explain.saliency import explained_output, gradient_x_input, input_gradients, smoothgrad
from jaxdl.explain.sanity import cascading_randomization, rank_correlation

__all__ = [
    "METHODS",
    "IntegratedGradients",
    "cascading_randomization",
    "explained_output",
    "gradient_x_input",
    "input_gradients",
    "integrated_gradients",
    "path_nodes",
    "rank_correlation",
    "smoothgrad",
]
