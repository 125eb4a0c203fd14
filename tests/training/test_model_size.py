"""A backbone's size without its weights: exact parameter counts on the meta device, LoRA parameters as
peft counts them, activations traced one layer of each kind at a time."""

from __future__ import annotations

import pytest

from tests.tiny_models import tiny_qwen3_5_config
from training.model_size import (
    count_parameters,
    depth_config,
    layer_activations,
    lora_parameters,
    meta_model,
    saved_activation_bytes,
)
from training.plan import load_text_config


@pytest.mark.parametrize("name", ["qwen3.5-27b", "qwen3.5-0.8b"])
def test_the_parameter_formula_equals_the_meta_device_model_exactly(name: str) -> None:
    config = load_text_config(name)
    model = meta_model(config)
    assert all(p.device.type == "meta" for p in model.parameters())  # no weights were allocated
    assert count_parameters(config) == sum(p.numel() for p in model.parameters())


def test_the_parameter_formula_holds_for_a_tiny_config_too() -> None:
    config = tiny_qwen3_5_config()
    assert count_parameters(config) == sum(p.numel() for p in meta_model(config).parameters())


@pytest.mark.parametrize("targets", ["all-linear", ("q_proj", "v_proj", "in_proj_qkv", "down_proj")])
def test_lora_trainable_parameters_equal_peft_on_a_real_tiny_model(targets: object) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    config = tiny_qwen3_5_config()
    planned = lora_parameters(meta_model(config), rank=8, targets=targets)  # type: ignore[arg-type]
    peft_model = get_peft_model(
        AutoModel.from_config(config),
        LoraConfig(r=8, lora_alpha=16, target_modules=targets if isinstance(targets, str) else list(targets)),
    )
    assert planned == sum(p.numel() for p in peft_model.parameters() if p.requires_grad)


def test_one_layer_of_a_kind_is_the_difference_of_depths_one_and_two() -> None:
    config = tiny_qwen3_5_config()
    acts = layer_activations(config, seq_len=32, lora=None)
    four = saved_activation_bytes(meta_model(depth_config(config, config.layer_types)), batch=1, seq_len=32)
    scaled = acts.outside + 3 * acts.per_kind["linear_attention"] + acts.per_kind["full_attention"]
    assert abs(scaled - four) / four < 0.01  # shared tensors (rotary tables) are counted once per trace
