"""End-to-end training that fits: gradient accumulation over token-budget micro-batches, the step budget
with warm-up and cosine decay, LoRA on every linear projection, no full fine-tuning of large decoders."""

from __future__ import annotations

import pytest
import torch

from scoring.model import ItemHeads
from scoring.windowing import Chunker
from tests.conftest import make_examples
from tests.tiny_models import tiny_encoder, tiny_qwen3_5
from training.args import TrainArgs
from training.end_to_end import (
    EndToEnd,
    accumulated_backward,
    prepare_module,
    train_end_to_end,
    warmup_cosine,
    window_token_cost,
)
from training.members import MemberTraining, Targets, band_weights

CPU = torch.device("cpu")


def _setup(backbone_factory: object, n: int = 6) -> tuple:
    backbone = backbone_factory()  # type: ignore[operator]
    examples = make_examples(n, groups=3)
    chunker = Chunker(backbone.tokenizer, max_tokens=32, kind=backbone.kind)
    chunked = chunker.chunk_windows([e.window for e in examples])
    targets = Targets(examples, band_weights(examples))  # unequal weights: the scaling must be right
    args = TrainArgs(mode="lora", lora_dropout=0.0, dropout=0.0, max_tokens=32)
    module = prepare_module(backbone.module, args, backbone.kind, CPU)
    torch.manual_seed(0)
    heads = ItemHeads(backbone.hidden_size, dropout=0.0)
    return EndToEnd(backbone, module, heads), module, heads, chunked, targets


def _grads(module: torch.nn.Module, heads: torch.nn.Module) -> dict[str, torch.Tensor]:
    named = [*module.named_parameters(), *(("heads." + n, p) for n, p in heads.named_parameters())]
    return {n: p.grad.detach().clone() for n, p in named if p.requires_grad and p.grad is not None}


@pytest.mark.parametrize("factory", [tiny_encoder, tiny_qwen3_5])
def test_accumulated_micro_batch_gradients_equal_the_full_batch_gradient(factory: object) -> None:
    model, module, heads, chunked, targets = _setup(factory)
    batch = list(range(len(chunked)))
    # Deterministic passes (no dropout anywhere: the encoder's own dropout would differ between runs);
    # gradients flow all the same.
    module.eval()
    heads.eval()
    full_loss = accumulated_backward(model, chunked, targets, batch, CPU, 0)
    full = _grads(module, heads)
    module.zero_grad()
    heads.zero_grad()
    smallest = min(window_token_cost(chunked[i]) for i in batch)
    accumulated_loss = accumulated_backward(model, chunked, targets, batch, CPU, smallest)
    accumulated = _grads(module, heads)
    assert full and set(full) == set(accumulated)
    assert any("lora" in name for name in full)  # the adapters do get gradients
    for name, grad in full.items():
        torch.testing.assert_close(accumulated[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    assert accumulated_loss == pytest.approx(full_loss, rel=1e-5)


def test_lora_goes_on_every_linear_projection_by_default() -> None:
    backbone = tiny_qwen3_5()
    module = prepare_module(backbone.module, TrainArgs(mode="lora"), backbone.kind, CPU)
    wrapped = {name.rsplit(".", 1)[-1] for name, m in module.named_modules() if hasattr(m, "lora_A")}
    assert {"q_proj", "o_proj", "gate_proj", "down_proj", "in_proj_qkv", "in_proj_z", "out_proj"} <= wrapped
    narrow = prepare_module(
        tiny_qwen3_5().module, TrainArgs(mode="lora", lora_target_modules=("q_proj",)), "decoder", CPU
    )
    assert {name.rsplit(".", 1)[-1] for name, m in narrow.named_modules() if hasattr(m, "lora_A")} == {
        "q_proj"
    }


def test_full_fine_tuning_of_a_decoder_above_the_size_setting_is_refused() -> None:
    backbone = tiny_qwen3_5()
    with pytest.raises(ValueError, match="train with mode=lora"):
        prepare_module(backbone.module, TrainArgs(mode="full", full_max_parameters=1000), backbone.kind, CPU)


def test_the_schedule_warms_up_then_decays_to_zero() -> None:
    factors = [warmup_cosine(s, total=100, warmup=10) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:], strict=False)) and factors[-1] < 0.01


def test_lora_trains_on_a_step_budget_not_epochs() -> None:
    backbone = tiny_encoder()
    examples = make_examples(12, groups=4)
    chunked = Chunker(backbone.tokenizer, max_tokens=32, kind=backbone.kind).chunk_windows(
        [e.window for e in examples]
    )
    seen: list[float] = []
    args = TrainArgs(mode="lora", steps=5, batch_size=4, epochs=1, patience=100, eval_every=2, max_tokens=32)
    job = MemberTraining(
        examples=examples,
        targets=Targets(examples, [1.0] * len(examples)),
        train_idx=list(range(8)),
        val_idx=list(range(8, 12)),
        args=args,
        seed=0,
        device=CPU,
        progress=lambda stage, fraction: seen.append(fraction),
    )
    train_end_to_end(backbone, chunked, job, micro_batch_tokens=64)
    assert len(seen) == 5 and seen[-1] == 1.0  # 5 steps (2 passes over 8 windows), whatever `epochs` says


def test_lora_masters_stay_fp32_on_a_bf16_base_and_checkpointing_keeps_gradients() -> None:
    from transformers import AutoModel

    backbone = tiny_qwen3_5()
    bf16 = AutoModel.from_config(backbone.module.config, dtype=torch.bfloat16)
    args = TrainArgs(mode="lora", gradient_checkpointing=True, lora_dropout=0.0)
    module = prepare_module(bf16, args, "decoder", CPU)
    trained = [p for p in module.parameters() if p.requires_grad]
    assert trained and all(p.dtype == torch.float32 for p in trained)  # fp32 masters
    assert all(p.dtype == torch.bfloat16 for p in module.parameters() if not p.requires_grad)
    ids = torch.randint(0, 100, (2, 16))
    module.train()
    hidden = module(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).last_hidden_state
    hidden.float().pow(2).mean().backward()  # through checkpointed layers
    lora_b = [p for n, p in module.named_parameters() if "lora_B" in n]
    # B starts at zero, so A's gradient is zero on the first step; B's is not.
    assert all(p.grad is not None for p in trained) and all(p.grad.abs().sum() > 0 for p in lora_b)
