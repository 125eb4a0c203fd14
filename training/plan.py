"""A memory and speed plan for training a backbone, made before any run and on any machine.

`make_plan` builds the backbone on PyTorch's `meta` device (shapes and dtypes, no weights, no memory:
training/model_size.py), so the plan for Qwen3.5-27B runs on a laptop CPU. It gives:

- parameters: counted from the config by formula (`count_parameters`; a test checks it against the meta
  model exactly), and the trainable ones of the mode (LoRA on the chosen linear projections, or all);
- memory: bf16 weights; for what trains, fp32 master weights, fp32 gradients and Adam's two moments
  (16 bytes a parameter); activations per micro-batch, from the tensors autograd saves during a forward
  pass of the real-width model on the meta device (one traced layer of each kind, scaled to the
  layer count; with gradient checkpointing, each layer's input plus one layer recomputed at a time);
  and a fixed reserve for the CUDA context, cuBLAS workspaces and allocator slack;
- the largest micro-batch (in sequences of `seq_len` tokens) that fits in `gpu_memory`;
- the tokens per second the GPU's dense bf16 FLOP rate allows, for training and for scoring.

Training refuses a configuration whose plan does not fit (`require_fit`). Published configs of the
Qwen3.5 sizes ship in training/configs (configuration only, no weights, their source named inside).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scoring.backbone import LORA_ALL_LINEAR
from training.model_size import (
    FORMULA_MODEL_TYPES,
    count_parameters,
    depth_config,
    heads_parameters,
    layer_activations,
    lora_parameters,
    meta_model,
)

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
GIB = 1024**3
# Dense bf16 tensor-core peak without sparsity, from NVIDIA's data sheets (SXM parts).
GPU_TFLOPS = {"h100": 989.4, "h200": 989.4, "a100": 312.0}
GPU_MEMORY = {"h100": 80 * GIB, "h200": 141 * 10**9, "a100": 80 * GIB}
RESERVE_BYTES = 2 * GIB  # CUDA context, cuBLAS workspaces, allocator fragmentation (an assumption)
OPTIMIZER_BYTES = 16  # per trained parameter: fp32 master weight, fp32 gradient, Adam m and v
DEFAULT_SEQ_LEN = 256  # the scoring path's chunk length (TrainArgs.max_tokens)
DEFAULT_LORA_RANK = 16


class PlanError(ValueError):
    pass


def named_configs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(CONFIGS_DIR.glob("*.json"))}


def load_text_config(spec: str) -> Any:
    """The text-model config of `spec`: a shipped name (`qwen3.5-27b`), a checkpoint directory or a
    config.json path. A multimodal config (Qwen3.5 is published as one) gives its `text_config`."""
    from transformers import AutoConfig

    named = named_configs()
    path = named.get(spec.lower())
    if path is None:
        candidate = Path(spec).expanduser()
        path = candidate / "config.json" if candidate.is_dir() else candidate
    if not path.is_file():
        raise PlanError(
            f"no config at {spec!r}: give a shipped name ({', '.join(named)}), a checkpoint directory or a "
            "config.json"
        )
    data = json.loads(path.read_text())
    data.pop("_source", None)
    if "model_type" not in data:
        raise PlanError(f"{path}: no model_type, not a Hugging Face config")
    config = AutoConfig.for_model(**data)
    text = getattr(config, "text_config", None) or config
    text.use_cache = False
    return text


@dataclass(frozen=True)
class Plan:
    backbone: str
    mode: str
    dtype: str
    seq_len: int
    lora_rank: int
    lora_targets: str
    gradient_checkpointing: bool
    gpu: str
    gpu_memory_bytes: int
    tflops: float
    parameters: int
    trainable_parameters: int
    weight_bytes: int
    optimizer_and_gradient_bytes: int
    activation_bytes_per_sequence: int
    activation_bytes_per_micro_batch: int
    reserve_bytes: int
    free_bytes_for_activations: int
    micro_batch_sequences: int
    micro_batch_tokens: int
    fits: bool
    flops_per_token_training: float
    flops_per_token_scoring: float
    tokens_per_second_ceiling: float
    scoring_tokens_per_second_ceiling: float
    why: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def text(self) -> str:
        g = lambda b: f"{b / GIB:,.1f} GiB"  # noqa: E731
        lines = [
            f"Plan for {self.backbone}, mode {self.mode}, {self.dtype}, sequences of {self.seq_len} tokens"
            + (f", LoRA rank {self.lora_rank} on {self.lora_targets}" if self.mode == "lora" else ""),
            f"  parameters               {self.parameters:,} ({self.parameters / 1e9:.2f} B)",
            f"  trainable parameters     {self.trainable_parameters:,} (heads included)",
            f"  weights ({self.dtype})        {g(self.weight_bytes)}",
            f"  optimizer + gradients    {g(self.optimizer_and_gradient_bytes)} "
            "(fp32 master, grad, Adam m, v)",
            f"  activations / sequence   {g(self.activation_bytes_per_sequence)}"
            + (" (gradient checkpointing)" if self.gradient_checkpointing else ""),
            f"  activations / micro-batch {g(self.activation_bytes_per_micro_batch)}",
            f"  reserve                  {g(self.reserve_bytes)} (CUDA context, workspaces, fragmentation)",
            f"  GPU memory               {g(self.gpu_memory_bytes)} ({self.gpu})",
            f"  largest micro-batch      {self.micro_batch_sequences} sequences = "
            f"{self.micro_batch_tokens:,} tokens",
            f"  fits                     {'yes' if self.fits else 'NO'}: {self.why}",
            f"  FLOP ceiling             {self.tokens_per_second_ceiling:,.0f} training tokens/s, "
            f"{self.scoring_tokens_per_second_ceiling:,.0f} scoring tokens/s at {self.tflops:g} TFLOP/s "
            f"({self.flops_per_token_training / 1e9:.1f} / {self.flops_per_token_scoring / 1e9:.1f} "
            "GFLOP a token)",
        ]
        return "\n".join(lines)


def parse_memory(text: str) -> int:
    """'80GiB', '141GB', '512MiB', '80' (GiB) -> bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(GiB|GB|MiB|MB|TiB|TB)?\s*", text)
    if not match:
        raise PlanError(f"memory {text!r}: write it like 80GiB, 141GB or 512MiB")
    unit = {"GiB": GIB, "GB": 10**9, "MiB": 1024**2, "MB": 10**6, "TiB": 1024**4, "TB": 10**12, None: GIB}
    return int(float(match.group(1)) * unit[match.group(2)])


