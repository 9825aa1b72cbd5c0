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
    model, before = unet_discriminator_from_torch(torch_disc.state_dict())
    assert model.num_feat == 8
    with torch.no_grad():
        torch_disc.train()  # one power-iteration step from the stored u, then the forward
        ref_train = torch_disc(_nchw(x)).numpy().transpose(0, 2, 3, 1)
        torch_disc.eval()  # the updated u, v without iterating
        ref_eval = torch_disc(_nchw(x)).numpy().transpose(0, 2, 3, 1)
    _, after = unet_discriminator_from_torch(torch_disc.state_dict())

    @jax.jit
    def forward(before, after, x):
        return model.apply(before, x, train=True, mutable=["batch_stats"]), model.apply(after, x)

    (y, upd), out = forward(before, after, jnp.asarray(x))
    chex.assert_shape([y, out], (2, 16, 24, 1))
    chex.assert_trees_all_close(y, ref_train, atol=1e-4, rtol=0)
    # The converter's σ from the stored u, v equals the σ our power iteration just computed.
    chex.assert_trees_all_close(after["batch_stats"], upd["batch_stats"], atol=1e-5, rtol=1e-5)
    chex.assert_trees_all_close(out, ref_eval, atol=1e-4, rtol=0)


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
