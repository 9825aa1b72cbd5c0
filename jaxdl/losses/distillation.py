"""Knowledge distillation: Hinton's soft targets and TinyBERT's layer-wise losses.

SPEC: SEQ-10 (Hinton et al. 2015, arXiv:1503.02531), SEQ-4 (TinyBERT, Jiao et al. 2020,
arXiv:1909.10351). The teacher's outputs are held fixed (`stop_gradient`). KL and soft
cross-entropy are summed over classes and averaged over the batch ("batchmean", as
`torch.nn.KLDivLoss(reduction="batchmean")`), not averaged over every element.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxdl.losses.classification import log_softmax, softmax_ce


def _check_pair(student: jax.Array, teacher: jax.Array, what: str) -> None:
    if student.shape != teacher.shape:
        raise ValueError(
            f"student and teacher {what} must have one shape, got {student.shape} and "
            f"{teacher.shape}"
        )


def soft_target_kl(
    student_logits: jax.Array, teacher_logits: jax.Array, temperature: float = 1.0
) -> jax.Array:
    """KL(p_t^T || p_s^T), p^T = softmax(z / T), summed over classes, mean over the rest."""
    _check_pair(student_logits, teacher_logits, "logits")
    log_p_s = log_softmax(student_logits / temperature)
    log_p_t = log_softmax(jax.lax.stop_gradient(teacher_logits) / temperature)
    kl = jnp.sum(jnp.exp(log_p_t) * (log_p_t - log_p_s), axis=-1)
    return kl.mean()


def hinton_kd_loss(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    labels: jax.Array,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> jax.Array:
    """alpha T^2 KL(p_t^T || p_s^T) + (1 - alpha) CE(labels, softmax(z_s)). SPEC: SEQ-10.

    logits (..., C), labels (...) int; both terms are means over the leading axes. The T^2
    keeps the soft term's gradient scale independent of T (Hinton et al. 2015, section 2).
    """
    if not 0.0 <= alpha <= 1.0 or temperature <= 0:
        raise ValueError(f"need 0 <= alpha <= 1 and temperature > 0, got {alpha}, {temperature}")
    soft = soft_target_kl(student_logits, teacher_logits, temperature)
    hard = softmax_ce(student_logits, labels)
    return alpha * temperature**2 * soft + (1.0 - alpha) * hard


def projected_mse(
    student: jax.Array, teacher: jax.Array, kernel: jax.Array, bias: jax.Array | None = None
) -> jax.Array:
    """MSE(S W + b, T): TinyBERT's embedding (W_e) and hidden-state (W_h) losses. SPEC: SEQ-4.

    student (..., d'), teacher (..., d), kernel (d', d) learned with the student; mean over
    every element, as torch `MSELoss`.
    """
    if kernel.shape != (student.shape[-1], teacher.shape[-1]):
        raise ValueError(
            f"projection kernel must be (student dim, teacher dim) = "
            f"{(student.shape[-1], teacher.shape[-1])}, got {kernel.shape}"
        )
    projected = student @ kernel + (0.0 if bias is None else bias)
    return jnp.mean(jnp.square(projected - jax.lax.stop_gradient(teacher)))


def attention_score_loss(
    student_scores: jax.Array, teacher_scores: jax.Array, key_mask: jax.Array | None = None
) -> jax.Array:
    """(1/h) sum_i MSE(A_i^S, A_i^T) on pre-softmax scores (B, h, Lq, Lk). SPEC: SEQ-4.

    Entries at padded keys (`key_mask` (B, Lk) False) are set to zero in both, as TinyBERT's
    code does with its masked (-inf-like) scores. The mean over heads of per-head MSEs equals
    the mean over every element.
    """
    _check_pair(student_scores, teacher_scores, "attention scores")
    teacher_scores = jax.lax.stop_gradient(teacher_scores)
    if key_mask is not None:
        b, lk = student_scores.shape[0], student_scores.shape[-1]
        if key_mask.shape != (b, lk):
            raise ValueError(f"key_mask must have shape (B, Lk) = {(b, lk)}, got {key_mask.shape}")
        keep = key_mask[:, None, None, :]
        student_scores = jnp.where(keep, student_scores, 0.0)
        teacher_scores = jnp.where(keep, teacher_scores, 0.0)
    return jnp.mean(jnp.square(student_scores - teacher_scores))


def prediction_loss(
    student_logits: jax.Array, teacher_logits: jax.Array, temperature: float = 1.0
) -> jax.Array:
    """Soft cross-entropy -softmax(z_t / t) . log softmax(z_s / t), batch mean. SPEC: SEQ-4."""
    _check_pair(student_logits, teacher_logits, "logits")
    p_t = jax.nn.softmax(jax.lax.stop_gradient(teacher_logits) / temperature, axis=-1)
    return -jnp.sum(p_t * log_softmax(student_logits / temperature), axis=-1).mean()


def layer_map(
    num_student: int, num_teacher: int, strategy: str | Callable[[int], int] = "uniform"
) -> tuple[int, ...]:
    """Teacher layer g(m) for student layers m = 0..M (0 = the embeddings). SPEC: SEQ-4.

    "uniform": g(m) = m N / M (TinyBERT; 4 student / 12 teacher layers -> 0, 3, 6, 9, 12);
    "last": g(m) = N - M + m for m >= 1 (BERT-PKD-Last); or any function g(m). Every g(m)
    must lie in [0, N] with g(0) = 0.
    """
    if isinstance(strategy, str):
        if strategy == "uniform":
            if num_teacher % num_student:
                raise ValueError(
                    f"uniform mapping needs num_teacher ({num_teacher}) divisible by "
                    f"num_student ({num_student}); pass a function g(m) instead"
                )
            step = num_teacher // num_student
            g = lambda m: m * step  # noqa: E731
        elif strategy == "last":
            g = lambda m: 0 if m == 0 else num_teacher - num_student + m  # noqa: E731
        else:
            raise ValueError(f"unknown strategy {strategy!r}; valid: 'last', 'uniform' or g(m)")
    else:
        g = strategy
    out = tuple(int(g(m)) for m in range(num_student + 1))
    if out[0] != 0 or not all(0 <= n <= num_teacher for n in out):
        raise ValueError(
            f"layer map must have g(0) = 0 and values in [0, {num_teacher}], got {out}"
        )
    return out


def tinybert_layer_loss(
    student_hidden: Sequence[jax.Array],
    teacher_hidden: Sequence[jax.Array],
    student_scores: Sequence[jax.Array],
    teacher_scores: Sequence[jax.Array],
    projections: dict,
    key_mask: jax.Array | None = None,
    mapping: Sequence[int] | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """TinyBERT's intermediate-layer distillation: embedding + sum over m of attention + hidden.

    `*_hidden`: the embedding output then each layer's output (M + 1 and N + 1 arrays);
    `*_scores`: each layer's pre-softmax attention scores (M and N). `projections`:
    {"embedding": {"kernel", "bias"}, "hidden": {"kernel", "bias"}} (W_e, W_h). `mapping`
    defaults to `layer_map(M, N)`. Returns (total, {"embedding", "attention", "hidden"}).
    """
    m_layers, n_layers = len(student_scores), len(teacher_scores)
    if len(student_hidden) != m_layers + 1 or len(teacher_hidden) != n_layers + 1:
        raise ValueError(
            "expected embedding + one hidden state per layer: got "
            f"{len(student_hidden)} student hidden states for {m_layers} layers and "
            f"{len(teacher_hidden)} teacher hidden states for {n_layers} layers"
        )
    g = layer_map(m_layers, n_layers) if mapping is None else tuple(mapping)
    if len(g) != m_layers + 1:
        raise ValueError(f"mapping must have {m_layers + 1} entries (m = 0..M), got {len(g)}")
    emb = projected_mse(student_hidden[0], teacher_hidden[0], **projections["embedding"])
    att = sum(
        attention_score_loss(student_scores[m - 1], teacher_scores[g[m] - 1], key_mask)
        for m in range(1, m_layers + 1)
    )
    hid = sum(
        projected_mse(student_hidden[m], teacher_hidden[g[m]], **projections["hidden"])
        for m in range(1, m_layers + 1)
    )
    return emb + att + hid, {"embedding": emb, "attention": att, "hidden": hid}