def _attention_flops_per_token(config: Any, seq_len: int) -> float:
    """Forward FLOPs of attention itself (scores and weighted sum, causal: half the square) and of the
    linear-attention state updates, per token."""
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    flops = 0.0
    for kind in layer_types:
        if kind == "full_attention":
            flops += 2 * 2 * heads * head_dim * seq_len / 2
        else:
            flops += (
                2
                * 2
                * config.linear_num_value_heads
                * config.linear_key_head_dim
                * config.linear_value_head_dim
            )
    return flops


def make_plan(
    backbone: str,
    *,
    mode: str = "lora",
    gpu_memory: int | None = None,
    gpu: str | None = None,
    tflops: float | None = None,
    seq_len: int = DEFAULT_SEQ_LEN,
    lora_rank: int = DEFAULT_LORA_RANK,
    lora_targets: tuple[str, ...] | str = LORA_ALL_LINEAR,
    gradient_checkpointing: bool = True,
    config: Any = None,
) -> Plan:
    if mode not in ("heads", "lora", "full"):
        raise PlanError(f"mode must be heads, lora or full, got {mode!r}")
    if gpu is not None and gpu not in GPU_TFLOPS:
        raise PlanError(f"--gpu must be one of {', '.join(GPU_TFLOPS)} (or give --tflops)")
    if seq_len < 1 or lora_rank < 1:
        raise PlanError("seq_len and lora_rank must be >= 1")
    memory = gpu_memory if gpu_memory is not None else GPU_MEMORY.get(gpu or "", 0)
    if memory <= 0:
        raise PlanError("give --gpu-memory (e.g. 80GiB) or --gpu h100|h200|a100")
    rate = tflops if tflops is not None else GPU_TFLOPS.get(gpu or "h100", GPU_TFLOPS["h100"])
    config = config if config is not None else load_text_config(backbone)
    if config.model_type in FORMULA_MODEL_TYPES:
        parameters = count_parameters(config)
    else:  # other architectures (encoders): counted on the meta-device model itself
        parameters = sum(p.numel() for p in meta_model(config).parameters())
    heads = heads_parameters(config.hidden_size)
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers
    if mode == "lora":
        # One layer of each kind on the meta device is enough: LoRA adds the same to every layer of a kind.
        per_kind = {
            kind: lora_parameters(
                meta_model(depth_config(config, [kind])), rank=lora_rank, targets=lora_targets
            )
            for kind in set(layer_types)
        }
        trainable = sum(per_kind[kind] for kind in layer_types) + heads
    elif mode == "full":
        trainable = parameters + heads
    else:
        trainable = heads
    weight_bytes = 2 * parameters  # bf16
    optimizer = OPTIMIZER_BYTES * trainable
    if mode == "heads":
        # Frozen backbone: chunk vectors are computed without autograd; one layer's working set at a time.
        acts = layer_activations(config, seq_len=seq_len, lora=None)
        per_sequence = max(acts.per_kind.values()) + acts.outside
    else:
        acts = layer_activations(
            config, seq_len=seq_len, lora=(lora_rank, lora_targets) if mode == "lora" else None
        )
        if gradient_checkpointing:
            boundary = seq_len * config.hidden_size * 2  # each layer's bf16 input, kept for the recompute
            per_sequence = acts.outside + len(layer_types) * boundary + max(acts.per_kind.values())
        else:
            per_sequence = acts.outside + sum(acts.per_kind[k] for k in layer_types)
    free = memory - weight_bytes - optimizer - RESERVE_BYTES
    sequences = max(0, free // per_sequence) if per_sequence > 0 else 0
    fits = sequences >= 1
    if fits:
        why = f"{sequences} sequence(s) of {seq_len} tokens per micro-batch"
    elif free <= 0:
        why = (
            f"weights, optimizer state and reserve need {(memory - free) / GIB:,.1f} GiB, more than "
            f"{memory / GIB:,.1f} GiB"
        )
    else:
        why = f"not even one sequence of {seq_len} tokens fits beside weights and optimizer state"
    forward = 2.0 * (parameters - config.vocab_size * config.hidden_size) + _attention_flops_per_token(
        config, seq_len
    )
    passes = {
        "heads": 1.0,
        "lora": 3.0 if gradient_checkpointing else 2.0,
        "full": 4.0 if gradient_checkpointing else 3.0,
    }
    training = forward * passes[mode]
    return Plan(
        backbone=backbone,
        mode=mode,
        dtype="bf16",
        seq_len=seq_len,
        lora_rank=lora_rank,
        lora_targets=lora_targets if isinstance(lora_targets, str) else ",".join(lora_targets),
        gradient_checkpointing=gradient_checkpointing and mode != "heads",
        gpu=gpu or ("custom" if tflops else "h100"),
        gpu_memory_bytes=memory,
        tflops=rate,
        parameters=parameters,
        trainable_parameters=trainable,
        weight_bytes=weight_bytes,
        optimizer_and_gradient_bytes=optimizer,
        activation_bytes_per_sequence=per_sequence,
        activation_bytes_per_micro_batch=int(sequences * per_sequence),
        reserve_bytes=RESERVE_BYTES,
        free_bytes_for_activations=max(0, free),
        micro_batch_sequences=int(sequences),
        micro_batch_tokens=int(sequences * seq_len),
        fits=fits,
        flops_per_token_training=training,
        flops_per_token_scoring=forward,
        tokens_per_second_ceiling=rate * 1e12 / training,
        scoring_tokens_per_second_ceiling=rate * 1e12 / forward,
        why=why,
    )


def require_fit(plan: Plan) -> None:
    """Refuse, with the plan in the message, a training configuration that cannot fit."""
    if not plan.fits:
        raise PlanError(f"this training configuration does not fit the GPU:\n{plan.text()}")


def micro_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Consecutive groups of indices whose lengths sum to at most `budget` (an item longer than the
    budget goes alone): the micro-batches of one optimiser step."""
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, n in enumerate(lengths):
        if current and used + n > budget:
            groups.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        groups.append(current)
    return groups
