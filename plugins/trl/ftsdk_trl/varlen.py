"""Padding-free attention without FlashAttention: PyTorch's SDPA run once per example.

A padding-free batch is one row of its examples end to end. FlashAttention's varlen kernel
attends within each example from the boundaries TRL's collator passes (``cu_seq_lens_q``);
plain ``sdpa`` instead builds a block-diagonal mask over the whole row and computes every
pair of its tokens, (sum of lengths)^2 where (sum of lengths^2) would do: on a CPU that
lost most of what dropping the padding won. This attention, registered with transformers
as ``"sdpa_varlen"``, slices each example out of the row at those boundaries and runs causal
SDPA on it (its flash kernel, no mask); any other input (a padded batch, generation with a
cache, a row without boundaries) goes to transformers' own ``sdpa`` with ``sdpa``'s mask.

``from_pretrained(path, attn_implementation="sdpa_varlen")`` after :func:`register`.
"""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["NAME", "register"]

NAME = "sdpa_varlen"
"""The ``attn_implementation`` this module registers."""


def _attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    **kwargs: Any,
) -> tuple[Any, None]:
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    bounds = kwargs.get("cu_seq_lens_q")
    if bounds is None or query.shape[0] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    if groups > 1:
        key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    edges = [int(b) for b in bounds.tolist()]
    pieces = [
        torch.nn.functional.scaled_dot_product_attention(
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            dropout_p=kwargs.get("dropout", 0.0),
            scale=kwargs.get("scaling"),
            is_causal=end - start > 1,
        )
        for start, end in itertools.pairwise(edges)
        if end > start
    ]
    # the row may be longer than its examples (padded to a multiple): zeros there
    tail = query.shape[2] - edges[-1]
    if tail > 0:
        pieces.append(query.new_zeros(*query.shape[:2], tail, value.shape[-1]))
    output = torch.cat(pieces, dim=2)
    return output.transpose(1, 2).contiguous(), None


def register() -> str:
    """Make ``attn_implementation="sdpa_varlen"`` known to transformers; returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, _attention)
    # sdpa's mask, so that input without example boundaries is masked exactly as sdpa does
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME
