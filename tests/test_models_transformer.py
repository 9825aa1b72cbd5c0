"""Transformer (SPEC SEQ-3) vs torch.nn.Transformer with the same weights; cached decoding."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxdl.convert.torch_transformer import transformer_params_from_torch
from jaxdl.models.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerEncoder,
    greedy_decode,
    init_cache,
)
from jaxdl.nn.attention import causal_mask, padding_mask

D, HEADS, FF, LAYERS = 16, 4, 32, 2
TOL = 1e-5
SRC_LEN = np.array([7, 4])  # valid source tokens per sequence
TGT_LEN = np.array([5, 3])


def tiny(norm_first: bool, **kw) -> Transformer:
    return Transformer(
        src_vocab_size=11,
        tgt_vocab_size=13,
        d_model=D,
        num_heads=HEADS,
        num_encoder_layers=LAYERS,
        num_decoder_layers=LAYERS,
        dim_feedforward=FF,
        dropout=0.0,
        norm_first=norm_first,
        final_norm=True,
        max_len=16,
        **kw,
    )


@functools.cache
def build_torch(norm_first: bool):
    """A randomly initialised torch.nn.Transformer (LN and biases perturbed) and its params."""
    torch.manual_seed(0)
    ref = torch.nn.Transformer(
        D, HEADS, LAYERS, LAYERS, FF, dropout=0.0, batch_first=True, norm_first=norm_first
    ).eval()
    with torch.no_grad():
        for p in ref.parameters():
            if p.ndim == 1:  # biases and LayerNorm affine: make them non-trivial
                p.add_(0.1 * torch.randn_like(p))
    return norm_first, ref, transformer_params_from_torch(ref.state_dict(), tiny(norm_first))


@pytest.fixture(scope="module", params=[False, True], ids=["post_ln", "pre_ln"])
def torch_pair(request):
    return build_torch(request.param)


def random_params(model, *args, seed=0, scale=0.3):
    """Random normal params of the model's shapes, without running its (slow-to-compile) init."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), *args)["params"]
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: (scale * rng.normal(size=s.shape)).astype(np.float32), shapes)


def valid(lengths, size):
    return np.arange(size)[None, :] < lengths[:, None]


def test_stacks_match_torch_transformer_with_masks(torch_pair):
    norm_first, ref, params = torch_pair
    rng = np.random.default_rng(1)
    src = rng.normal(size=(2, 7, D)).astype(np.float32)
    tgt = rng.normal(size=(2, 5, D)).astype(np.float32)
    src_valid, tgt_valid = valid(SRC_LEN, 7), valid(TGT_LEN, 5)
    # grad mode keeps torch on its reference (non-fused) path; bool masks there: True = blocked
    expected = ref(
        torch.from_numpy(src),
        torch.from_numpy(tgt),
        tgt_mask=ref.generate_square_subsequent_mask(5, dtype=torch.bool),
        src_key_padding_mask=torch.from_numpy(~src_valid),
        tgt_key_padding_mask=torch.from_numpy(~tgt_valid),
        memory_key_padding_mask=torch.from_numpy(~src_valid),
    ).detach()
    kw = dict(num_heads=HEADS, dim_feedforward=FF, dropout=0.0, norm_first=norm_first)
    enc = TransformerEncoder(LAYERS, final_norm=True, **kw)
    dec = TransformerDecoder(LAYERS, final_norm=True, **kw)
    memory = enc.apply({"params": params["encoder"]}, src, padding_mask(src_valid))
    self_mask = causal_mask(5) & padding_mask(tgt_valid)
    out = dec.apply({"params": params["decoder"]}, tgt, memory, self_mask, padding_mask(src_valid))
    np.testing.assert_allclose(out, expected.numpy(), atol=TOL)


def test_token_model_matches_torch_embedding_positions_and_tied_output(torch_pair):
    norm_first, ref, stacks = torch_pair
    model = tiny(norm_first)
    src = np.array([[1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 2, 0, 0, 0]], np.int32)
    tgt = np.array([[1, 4, 2, 7, 3], [1, 5, 6, 0, 0]], np.int32)
    params = {**random_params(model, src, tgt), **stacks}
    src_valid, tgt_valid = valid(SRC_LEN, 7), valid(TGT_LEN, 5)
    logits = model.apply({"params": params}, src, tgt, src_valid, tgt_valid)

    # float64 re-expression of the paper's sinusoidal table: sin on even, cos on odd features
    pos, i = np.arange(16)[:, None], np.arange(0, D, 2)[None, :]
    pe = np.zeros((16, D))
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos / 10000 ** (i / D)), np.cos(pos / 10000 ** (i / D))
    e_src = np.asarray(params["src_embed"]["embedding"])
    e_tgt = np.asarray(params["tgt_embed"]["embedding"])
    x_src = torch.tensor(e_src[src] * math.sqrt(D) + pe[:7], dtype=torch.float32)
    x_tgt = torch.tensor(e_tgt[tgt] * math.sqrt(D) + pe[:5], dtype=torch.float32)
    y = ref(
        x_src,
        x_tgt,
        tgt_mask=ref.generate_square_subsequent_mask(5, dtype=torch.bool),
        src_key_padding_mask=torch.from_numpy(~src_valid),
        tgt_key_padding_mask=torch.from_numpy(~tgt_valid),
        memory_key_padding_mask=torch.from_numpy(~src_valid),
    ).detach()
    np.testing.assert_allclose(logits, y.numpy() @ e_tgt.T, atol=TOL)


