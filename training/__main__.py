"""`python -m training bench`: the speed benchmark behind `make bench`;
`python -m training benchmark depseverity|depsign`: accuracy on public data (tuned on val, reported on test);
`python -m training run --config FILE.toml`: the learning loop on JSONL files (see training/run_config.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="raw backbone forward vs full scoring path throughput")
    bench.add_argument("--backbone", default=None, help="package:... or a local checkpoint directory")
    bench.add_argument("--windows", type=int, default=48)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--members", type=int, default=2)
    bench.add_argument("--modes", default="heads,full,lora", help="comma-separated: heads,full,lora")
    bench.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    bench.add_argument("--out", type=Path, default=None, help="also write the report as JSON here")
    public = sub.add_parser(
        "benchmark", help="accuracy on a public dataset vs a TF-IDF + ridge baseline (tuned on val, test)"
    )
    public.add_argument("dataset", choices=("depseverity", "depsign"))
    public.add_argument(
        "--data-dir", type=Path, required=True, help="folder with train.csv, val.csv, test.csv"
    )
    public.add_argument("--out", type=Path, required=True, help="write the JSON report here")
    public.add_argument("--mode", choices=("heads", "full"), default="heads")
    public.add_argument("--epochs", type=int, default=0, help="0 = per-mode default (heads 150, full 2)")
    public.add_argument("--members", type=int, default=2)
    public.add_argument("--limit", type=int, default=0, help="use only the first N rows of each split")
    public.add_argument("--backbone", default=None, help="package:... or a local checkpoint directory")
    loop = sub.add_parser("run", help="the learning loop on JSONL files, described by a TOML config")
    loop.add_argument("--config", type=Path, required=True, help="TOML file (see training/run_config.py)")
    args = parser.parse_args(argv)
    if args.command == "benchmark":
        return public_benchmark(args)
    if args.command == "run":
        return run_loop(args.config)

    from scoring.backbone import DEFAULT_BACKBONE, BackboneNotFound
    from training.bench.speed import BenchArgs
    from training.bench.speed import main as bench_main

    try:
        bench_args = BenchArgs(
            backbone=args.backbone or DEFAULT_BACKBONE,
            windows=args.windows,
            repeats=args.repeats,
            members=args.members,
            modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
            threads=args.threads,
        )
        return bench_main(bench_args, args.out)
    except (ValueError, BackboneNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


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


def public_benchmark(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from scoring.backbone import DEFAULT_BACKBONE, BackboneNotFound
    from training.bench.public import PublicBenchArgs, format_report, run

    bars: list[tqdm] = []  # opened on the first progress report, so data errors print on a clean line

    def progress(stage: str, fraction: float) -> None:
        if not bars:
            bars.append(tqdm(total=100, desc=f"{args.dataset} {args.mode}", unit="%", leave=False))
        bars[0].set_postfix_str(stage)
        bars[0].update(max(0, round(100 * fraction) - bars[0].n))  # "evaluate" restarts at 0: keep the bar

    try:
        bench_args = PublicBenchArgs(
            dataset=args.dataset,
            data_dir=args.data_dir,
            mode=args.mode,
            epochs=args.epochs,
            members=args.members,
            limit=args.limit,
            backbone=args.backbone or DEFAULT_BACKBONE,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)  # fail before the long run, not after it
        report = run(bench_args, progress=progress)
    except (ValueError, BackboneNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot create the folder for {args.out}: {exc}", file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
    try:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        print(f"error: cannot write the report to {args.out}: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
