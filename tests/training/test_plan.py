"""The memory plan: what fits a GPU, activations within 20% of a measured run, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from tests.tiny_models import tiny_qwen3_5_config
from training.__main__ import main
from training.model_size import saved_activation_bytes
from training.plan import (
    GIB,
    PlanError,
    load_text_config,
    make_plan,
    micro_batches,
    parse_memory,
    require_fit,
)


def test_the_shipped_27b_config_is_the_published_shape() -> None:
    config = load_text_config("qwen3.5-27b")
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == (64, 5120, 17408)
    assert (
        config.layer_types.count("linear_attention") == 48
        and config.layer_types.count("full_attention") == 16
    )


def test_the_activation_estimate_is_within_20_percent_of_a_measured_cpu_run() -> None:
    """The plan traces one layer of each kind on the meta device and scales it; the measurement is a real
    bf16 forward of the whole tiny model on the CPU with saved-tensor hooks (storages counted once)."""
    from transformers import AutoModel

    config = tiny_qwen3_5_config()
    batch, seq_len = 3, 96
    plan = make_plan(
        "tiny",
        config=config,
        mode="lora",
        gpu_memory=80 * GIB,
        seq_len=seq_len,
        lora_rank=8,
        gradient_checkpointing=False,
    )
    torch.manual_seed(0)
    real = AutoModel.from_config(config, dtype=torch.bfloat16)
    measured = saved_activation_bytes(real, batch=batch, seq_len=seq_len, lora=(8, "all-linear"))
    estimate = plan.activation_bytes_per_sequence * batch
    assert measured > 0 and abs(estimate - measured) / measured < 0.2, (estimate, measured)


def test_27b_lora_fits_an_80_gib_gpu_and_full_fine_tuning_does_not() -> None:
    lora = make_plan("qwen3.5-27b", mode="lora", gpu="h100")
    assert (
        lora.fits
        and lora.micro_batch_sequences >= 1
        and lora.micro_batch_tokens == 256 * lora.micro_batch_sequences
    )
    assert lora.parameters > 25e9 and 50e6 < lora.trainable_parameters < 200e6
    assert 5_000 < lora.tokens_per_second_ceiling < lora.scoring_tokens_per_second_ceiling
    full = make_plan("qwen3.5-27b", mode="full", gpu="h200")
    assert not full.fits and full.micro_batch_sequences == 0
    with pytest.raises(PlanError, match="does not fit the GPU") as refused:
        require_fit(full)
    assert "Plan for qwen3.5-27b" in str(refused.value)  # the plan is in the message


def test_the_cli_prints_json_with_the_promised_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["plan", "--backbone", "qwen3.5-0.8b", "--mode", "lora", "--gpu-memory", "24GiB", "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    for key in (
        "parameters",
        "trainable_parameters",
        "fits",
        "micro_batch_tokens",
        "tokens_per_second_ceiling",
    ):
        assert key in data
    assert data["fits"] is True and data["gpu_memory_bytes"] == 24 * GIB and data["seq_len"] == 256


def test_cli_errors_say_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--backbone", "qwen9-imaginary", "--gpu", "h100"]) == 2
    assert "give a shipped name" in capsys.readouterr().err
    assert main(["plan", "--backbone", "qwen3.5-0.8b"]) == 2
    assert "give --gpu-memory" in capsys.readouterr().err


def test_memory_strings() -> None:
    assert (
        parse_memory("80GiB") == 80 * GIB
        and parse_memory("141GB") == 141 * 10**9
        and parse_memory("80") == 80 * GIB
    )
    with pytest.raises(PlanError, match="write it like"):
        parse_memory("lots")


def test_micro_batches_keep_to_the_token_budget() -> None:
    assert micro_batches([100, 100, 300, 50, 600, 10], 400) == [[0, 1], [2, 3], [4], [5]]


def test_the_gpu_check_says_what_it_would_run_without_cuda(capsys: pytest.CaptureFixture[str]) -> None:
    from training.bench.gpu_check import main as gpu_check

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: make gpu-check measures instead")
    assert gpu_check([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no CUDA device") and "Plan for qwen3.5-27b" in out
