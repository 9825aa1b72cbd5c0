"""Model families (Flax linen modules), one family per module."""
