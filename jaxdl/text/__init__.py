"""Text utilities: masked-language-model corruption (SPEC SEQ-4) and the text-competition toolkit
(SEQ-5..SEQ-9), one module per concept: `cleaning` (TextCleaner, OpenCC, stop words), `augment`
(EDA, TF-IDF replacement, noise, crossover), `mixup` (wordMixup/sentMixup), `adversarial`
(FGM/PGD train step), `ensemble` (folds, averaging, voting, stacking, pseudo-labels),
`multilabel` (micro/macro-F1, per-label thresholds), `classical` (BOW/TF-IDF/hashing/LDA),
`vocab` (vocabularies, padded ids)."""

from jaxdl.text.mlm import mlm_mask

__all__ = ["mlm_mask"]
