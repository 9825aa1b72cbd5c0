"""Diffusion core as separate pure pieces: schedule, forward process, loss, samplers.

Ho et al. 2020 (DDPM), Song et al. 2021 (DDIM), Nichol & Dhariwal 2021 (cosine schedule).
SPEC: DIF-1..DIF-5. See docs/diffusion.md. Sample quality (FID, IS, classifier scores) lives in
`jaxdl.metrics.generative`, shared with GANs.
"""

from jaxdl.diffusion.conditional import (
    CondEps,
    concat_condition,
    conditional_ddim_update,
    conditional_eps_fn,
    conditional_loss,
    sample_conditional,
)
from jaxdl.diffusion.forward import (
    predict_eps_from_x0,
    predict_x0_from_eps,
    q_posterior,
    q_sample,
    split_prediction,
    velocity,
)
from jaxdl.diffusion.losses import (
    denoising_loss,
    diffusion_loss,
    make_loss_fn,
    prediction_target,
    sample_timesteps,
)
from jaxdl.diffusion.samplers import (
    StepOutput,
    ddim_step,
    ddim_timesteps,
    ddpm_step,
    sample_ddim,
    sample_ddpm,
)
from jaxdl.diffusion.schedule import (
    Schedule,
    cosine_betas,
    linear_betas,
    make_schedule,
    schedule_from_betas,
)

__all__ = [
    "CondEps",
    "Schedule",
    "StepOutput",
    "concat_condition",
    "conditional_ddim_update",
    "conditional_eps_fn",
    "conditional_loss",
    "cosine_betas",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_step",
    "denoising_loss",
    "diffusion_loss",
    "linear_betas",
    "make_loss_fn",
    "make_schedule",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "prediction_target",
    "q_posterior",
    "q_sample",
    "sample_conditional",
    "sample_ddim",
    "sample_ddpm",
    "sample_timesteps",
    "schedule_from_betas",
    "split_prediction",
    "velocity",
]
