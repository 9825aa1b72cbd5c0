"""Text utilities: masked-language-model corruption (SPEC SEQ-4)."""

from jaxdl.text.mlm import mlm_mask

__all__ = ["mlm_mask"]