@functools.cache
def build_random_model():
    """A tiny Pre-LN model with random params, a padded source batch and its mask."""
    model = tiny(norm_first=True)
    src = jnp.array([[1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 0, 0]], jnp.int32)
    params = random_params(model, src, src[:, :4], seed=3)
    return model, params, src, src > 0


@pytest.fixture(scope="module")
def random_model():
    return build_random_model()


def test_cached_incremental_decoding_equals_full_decode(random_model):
    model, params, src, src_mask = random_model
    tgt = jnp.array([[1, 3, 5, 7, 9, 2], [1, 4, 6, 8, 10, 12]], jnp.int32)
    memory = model.apply({"params": params}, src, src_mask, method=Transformer.encode)
    full = model.apply({"params": params}, tgt, memory, src_mask, method=Transformer.decode)

    @jax.jit
    def step(cache, tokens):
        y, vs = model.apply(
            {"params": params, "cache": cache},
            tokens,
            memory,
            src_mask,
            decode=True,
            method=Transformer.decode,
            mutable=["cache"],
        )
        return y, vs["cache"]

    cache = init_cache(model, params, memory, max_len=6)
    steps = []
    for a, b in [(0, 1), (1, 3), (3, 4), (4, 6)]:  # one token, a 2-token chunk, ...
        y, cache = step(cache, tgt[:, a:b])
        steps.append(y)
    np.testing.assert_allclose(jnp.concatenate(steps, axis=1), full, atol=TOL)

    # greedy decoding with the cache equals argmax decoding that recomputes everything
    tokens = jax.jit(greedy_decode, static_argnums=(0, 4, 5))(model, params, src, src_mask, 1, 5)
    full_decode = jax.jit(
        lambda t: model.apply({"params": params}, t, memory, src_mask, method=Transformer.decode)
    )
    prefix = jnp.ones((2, 6), jnp.int32)  # causal: positions after i do not affect step i
    for i in range(5):
        prefix = prefix.at[:, i + 1].set(jnp.argmax(full_decode(prefix)[:, i], -1))
    np.testing.assert_array_equal(tokens, prefix[:, 1:])


def test_forward_shapes_and_padding_invariance(random_model):
    model, params, src, src_mask = random_model
    tgt = jnp.array([[1, 3, 5, 2], [1, 4, 6, 8]], jnp.int32)
    fwd = jax.jit(lambda s, t, m: model.apply({"params": params}, s, t, m))
    logits = fwd(src, tgt, src_mask)
    chex.assert_shape(logits, (2, 4, 13))
    chex.assert_tree_all_finite(logits)
    src2 = src.at[1, 3:].set(10)  # padded source tokens do not change the output
    np.testing.assert_allclose(fwd(src2, tgt, src_mask), logits, atol=TOL)
    untied = tiny(norm_first=False, tie_output=False)
    out = jax.jit(untied.apply)({"params": random_params(untied, src, tgt)}, src, tgt, src_mask)
    chex.assert_shape(out, (2, 4, 13))


def test_bad_input_names_the_limit(random_model, torch_pair):
    model, params, src, src_mask = random_model

    def apply(*args):
        return model.apply({"params": params}, *args)

    with pytest.raises(ValueError, match=r"vocab_size=11"):
        apply(src.at[0, 0].set(11), src[:, :3])
    with pytest.raises(ValueError, match=r"vocab_size=13"):
        apply(src, src.at[0, 0].set(-1)[:, :3])
    with pytest.raises(ValueError, match=r"position table \(max_len=16\)"):
        apply(jnp.ones((1, 17), jnp.int32), src[:1, :3])
    with pytest.raises(ValueError, match=r"src_mask must have shape \(B, L\) = \(2, 6\)"):
        apply(src, src[:, :3], src_mask[:, :5])
    with pytest.raises(ValueError, match=r"tgt_mask must have shape \(B, L\) = \(2, 3\)"):
        apply(src, src[:, :3], src_mask, src_mask)
    norm_first, ref, _ = torch_pair
    sd = ref.state_dict()
    with pytest.raises(ValueError, match=r"missing encoder\.layers\.2\.linear1\.bias"):
        transformer_params_from_torch(sd, tiny(norm_first).clone(num_encoder_layers=3))
    with pytest.raises(ValueError, match=r"unexpected decoder\.layers\.1\."):
        transformer_params_from_torch(sd, tiny(norm_first).clone(num_decoder_layers=1))
    with pytest.raises(ValueError, match=r"unexpected decoder\.norm\.bias"):
        transformer_params_from_torch(sd, tiny(norm_first).clone(final_norm=False))
    with pytest.raises(ValueError, match=r"encoder\.layers\.0\.linear1\.weight gives \(16, 32\)"):
        transformer_params_from_torch(sd, tiny(norm_first).clone(dim_feedforward=64))
