"""BERT, ALBERT and RoBERTa encoders with their pre-training heads. SPEC: SEQ-4.

BERT (Devlin et al. 2019, arXiv:1810.04805): token + segment + learned position embeddings,
LayerNorm (eps 1e-12), Post-LN Transformer encoder layers with GELU, a tanh pooler on [CLS], an
MLM head tied to the word embeddings and an NSP head. ALBERT (Lan et al. 2020,
arXiv:1909.11942): `embedding_size=E` factorizes the V x H embedding into V x E + E x H,
`share_layers=True` uses one layer's parameters for every layer, the sentence head predicts
sentence order (SOP), activation `gelu_new` (tanh approximation). RoBERTa (Liu et al. 2019,
arXiv:1907.11692): no NSP head, positions counted from `pad_token_id + 1` over non-padding tokens
(`padding_positions=True`), dynamic masking (`jaxdl.text.mlm_mask` per batch).

Each layer's attention sows its pre-softmax `scores` and softmax `weights` (B, heads, L, L);
`attention_maps` collects them in layer order from `mutable=["intermediates"]`.
`jaxdl.convert.hf_bert` loads Hugging Face checkpoints of all three.
"""

import dataclasses

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from jaxdl.models.transformer import check_length, check_mask, check_token_ids
from jaxdl.nn.attention import MultiHeadAttention, padding_mask
from jaxdl.nn.norm import LayerNorm

_ACTIVATIONS = {
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),  # erf form (BERT, RoBERTa)
    "gelu_new": lambda x: jax.nn.gelu(x, approximate=True),  # tanh form (ALBERT)
    "relu": jax.nn.relu,
}
_SENTENCE_HEADS = ("nsp", "sop", None)


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters of the BERT family; defaults are BERT-base (110M)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_positions: int = 512
    type_vocab_size: int = 2
    embedding_size: int | None = None  # ALBERT's E (V x E + E x H); None: V x H, no mapping
    share_layers: bool = False  # ALBERT cross-layer sharing
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    attention_dropout: float = 0.1
    pad_token_id: int = 0
    padding_positions: bool = False  # RoBERTa: positions pad_token_id + 1, + 2, ...
    pooler: bool = True
    sentence_head: str | None = "nsp"  # "nsp" (BERT), "sop" (ALBERT) or None (RoBERTa)

    def __post_init__(self):
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"unknown hidden_act {self.hidden_act!r}; valid: {list(_ACTIVATIONS)}")
        if self.sentence_head not in _SENTENCE_HEADS:
            raise ValueError(f"sentence_head must be one of {_SENTENCE_HEADS}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} not divisible by {self.num_heads}")
        if self.sentence_head and not self.pooler:
            raise ValueError("the sentence head reads the pooled [CLS] output: set pooler=True")

    @property
    def max_length(self) -> int:
        """The longest sequence the position table allows."""
        offset = self.pad_token_id + 1 if self.padding_positions else 0
        return self.max_positions - offset


def bert_base(**kw) -> BertConfig:
    """BERT-base: L=12, H=768, A=12 (110M)."""
    return BertConfig(**kw)


def bert_large(**kw) -> BertConfig:
    """BERT-large: L=24, H=1024, A=16 (340M)."""
    sizes = dict(hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096)
    return BertConfig(**(sizes | kw))


def albert_base(**kw) -> BertConfig:
    """ALBERT-base (v2): BERT-base sizes, E=128, shared layers, SOP, gelu_new, no dropout (12M)."""
    sizes = dict(vocab_size=30000, embedding_size=128, share_layers=True, hidden_act="gelu_new")
    return BertConfig(
        **(sizes | dict(sentence_head="sop", dropout=0.0, attention_dropout=0.0) | kw)
    )


def roberta_base(**kw) -> BertConfig:
    """RoBERTa-base: BERT-base sizes, BPE vocabulary 50265, no NSP, padding-offset positions."""
    sizes = dict(vocab_size=50265, max_positions=514, type_vocab_size=1, pad_token_id=1)
    extra = dict(padding_positions=True, sentence_head=None, layer_norm_eps=1e-5)
    return BertConfig(**(sizes | extra | kw))


