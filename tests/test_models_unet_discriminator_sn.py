"""Real-ESRGAN's U-Net SN discriminator (SPEC RES-4, GAN-7) against BasicSR's, via the converter."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from basicsr_ref import load

from jaxdl.convert.realesrgan import unet_discriminator_from_torch
from jaxdl.models.unet_discriminator_sn import UNetDiscriminatorSN


@pytest.fixture(scope="module")
def torch_disc():
    torch.manual_seed(0)
    arch = load("basicsr.archs.discriminator_arch")
    return arch.UNetDiscriminatorSN(3, num_feat=8)


def _nchw(x):
    return torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())


def test_matches_basicsr_in_train_then_eval_mode(torch_disc):
    x = np.random.default_rng(0).standard_normal((2, 16, 24, 3)).astype(np.float32)
    model, variables = unet_discriminator_from_torch(torch_disc.state_dict())
    assert model.num_feat == 8
    # Train mode: one power-iteration step from the stored u, as torch's forward in training.
    torch_disc.train()
    with torch.no_grad():
        ref_train = torch_disc(_nchw(x)).numpy().transpose(0, 2, 3, 1)
    apply = jax.jit(model.apply, static_argnames=("train", "mutable"))
    y, upd = apply(variables, jnp.asarray(x), train=True, mutable=("batch_stats",))
    chex.assert_shape(y, (2, 16, 24, 1))
    chex.assert_trees_all_close(y, ref_train, atol=1e-4, rtol=0)
    # Eval mode with the updated vectors: the converter's σ from stored u, v equals the updated σ.
    torch_disc.eval()
    with torch.no_grad():
        ref_eval = torch_disc(_nchw(x)).numpy().transpose(0, 2, 3, 1)
    _, converted = unet_discriminator_from_torch(torch_disc.state_dict())
    chex.assert_trees_all_close(converted["batch_stats"], upd["batch_stats"], atol=1e-5, rtol=1e-5)
    out = apply(converted, jnp.asarray(x))
    chex.assert_trees_all_close(out, ref_eval, atol=1e-4, rtol=0)
    print("max |jax - torch| eval:", float(np.abs(np.asarray(out) - ref_eval).max()))


def test_shapes_state_and_bad_input():
    d = UNetDiscriminatorSN(num_feat=4, skip_connection=False)
    v = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((1, 8, 16, 3)))
    assert set(v) == {"params", "batch_stats"}
    assert v["params"]["conv1"]["layer_instance"]["kernel"].shape == (4, 4, 4, 8)
    assert "bias" not in v["params"]["conv1"]["layer_instance"]
    assert v["batch_stats"]["conv3"]["layer_instance/kernel/u"].shape == (32,)
    with pytest.raises(ValueError, match="multiples of 8"):
        d.init(jax.random.key(0), jnp.zeros((1, 12, 16, 3)))


def test_converter_names_missing_and_unexpected_keys(torch_disc):
    sd = dict(torch_disc.state_dict())
    sd.pop("conv4.weight_u")
    sd["conv4.weight"] = sd["conv4.weight_orig"]
    with pytest.raises(ValueError, match=r"missing keys \(1\): conv4\.weight_u.*unexpected"):
        unet_discriminator_from_torch(sd)
