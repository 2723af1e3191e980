"""Post-norm (or pre-norm) attention and feed-forward blocks of the ReLA decoder, on fused attention.

The parameters have the names and layout of `torch.nn.MultiheadAttention` (`in_proj_weight`,
`in_proj_bias`, `out_proj`), which the official checkpoints store, but the computation is
`scaled_dot_product_attention` on batch-first tensors: the same result without the averaged
attention weights `nn.MultiheadAttention` computes and throws away.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    """Multi-head attention with `nn.MultiheadAttention`'s parameters, computed with fused attention."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, allowed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attend from `query` [B, Q, dim] to `key`/`value` [B, K, dim].

        `allowed` is a boolean mask broadcastable to [B, heads, Q, K], True where attention is
        permitted (the opposite convention of `nn.MultiheadAttention`'s `attn_mask`).
        """
        weight_q, weight_k, weight_v = self.in_proj_weight.chunk(3)
        bias_q, bias_k, bias_v = self.in_proj_bias.chunk(3)
        q = self._split_heads(F.linear(query, weight_q, bias_q))
        k = self._split_heads(F.linear(key, weight_k, bias_k))
        v = self._split_heads(F.linear(value, weight_v, bias_v))
        dropout = self.dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout)
        batch, _, queries, head_dim = attended.shape
        return self.out_proj(attended.transpose(1, 2).reshape(batch, queries, self.heads * head_dim))

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        return x.view(batch, length, self.heads, dim // self.heads).transpose(1, 2)


def _reset_xavier(module: nn.Module) -> None:
    # The official layers re-initialise every matrix with Xavier-uniform after construction.
    for parameter in module.parameters():
        if parameter.dim() > 1:
            nn.init.xavier_uniform_(parameter)


class SelfAttentionBlock(nn.Module):
    """Self-attention with a residual connection and LayerNorm; the position embedding is added to queries and keys."""

    def __init__(self, dim: int, heads: int, *, pre_norm: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, heads)
        self.norm = nn.LayerNorm(dim)
        self.pre_norm = pre_norm
        _reset_xavier(self)

    def forward(self, x: torch.Tensor, query_pos: torch.Tensor | None = None) -> torch.Tensor:
        source = self.norm(x) if self.pre_norm else x
        query = source if query_pos is None else source + query_pos
        x = x + self.self_attn(query, query, source)
        return x if self.pre_norm else self.norm(x)


class CrossAttentionBlock(nn.Module):
    """Cross-attention from queries to a memory, with a residual connection and LayerNorm."""

    def __init__(self, dim: int, heads: int, *, pre_norm: bool = False):
        super().__init__()
        self.multihead_attn = MultiHeadAttention(dim, heads)
        self.norm = nn.LayerNorm(dim)
        self.pre_norm = pre_norm
        _reset_xavier(self)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        *,
        memory_key: torch.Tensor | None = None,
        query_pos: torch.Tensor | None = None,
        allowed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`memory_key` is the memory plus its position embedding (the memory itself when None)."""
        source = self.norm(x) if self.pre_norm else x
        query = source if query_pos is None else source + query_pos
        key = memory if memory_key is None else memory_key
        x = x + self.multihead_attn(query, key, memory, allowed)
        return x if self.pre_norm else self.norm(x)


class FeedForwardBlock(nn.Module):
    """Two-layer ReLU feed-forward network with a residual connection and LayerNorm."""

    def __init__(self, dim: int, hidden: int, *, pre_norm: bool = False):
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm = nn.LayerNorm(dim)
        self.pre_norm = pre_norm
        _reset_xavier(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        source = self.norm(x) if self.pre_norm else x
        x = x + self.linear2(F.relu(self.linear1(source), inplace=True))
        return x if self.pre_norm else self.norm(x)


class MLP(nn.Module):
    """A stack of linear layers with ReLU between them (`layers.{i}` as in the official heads)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        widths = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x, inplace=True)
        return x
