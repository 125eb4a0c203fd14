"""The size of a backbone without its weights, on PyTorch's `meta` device (shapes and dtypes, no storage):
parameters counted by formula (exact for the Qwen3.5 / Llama family: tests/training/test_model_size.py)
and by mode (LoRA adapters, the item heads), and the activation bytes autograd saves for backward, traced
one layer of each kind at a time. training/plan.py turns these into a memory and speed plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from scoring.backbone import LORA_ALL_LINEAR

# Qwen3.5 layers take the mask per layer kind; None everywhere = every token is real (no .item() calls,
# which the meta device cannot answer).
_NO_MASK = {"full_attention": None, "linear_attention": None}


def meta_model(config: Any, *, dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """The backbone (text model, no LM head) on the meta device: real shapes, no storage."""
    from transformers import AutoModel

    with torch.device("meta"):
        return AutoModel.from_config(config, dtype=dtype)


FORMULA_MODEL_TYPES = ("qwen3_5_text", "qwen3", "qwen2", "llama", "mistral")


def count_parameters(config: Any) -> int:
    """Parameters of the text model by formula (Qwen3.5 / Qwen3-Next hybrid layers, and plain decoders
    of the Llama/Qwen family); exact for these (tests/training/test_model_size.py)."""
    h, i, v = config.hidden_size, config.intermediate_size, config.vocab_size
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    # Qwen3.5's full attention always gates its output by a second half of q_proj.
    gated = config.model_type == "qwen3_5_text" or getattr(config, "attn_output_gate", False)
    gate = 2 if gated else 1
    norms_qk = 2 * head_dim if config.model_type in ("qwen3_5_text", "qwen3", "qwen3_next") else 0
    bias = getattr(config, "attention_bias", False)
    full = (
        h * heads * head_dim * gate
        + 2 * h * kv * head_dim
        + heads * head_dim * h
        + norms_qk
        + (heads * head_dim * gate + 2 * kv * head_dim if bias else 0)
    )
    linear = 0
    if "linear_attention" in layer_types:
        key_dim = config.linear_num_key_heads * config.linear_key_head_dim
        value_dim = config.linear_num_value_heads * config.linear_value_head_dim
        n_v = config.linear_num_value_heads
        conv = 2 * key_dim + value_dim
        linear = (
            h * conv  # in_proj_qkv
            + h * value_dim  # in_proj_z
            + 2 * h * n_v  # in_proj_b, in_proj_a
            + conv * config.linear_conv_kernel_dim  # depthwise conv1d
            + 2 * n_v  # dt_bias, A_log
            + config.linear_value_head_dim  # gated norm
            + value_dim * h  # out_proj
        )
    per_layer = 3 * h * i + 2 * h  # MLP (gate, up, down) and the two RMSNorms
    layers = sum(per_layer + (linear if t == "linear_attention" else full) for t in layer_types)
    return v * h + layers + h  # embeddings, layers, final norm


def lora_parameters(model: nn.Module, *, rank: int, targets: tuple[str, ...] | str) -> int:
    """Trainable LoRA parameters: rank x (in + out) for every targeted nn.Linear ("all-linear": every
    linear layer of the backbone, as peft's shorthand does)."""
    total = 0
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if targets == LORA_ALL_LINEAR or leaf in targets:
            total += rank * (module.in_features + module.out_features)
    return total


def heads_parameters(hidden_size: int) -> int:
    from scoring.model import ItemHeads

    with torch.device("meta"):
        return sum(p.numel() for p in ItemHeads(hidden_size).parameters())


def depth_config(config: Any, layer_types: list[str]) -> Any:
    small = config.__class__.from_dict(config.to_dict())
    small.num_hidden_layers = len(layer_types)
    if hasattr(small, "layer_types"):
        small.layer_types = list(layer_types)
    small.use_cache = False
    return small


def saved_activation_bytes(
    model: nn.Module, *, batch: int, seq_len: int, lora: tuple[int, tuple[str, ...] | str] | None = None
) -> int:
    """Bytes autograd keeps for backward after one forward of `model` in training mode: every saved
    tensor once (views counted by their base), weights excluded. Works on the meta device (the plan)
    and on real tensors (the measurement a test compares it with: storages counted once)."""
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        rank, targets = lora
        model = get_peft_model(
            model,
            LoraConfig(
                r=rank,
                lora_alpha=2 * rank,
                lora_dropout=0.05,
                target_modules=targets if targets == LORA_ALL_LINEAR else list(targets),
            ),
        )
    else:
        for p in model.parameters():
            p.requires_grad_(False)
        embeddings: Any = model.get_input_embeddings()  # type: ignore[operator]
        if embeddings is not None:
            embeddings.weight.requires_grad_(True)  # the pass must be differentiable
    model.train()
    device = next(model.parameters()).device
    params = {id(p) for p in model.parameters()}
    weight_shapes = {(tuple(p.shape), p.dtype) for p in model.parameters()}
    seen: set[int] = set()
    kept: list[torch.Tensor] = []  # alive until the end, so that ids are not reused
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        kept.append(t)
        base = t._base if t._base is not None else t
        kept.append(base)
        if id(t) in params or id(base) in params:
            return t
        if device.type == "meta":
            is_weight = (
                base.dim() <= 2
                and not base.requires_grad
                and (tuple(base.shape), base.dtype) in weight_shapes
            )
            if is_weight or id(base) in seen:
                return t
            seen.add(id(base))
            total += base.numel() * base.element_size()
        else:
            key = t.untyped_storage().data_ptr()
            if key in seen:
                return t
            seen.add(key)
            total += t.untyped_storage().nbytes()
        return t

    ids = torch.zeros((batch, seq_len), dtype=torch.long, device=device)
    kwargs: dict[str, Any] = {"input_ids": ids}
    if "qwen3_5" in str(getattr(model.config, "model_type", "")):
        kwargs["attention_mask"] = _NO_MASK
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(**kwargs)
    return total


@dataclass(frozen=True)
class LayerActivations:
    """Saved bytes of one sequence of `seq_len` tokens: outside the layers, and per layer kind."""

    outside: int
    per_kind: dict[str, int]


def layer_activations(
    config: Any, *, seq_len: int, lora: tuple[int, tuple[str, ...] | str] | None
) -> LayerActivations:
    """Trace one layer of each kind on the meta device at the real width (depth 1 and 2 of a kind:
    the difference is one layer), so a 64-layer model costs a few milliseconds."""
    kinds = sorted(set(getattr(config, "layer_types", None) or ["full_attention"]))
    per_kind: dict[str, int] = {}
    outside = 0
    for kind in kinds:
        one = saved_activation_bytes(
            meta_model(depth_config(config, [kind])), batch=1, seq_len=seq_len, lora=lora
        )
        two = saved_activation_bytes(
            meta_model(depth_config(config, [kind, kind])), batch=1, seq_len=seq_len, lora=lora
        )
        per_kind[kind] = two - one
        outside = one - per_kind[kind]
    return LayerActivations(outside=outside, per_kind=per_kind)
