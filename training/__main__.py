"""`python -m training bench`: the speed benchmark behind `make bench`."""

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
    args = parser.parse_args(argv)

    from scoring.backbone import DEFAULT_BACKBONE, BackboneNotFound
    from training.benchmarks import BenchArgs
    from training.benchmarks import main as bench_main

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


if __name__ == "__main__":
    sys.exit(main())