@flax.struct.dataclass
class BertOutput:
    """last_hidden_state (B, L, H); pooled (B, H) or None; hidden_states: embeddings + layers."""

    last_hidden_state: jax.Array
    pooled: jax.Array | None
    hidden_states: tuple[jax.Array, ...]


def _dense(features: int, name: str | None = None) -> nn.Dense:
    return nn.Dense(features, kernel_init=nn.initializers.normal(0.02), name=name)


class BertLayer(nn.Module):
    """Self-attention + FFN, Post-LN with residuals (HF's BertLayer/AlbertLayer). SPEC: SEQ-4."""

    config: BertConfig

    @nn.compact
    def __call__(self, x, mask=None, deterministic: bool = True):
        c = self.config
        drop = nn.Dropout(c.dropout, deterministic=deterministic)
        a = MultiHeadAttention(
            c.num_heads,
            dropout_rate=c.attention_dropout,
            kernel_init=nn.initializers.normal(0.02),
            name="attention",
        )
        x = LayerNorm(epsilon=c.layer_norm_eps, name="attention_norm")(
            x + drop(a(x, mask=mask, deterministic=deterministic))
        )
        h = _ACTIVATIONS[c.hidden_act](_dense(c.intermediate_size, "intermediate")(x))
        h = drop(_dense(c.hidden_size, "output")(h))
        return LayerNorm(epsilon=c.layer_norm_eps, name="output_norm")(x + h)


class Bert(nn.Module):
    """The encoder: `Bert(config)(ids, token_type_ids, attention_mask)` -> BertOutput. SPEC: SEQ-4.

    ids (B, L) int; token_type_ids (B, L) segment ids (default 0); attention_mask (B, L) bool or
    0/1, True = real token (default: ids != pad_token_id for RoBERTa, all ones otherwise).
    """

    config: BertConfig

    def setup(self):
        c = self.config
        e = c.embedding_size or c.hidden_size
        init = nn.initializers.normal(0.02)
        self.word_embeddings = nn.Embed(c.vocab_size, e, embedding_init=init)
        self.position_embeddings = nn.Embed(c.max_positions, e, embedding_init=init)
        self.token_type_embeddings = nn.Embed(c.type_vocab_size, e, embedding_init=init)
        self.embedding_norm = LayerNorm(epsilon=c.layer_norm_eps)
        if c.embedding_size is not None:
            self.embedding_projection = _dense(c.hidden_size)
        if c.share_layers:
            self.layer = BertLayer(c)
        else:
            self.layers = [BertLayer(c) for _ in range(c.num_layers)]
        if c.pooler:
            self.pooler = _dense(c.hidden_size)
        self.drop = nn.Dropout(c.dropout)

    def _positions(self, ids: jax.Array) -> jax.Array:
        c = self.config
        check_length(ids.shape[1], c.max_length, "max_positions")
        if not c.padding_positions:
            return jnp.arange(ids.shape[1])[None, :]
        real = (ids != c.pad_token_id).astype(jnp.int32)
        return jnp.cumsum(real, axis=1) * real + c.pad_token_id

    def __call__(self, ids, token_type_ids=None, attention_mask=None, deterministic=True):
        c = self.config
        check_token_ids(ids, c.vocab_size)
        token_type_ids = jnp.zeros_like(ids) if token_type_ids is None else token_type_ids
        check_mask(token_type_ids, ids, "token_type_ids")
        check_token_ids(token_type_ids, c.type_vocab_size, "token type")
        check_mask(attention_mask, ids, "attention_mask")
        if attention_mask is None and c.padding_positions:
            attention_mask = ids != c.pad_token_id
        x = (
            self.word_embeddings(ids)
            + self.position_embeddings(self._positions(ids))
            + self.token_type_embeddings(token_type_ids)
        )
        x = self.drop(self.embedding_norm(x), deterministic=deterministic)
        if c.embedding_size is not None:
            x = self.embedding_projection(x)
        mask = None if attention_mask is None else padding_mask(attention_mask.astype(bool))
        hidden = [x]
        for i in range(c.num_layers):
            layer = self.layer if c.share_layers else self.layers[i]
            hidden.append(layer(hidden[-1], mask, deterministic))
        pooled = jnp.tanh(self.pooler(hidden[-1][:, 0])) if c.pooler else None
        return BertOutput(hidden[-1], pooled, tuple(hidden))

    def attend(self, x: jax.Array) -> jax.Array:
        """x (..., E) @ word_embeddings^T -> (..., vocab_size): the tied MLM decoder."""
        return self.word_embeddings.attend(x)


