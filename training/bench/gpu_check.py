"""`make gpu-check`: the study's backbone at its real size on one GPU, compared with the memory plan.

Builds a randomly initialised Qwen3.5-27B text model of the published shape (training/configs) directly
on the GPU in bf16 (nothing is downloaded), then measures:
- scoring: tokens/s of no-grad forwards (use_cache off) over windows of realistic chunk lengths, batched
  by a token budget, and that rate as a share of the FLOP ceiling (goal: >= 50%);
- training: a few LoRA steps (all linear projections, rank 16, gradient checkpointing, the plan's
  micro-batch): tokens/s and peak memory beside what the plan predicted.
Writes var/gpu_check.json. On a machine without CUDA it prints what it would run and exits 0.
Runs with the torch already installed on a GPU host and the repository on PYTHONPATH; no network.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

BACKBONE = "qwen3.5-27b"
MEASURE_SECONDS = 60.0  # of scoring forwards, after a warm-up


def _chunk_lengths(n: int, seq_len: int, seed: int = 0) -> list[int]:
    """Chunk lengths of real windows: most chunks are full (long turns, several turns packed), the last
    chunk of a window is shorter (uniform), about one in four."""
    rng = random.Random(seed)
    return [seq_len if rng.random() < 0.75 else rng.randint(16, seq_len) for _ in range(n)]


def scoring_tokens_per_second(model: Any, *, seq_len: int, batch_tokens: int, seconds: float) -> dict:
    import torch

    lengths = sorted(_chunk_lengths(4096, seq_len), reverse=True)  # length-sorted, as scoring batches
    batches: list[list[int]] = []
    current: list[int] = []
    for n in lengths:
        if current and (len(current) + 1) * current[0] > batch_tokens:
            batches.append(current)
            current = []
        current.append(n)
    batches.append(current)
    device = next(model.parameters()).device
    model.eval()
    tokens = done = 0
    start = None
    with torch.no_grad():
        while True:
            for batch in batches:
                width = batch[0]
                ids = torch.randint(0, 1000, (len(batch), width), device=device)
                mask = torch.zeros((len(batch), width), dtype=torch.long, device=device)
                for row, n in enumerate(batch):
                    mask[row, :n] = 1
                model(input_ids=ids, attention_mask=mask, use_cache=False)
                done += 1
                if done == 3:  # warm-up over: kernels compiled and autotuned
                    torch.cuda.synchronize()
                    start = time.perf_counter()
                elif start is not None:
                    tokens += sum(batch)
                    if time.perf_counter() - start > seconds:
                        torch.cuda.synchronize()
                        elapsed = time.perf_counter() - start
                        return {
                            "tokens": tokens,
                            "seconds": round(elapsed, 2),
                            "tokens_per_second": tokens / elapsed,
                        }


def lora_steps(model: Any, *, seq_len: int, micro_batch: int, steps: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    from training.end_to_end import enable_checkpointing

    enable_checkpointing(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    device = next(model.parameters()).device
    torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        ids = torch.randint(0, 1000, (micro_batch, seq_len), device=device)
        torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            hidden = model(input_ids=ids, use_cache=False).last_hidden_state
        hidden[:, -1].float().pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    measured = times[1:] or times  # the first step compiles kernels
    per_step = sorted(measured)[len(measured) // 2]
    return {
        "steps": steps,
        "micro_batch_sequences": micro_batch,
        "median_step_seconds": round(per_step, 3),
        "tokens_per_second": micro_batch * seq_len / per_step,
        "peak_memory_bytes": torch.cuda.max_memory_allocated(device),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.bench.gpu_check", description=__doc__)
    parser.add_argument("--gpu", default=None, help="h100 | h200 | a100 (FLOP rate); default: from the name")
    parser.add_argument("--seq-len", type=int, default=256, help="tokens per chunk (the scoring path's)")
    parser.add_argument("--batch-tokens", type=int, default=65536, help="tokens per scoring forward")
    parser.add_argument("--steps", type=int, default=4, help="LoRA training steps")
    parser.add_argument("--out", type=Path, default=Path("var/gpu_check.json"))
    args = parser.parse_args(argv)

    import torch

    from training.plan import GPU_TFLOPS, load_text_config, make_plan

    if not torch.cuda.is_available():
        plan = make_plan(BACKBONE, mode="lora", gpu=args.gpu or "h100", seq_len=args.seq_len)
        print(
            f"no CUDA device: nothing measured. On a GPU this builds a random {BACKBONE} text model "
            f"({plan.parameters / 1e9:.1f} B parameters) in bf16 on the device, measures scoring tokens/s "
            f"over {args.seq_len}-token chunks in {args.batch_tokens}-token batches and {args.steps} LoRA "
            f"steps, and compares them with the plan:\n{plan.text()}"
        )
        return 0
    device = torch.device("cuda")
    props = torch.cuda.get_device_properties(device)
    name = props.name.lower()
    gpu = args.gpu or next((g for g in GPU_TFLOPS if g in name), "h100")
    plan = make_plan(BACKBONE, mode="lora", gpu=gpu, gpu_memory=props.total_memory, seq_len=args.seq_len)
    config = load_text_config(BACKBONE)
    from transformers import AutoModel

    from scoring.backbone import linear_attention_path

    t = time.perf_counter()
    with torch.device(device):
        model = AutoModel.from_config(config, dtype=torch.bfloat16)
    build_seconds = time.perf_counter() - t
    scoring = scoring_tokens_per_second(
        model, seq_len=args.seq_len, batch_tokens=args.batch_tokens, seconds=MEASURE_SECONDS
    )
    scoring["share_of_flop_ceiling"] = scoring["tokens_per_second"] / plan.scoring_tokens_per_second_ceiling
    micro = max(1, min(plan.micro_batch_sequences, 64))
    training = lora_steps(model, seq_len=args.seq_len, micro_batch=micro, steps=args.steps)
    predicted = (
        plan.weight_bytes + plan.optimizer_and_gradient_bytes + micro * plan.activation_bytes_per_sequence
    )
    training["predicted_peak_memory_bytes"] = predicted
    training["share_of_flop_ceiling"] = training["tokens_per_second"] / plan.tokens_per_second_ceiling
    report = {
        "device": props.name,
        "memory_bytes": props.total_memory,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "linear_attention": linear_attention_path(config),
        "build_seconds": round(build_seconds, 1),
        "plan": json.loads(plan.to_json()),
        "scoring": scoring,
        "lora_training": training,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
