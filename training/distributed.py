"""LoRA training on several GPUs, in one machine or many: torchrun + PyTorch FSDP (`fully_shard`).

One command, on each machine (here 2 machines of 8 GPUs; on one machine drop the rendezvous options):

    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
        -m training.distributed --config run.toml --out var/member-m0

Every process loads the backbone (bf16 on its GPU) and the same LoRA initialisation; FSDP then shards
each decoder layer, and the embeddings, final norm and item heads together, across all processes
(parameters, gradients and the optimizer state of what trains), gathering a layer's weights only for
its forward and backward. Each optimiser step's windows are shared out between the ranks; each rank's
loss keeps its share of the step's total weight and FSDP's gradient average is undone, so a step
updates the weights exactly as one process would (tests/training/test_distributed.py runs 2 processes
on CPU with gloo and compares with 1). Rank 0 writes the member: the LoRA adapter (peft format), the
item heads and member.json. Then, in one process:

    python -m training.distributed --config run.toml --assemble var/member-m0 var/member-m1

builds the model artifact from those members in [output] store (the lexical member, blend weights,
calibration and metrics as `train_ensemble` does them; `train_ensemble(pretrained_members=...)`), then
evaluates it on the held-out test patients: its manifest's `metrics` are theirs, as in the learning loop.

The data are the ground-truth windows of the run config ([data] ground_truth): held-out test patients
are set aside first as the learning loop does ([loop] test_fraction and split; each member records
them and assembling refuses a member trained with others), the development patients split into
training and early-stopping windows as `train_ensemble` does; [train] gives the TrainArgs (mode must
be lora). Scoring scales differently: one model per Celery worker on the `gpu` queue (docs/deploying.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scoring.types import LabeledWindow
from training.fsdp import init_process_group


def train_member(config_path: Path, out: Path, *, seed_offset: int = 0) -> dict[str, Any]:
    """Train one LoRA member from the run config; rank 0 writes it to `out`. Returns its summary."""
    import torch.distributed as dist
    from safetensors.torch import save_file

    from scoring.backbone import load_backbone
    from scoring.windowing import Chunker, InputView
    from training.args import TrainArgs
    from training.end_to_end import full_trainable_state, train_end_to_end, world
    from training.members import MemberTraining, Targets, band_weights, set_seed
    from training.run_config import ConfigError, read_ground_truth
    from training.splits import split_by_group, split_validation

    device = init_process_group()
    config = tomllib.loads(config_path.read_text())
    base = config_path.parent
    args = TrainArgs(**{**config.get("train", {}), "device": str(device)})
    if args.mode != "lora":
        raise ConfigError('training.distributed trains LoRA members: set [train] mode = "lora"')
    examples, test = held_out_split(read_ground_truth(base / config["data"]["ground_truth"]), config)
    dtype = torch.bfloat16 if device.type == "cuda" else None
    backbone = load_backbone(
        str(base / args.backbone) if not args.backbone.startswith("package:") else args.backbone, dtype=dtype
    )
    view = InputView(roles=args.turn_roles, day_markers=args.day_markers, whole_window=args.whole_window)
    input_manifest = {"max_tokens": args.max_tokens, "input": view.to_dict()}
    chunker = Chunker.for_artifact(backbone.tokenizer, kind=backbone.kind, manifest=input_manifest)
    chunked = chunker.chunk_windows([e.window for e in examples])
    train_idx, val_idx = split_by_group(examples, val_fraction=args.val_fraction, seed=args.seed)
    stop_idx, _ = split_validation(examples, val_idx)
    weights = band_weights(examples) if args.balance_bands else [e.weight for e in examples]
    job = MemberTraining(
        examples=examples,
        targets=Targets(examples, weights),
        train_idx=train_idx,
        val_idx=stop_idx,
        args=args,
        seed=args.seed + 1000 * seed_offset,
        device=device,
        progress=lambda stage, fraction: None,
    )
    set_seed(job.seed)
    heads, module = train_end_to_end(backbone, chunked, job)
    rank, size = world()
    state = full_trainable_state(nn.ModuleDict({"module": module, "heads": heads}))  # a collective
    summary = {
        "windows": len(examples),
        "train": len(train_idx),
        "early_stopping": len(stop_idx),
        "world_size": size,
        "input": view.to_dict(),  # what the member read: the assembled artifact must read the same
        "test_patients": sorted({e.patient for e in test}),  # held out: never trained on
    }
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        from peft.utils import get_peft_model_state_dict

        lora = {k.removeprefix("module."): v for k, v in state.items() if k.startswith("module.")}
        adapter = get_peft_model_state_dict(module, state_dict=lora)
        (out / "adapter").mkdir(exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in adapter.items()},
            str(out / "adapter" / "adapter_model.safetensors"),
        )
        module.peft_config["default"].save_pretrained(str(out / "adapter"))  # type: ignore[index,union-attr]
        head_state = {k.removeprefix("heads."): v for k, v in state.items() if k.startswith("heads.")}
        save_file({k: v.contiguous() for k, v in head_state.items()}, str(out / "heads.safetensors"))
        (out / "member.json").write_text(json.dumps({"mode": "lora", "seed": job.seed, **summary}, indent=2))
    dist.barrier()
    return summary


def held_out_split(
    examples: list[LabeledWindow], config: dict
) -> tuple[list[LabeledWindow], list[LabeledWindow]]:
    """(development, held-out test) windows, by patient, as the learning loop splits them ([loop]
    test_fraction and split): members train on development patients only, and the assembled artifact is
    evaluated on the test patients, so its figures are not on patients it trained on."""
    from training.args import LoopConfig
    from training.run_config import ConfigError
    from training.splits import held_out_test_split, split_kind

    loop = LoopConfig(**{k: v for k, v in config.get("loop", {}).items() if k in ("test_fraction", "split")})
    dev, test = held_out_test_split(
        examples, fraction=loop.test_fraction, kind=split_kind(examples, loop.split)
    )
    if not test or len({examples[i].patient for i in dev}) < 2:
        raise ConfigError("need ground truth from at least 3 patients (development and held-out test)")
    return [examples[i] for i in dev], [examples[i] for i in test]


def assemble(config_path: Path, members: list[Path]) -> Path:
    """The model artifact from members trained by `train_member`, written to the config's [output] store:
    trained and calibrated on the development patients, its `metrics` those of the held-out test
    patients (the calibration patients' kept as `validation_metrics`), as the learning loop records."""
    from scoring.artifact import read_manifest, write_manifest
    from training.args import TrainArgs
    from training.evaluation import evaluate
    from training.finetune import train_ensemble
    from training.run_config import ConfigError, read_ground_truth

    config = tomllib.loads(config_path.read_text())
    base = config_path.parent
    train = dict(config.get("train", {}))
    if "backbone" in train and not str(train["backbone"]).startswith("package:"):
        train["backbone"] = str(base / train["backbone"])
    args = TrainArgs(**{**train, "members": len(members)})
    examples, test = held_out_split(read_ground_truth(base / config["data"]["ground_truth"]), config)
    test_patients = sorted({e.patient for e in test})
    for member in members:
        info = json.loads((member / "member.json").read_text()) if (member / "member.json").exists() else {}
        if info.get("test_patients") != test_patients:
            raise ConfigError(
                f"{member} was trained with other held-out test patients than this config gives (or before "
                "members recorded them): train it again with this config"
            )
    store = base / config.get("output", {}).get("store", "var/models")
    artifact = train_ensemble(examples, args, store, pretrained_members=members).artifact_dir
    metrics, _ = evaluate(artifact, test)
    metrics["evaluated_on"] = f"held-out test patients ({len(test_patients)}), never trained on"
    manifest = read_manifest(artifact)
    manifest["validation_metrics"] = manifest["metrics"]
    manifest["metrics"] = metrics
    manifest["test_set"] = {"windows": [e.window.id for e in test], "patients": test_patients}
    manifest["trained_patients"] = sorted({e.patient for e in examples})
    write_manifest(artifact, manifest)
    return artifact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="torchrun ... -m training.distributed", description=__doc__)
    parser.add_argument(
        "--config", type=Path, required=True, help="the run config (TOML, training/run_config.py)"
    )
    parser.add_argument("--out", type=Path, default=None, help="directory rank 0 writes the member to")
    parser.add_argument("--member", type=int, default=0, help="member number (its seed offset)")
    parser.add_argument(
        "--assemble",
        type=Path,
        nargs="+",
        default=None,
        help="member directories: build the artifact from them",
    )
    args = parser.parse_args(argv)
    import torch.distributed as dist

    from training.run_config import ConfigError

    try:
        if args.assemble:
            print(assemble(args.config, args.assemble))
            return 0
        if args.out is None:
            raise ConfigError("give --out DIR (where the trained member goes) or --assemble DIR ...")
        train_member(args.config, args.out, seed_offset=args.member)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