class BertForPreTraining(nn.Module):
    """Encoder + MLM head (+ NSP/SOP head). Returns {"mlm_logits", "sentence_logits", "output"}.

    MLM: Dense(E) -> activation -> LayerNorm -> tied decoder + bias, (B, L, vocab_size);
    sentence_logits (B, 2) from the pooled [CLS] output, None without a sentence head.
    """

    config: BertConfig

    def setup(self):
        c = self.config
        self.bert = Bert(c)
        self.mlm_transform = _dense(c.embedding_size or c.hidden_size)
        self.mlm_norm = LayerNorm(epsilon=c.layer_norm_eps)
        self.mlm_bias = self.param("mlm_bias", nn.initializers.zeros, (c.vocab_size,))
        if c.sentence_head:
            self.sentence = _dense(2)

    def __call__(self, ids, token_type_ids=None, attention_mask=None, deterministic=True):
        out = self.bert(ids, token_type_ids, attention_mask, deterministic)
        mlm = self.mlm_head(out.last_hidden_state)
        sentence = self.sentence(out.pooled) if self.config.sentence_head else None
        return {"mlm_logits": mlm, "sentence_logits": sentence, "output": out}

    def mlm_head(self, hidden: jax.Array) -> jax.Array:
        """MLM logits (..., vocab_size) of hidden states (..., H), e.g. of the masked positions
        only (`apply(..., method=...)`), which saves the vocabulary projection elsewhere."""
        h = _ACTIVATIONS[self.config.hidden_act](self.mlm_transform(hidden))
        return self.bert.attend(self.mlm_norm(h)) + self.mlm_bias


class BertClassifier(nn.Module):
    """Fine-tuning head: pooled [CLS] -> dropout -> Dense(num_labels). SPEC: SEQ-4.

    Returns logits (B, num_labels), or with `with_output=True` (logits, BertOutput) (TinyBERT
    distils the hidden states).
    """

    config: BertConfig
    num_labels: int

    @nn.compact
    def __call__(
        self, ids, token_type_ids=None, attention_mask=None, deterministic=True, with_output=False
    ):
        if not self.config.pooler:
            raise ValueError("BertClassifier reads the pooled [CLS] output: set pooler=True")
        out = Bert(self.config, name="bert")(ids, token_type_ids, attention_mask, deterministic)
        pooled = nn.Dropout(self.config.dropout)(out.pooled, deterministic=deterministic)
        logits = _dense(self.num_labels, "classifier")(pooled)
        return (logits, out) if with_output else logits


def attention_maps(intermediates: dict, kind: str = "scores") -> tuple[jax.Array, ...]:
    """Per-layer attention `scores` (pre-softmax) or `weights` (B, heads, L, L), layer order.

    `intermediates`: the `intermediates` collection of a `Bert` (or a model holding one under
    `bert`) applied with `mutable=["intermediates"]`.
    """
    if kind not in ("scores", "weights"):
        raise ValueError(f"kind must be 'scores' or 'weights', got {kind!r}")
    tree = intermediates.get("intermediates", intermediates)
    tree = tree.get("bert", tree)
    if "layer" in tree:  # ALBERT: one shared layer, one entry per call
        return tuple(tree["layer"]["attention"][kind])
    names = sorted((k for k in tree if k.startswith("layers_")), key=lambda k: int(k[7:]))
    if not names:
        raise ValueError(f"no BERT layers in the intermediates; found keys {sorted(tree)}")
    return tuple(tree[k]["attention"][kind][0] for k in names)
