"""`python -m training bench`: the speed benchmark behind `make bench`;
`python -m training benchmark depseverity|depsign`: accuracy on public data (tuned on val, reported on test);
`python -m training benchmark cross-source`: trained on each source, ranked on the others (and in-domain);
`python -m training benchmark self-harm`: the self-harm detector on cssrs test and the hard cases;
`python -m training benchmark loop --patients 30,100,300`: the learning loop's decisions at a clinic's size;
`python -m training self-harm`: train the self-harm detector's sentence model (scoring/data/);
`python -m training run --config FILE.toml`: the learning loop on JSONL files (see training/run_config.py);
`python -m training plan --backbone qwen3.5-27b --mode lora --gpu-memory 80GiB`: memory and speed plan.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    from scoring.cli_args import add_dataclass_arguments, dataclass_from_options
    from training.bench import cross_source, loop_report, public
    from training.bench import loop as loop_bench_module
    from training.bench.speed import BenchArgs

    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="raw backbone forward vs full scoring path throughput")
    add_dataclass_arguments(bench, BenchArgs)
    bench.add_argument("--out", type=Path, default=None, help="also write the report as JSON here")
    benchmark = sub.add_parser("benchmark", help="accuracy on public data beside a TF-IDF + ridge baseline")
    datasets = benchmark.add_subparsers(dest="dataset", required=True)
    for name in public.DATASETS:
        one = datasets.add_parser(name, help=f"{name}: trained on train, tuned on val, reported on test")
        add_dataclass_arguments(one, public.PublicBenchArgs, exclude=("dataset",))
        one.add_argument("--out", type=Path, required=True, help="write the JSON report here")
    cross = datasets.add_parser(
        "cross-source", help="trained on DepSeverity and on DepSign, ranked on the other sources and DR"
    )
    add_dataclass_arguments(cross, cross_source.CrossSourceArgs)
    cross.add_argument("--out", type=Path, required=True, help="write the JSON report here")
    add_self_harm_parsers(sub, datasets)
    loop_bench = datasets.add_parser(
        "loop",
        help="the learning loop's promotion, gate and intervals on simulated clinics with known truth",
    )
    add_dataclass_arguments(loop_bench, loop_bench_module.LoopBenchArgs)
    loop_bench.add_argument("--out", type=Path, required=True, help="write the JSON report here")
    loop = sub.add_parser("run", help="the learning loop on JSONL files, described by a TOML config")
    loop.add_argument("--config", type=Path, required=True, help="TOML file (see training/run_config.py)")
    add_plan_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_loop(args.config)
    if args.command == "plan":
        return plan(args)
    if args.command == "self-harm" or getattr(args, "dataset", None) == "self-harm":
        return self_harm(args)

    from scoring.backbone import BackboneNotFound

    try:
        if args.command == "benchmark" and args.dataset == "loop":
            loop_args = dataclass_from_options(loop_bench_module.LoopBenchArgs, args)
            return benchmark_to_file(
                lambda progress: loop_bench_module.run(loop_args, progress=progress),
                loop_report.format_report,
                "learning loop",
                args.out,
            )
        if args.command == "benchmark" and args.dataset == "cross-source":
            cross_args = dataclass_from_options(cross_source.CrossSourceArgs, args)
            return benchmark_to_file(
                lambda progress: cross_source.run(cross_args, progress=progress),
                cross_source.format_report,
                "cross-source",
                args.out,
            )
        if args.command == "benchmark":
            public_args = dataclass_from_options(public.PublicBenchArgs, args)
            return benchmark_to_file(
                lambda progress: public.run(public_args, progress=progress),
                public.format_report,
                f"{public_args.dataset} {public_args.mode}",
                args.out,
            )
        from training.bench.speed import main as bench_main

        return bench_main(dataclass_from_options(BenchArgs, args), args.out)
    except (ValueError, BackboneNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def add_self_harm_parsers(sub: Any, datasets: Any) -> None:
    from scoring.cli_args import add_dataclass_arguments
    from training.bench.self_harm import SelfHarmBenchArgs
    from training.self_harm import SelfHarmTrainArgs

    bench = datasets.add_parser(
        "self-harm",
        help="self-harm detector: cssrs test AUC beside TF-IDF + LR, and the hard-case conversations",
    )
    add_dataclass_arguments(bench, SelfHarmBenchArgs)
    bench.add_argument(
        "--out", type=Path, default=Path("var/self-harm.json"), help="write the JSON report here"
    )
    fit = sub.add_parser(
        "self-harm",
        help="train the self-harm detector's sentence model on the written sentences (and cssrs train)",
    )
    add_dataclass_arguments(fit, SelfHarmTrainArgs)


def self_harm(args: argparse.Namespace) -> int:
    """`self-harm` (train the detector's sentence model) and `benchmark self-harm`."""
    from scoring.backbone import BackboneNotFound
    from scoring.cli_args import dataclass_from_options
    from training.bench import self_harm as bench
    from training.self_harm import SelfHarmTrainArgs, train

    if args.command == "benchmark":
        bench_args = dataclass_from_options(bench.SelfHarmBenchArgs, args)
        return benchmark_to_file(
            lambda progress: bench.run(bench_args, progress=progress),
            bench.format_report,
            "self-harm",
            args.out,
        )
    try:
        train_args = dataclass_from_options(SelfHarmTrainArgs, args)
        config = train(train_args)
    except (ValueError, BackboneNotFound, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chosen = config["training"]["chosen"]
    print(
        f"wrote {train_args.out} ({config['version']}, encoder at {config['head']['precision']}): "
        f"sentence-model weight {config['head']['weight']}, threshold {config['threshold']}; development "
        f"cases recall {chosen['dev']['recall']:.3f}, precision {chosen['dev']['precision']:.3f}; cssrs val "
        f"AUC {chosen['cssrs_val_auc']:.3f}"
    )
    return 0


def add_plan_parser(sub: Any) -> None:
    from training.plan import DEFAULT_LORA_RANK, DEFAULT_SEQ_LEN, GPU_TFLOPS, named_configs

    plan = sub.add_parser(
        "plan",
        help="memory and speed plan of a training configuration, built on the meta device (no weights)",
        description="Builds the backbone on PyTorch's meta device (no weights, any machine) and prints its "
        "parameters, trainable parameters, memory (bf16 weights, fp32 optimizer state, activations per "
        "micro-batch), the largest micro-batch that fits and the tokens/s the GPU's FLOP rate allows.",
    )
    plan.add_argument(
        "--backbone",
        required=True,
        help=f"a shipped config ({', '.join(named_configs())}), a checkpoint directory or a config.json",
    )
    plan.add_argument("--mode", default="lora", choices=("heads", "lora", "full"), help="default: lora")
    plan.add_argument("--gpu-memory", default=None, help="e.g. 80GiB, 141GB (default: the --gpu's memory)")
    plan.add_argument(
        "--gpu", default=None, choices=sorted(GPU_TFLOPS), help="its dense bf16 TFLOP/s and memory"
    )
    plan.add_argument("--tflops", type=float, default=None, help="dense bf16 TFLOP/s, instead of --gpu")
    plan.add_argument(
        "--seq-len",
        type=int,
        default=DEFAULT_SEQ_LEN,
        help=f"tokens per sequence (default {DEFAULT_SEQ_LEN}: the scoring path's chunk length)",
    )
    plan.add_argument("--lora-rank", type=int, default=DEFAULT_LORA_RANK, help=f"default {DEFAULT_LORA_RANK}")
    plan.add_argument(
        "--lora-targets", default="all-linear", help="all-linear (default) or comma-separated module names"
    )
    plan.add_argument(
        "--no-gradient-checkpointing", action="store_true", help="plan without activation checkpointing"
    )
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")


def plan(args: argparse.Namespace) -> int:
    from training.plan import PlanError, make_plan, parse_memory

    try:
        targets = (
            args.lora_targets if args.lora_targets == "all-linear" else tuple(args.lora_targets.split(","))
        )
        result = make_plan(
            args.backbone,
            mode=args.mode,
            gpu_memory=parse_memory(args.gpu_memory) if args.gpu_memory else None,
            gpu=args.gpu,
            tflops=args.tflops,
            seq_len=args.seq_len,
            lora_rank=args.lora_rank,
            lora_targets=targets,
            gradient_checkpointing=not args.no_gradient_checkpointing,
        )
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.to_json() if args.json else result.text())
    return 0


def run_loop(config: Path) -> int:
    import json

    from scoring.backbone import BackboneNotFound
    from training.run_config import run_from_config

    try:
        result, report = run_from_config(config)
    except (ValueError, BackboneNotFound) as exc:  # ConfigError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {k: report[k] for k in ("artifact", "version", "test_metrics", "labeling")}, indent=2, default=str
        )
    )
    print(f"report: {result.train.artifact_dir / 'run_report.json'}")
    return 0


def benchmark_to_file(
    run: Callable[[Callable[[str, float], None]], dict],
    format_report: Callable[[dict], str],
    desc: str,
    out: Path,
) -> int:
    """Run a benchmark with a progress bar, write its JSON report to `out`, print its table."""
    import json

    from tqdm import tqdm

    from scoring.backbone import BackboneNotFound

    bars: list[tqdm] = []  # opened on the first progress report, so data errors print on a clean line

    def progress(stage: str, fraction: float) -> None:
        if not bars:
            bars.append(tqdm(total=100, desc=desc, unit="%", leave=False))
        bars[0].set_postfix_str(stage)
        bars[0].update(max(0, round(100 * fraction) - bars[0].n))  # "evaluate" restarts at 0: keep the bar

    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # fail before the long run, not after it
        report = run(progress)
    except (ValueError, BackboneNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot create the folder for {out}: {exc}", file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
    try:
        out.write_text(json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        print(f"error: cannot write the report to {out}: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
