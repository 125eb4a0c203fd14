"""Speed benchmark (`make bench`): raw backbone forward vs the full scoring path, in one run.

Raw forward: the backbone alone on full-length chunks (every token real), in token-budgeted batches.
Full path: `Ensemble.predict` on 14-day windows of the synthetic clinic, one window per patient so no
chunk repeats: chunking, tokenisation, padding, every member's backbone pass, heads, calibration.
The goal: full-path tokens/s >= 80% of raw tokens/s divided by the number of ensemble members.
Beside it, the self-harm detector on the same windows: CPU ms per window and its share of each model's
CPU time per window (goal: under 10%).
Reported as medians of `repeats` runs; the embedding cache is cleared before each full-path run.
At int8 (scoring/quantize.py, SCORING_PRECISION): the raw forward and the heads ensemble again with the
backbone's Linear layers dynamically quantised, beside fp32 (goal: raw forward >= 2x fp32 on CPU).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import torch

from scoring.backbone import DEFAULT_BACKBONE, Backbone, load_backbone
from scoring.ensemble import Ensemble
from scoring.quantize import quantize_int8
from scoring.types import Conversation, LabeledWindow, Window
from scoring.windowing import Chunker
from training.args import TrainArgs
from training.finetune import train_ensemble
from training.synthetic.clinic import SyntheticPatient, generate_clinic, latent_items

END = datetime(2026, 1, 1, tzinfo=UTC)


MODES = ("heads", "full", "lora")
GOAL_INT8_SPEEDUP = 2.0  # int8 raw forward / fp32 raw forward, on CPU


@dataclass
class BenchArgs:
    backbone: str = field(
        default=DEFAULT_BACKBONE, metadata={"help": "package:... or a local checkpoint dir"}
    )
    windows: int = field(default=48, metadata={"help": "14-day windows scored per run"})
    repeats: int = field(default=3, metadata={"help": "runs per measurement; the median is reported"})
    members: int = field(default=2, metadata={"help": "ensemble members of the full path"})
    modes: tuple[str, ...] = field(default=MODES, metadata={"help": "comma-separated: heads,full,lora"})
    max_tokens: int = field(default=256, metadata={"help": "tokens per chunk"})
    batch_tokens: int = field(default=16384, metadata={"help": "tokens per backbone call"})
    threads: int = field(default=0, metadata={"help": "torch threads (0 = torch's default)"})
    int8: bool = field(default=True, metadata={"help": "also measure int8 (raw forward, heads ensemble)"})

    def __post_init__(self) -> None:
        if self.windows < 2 or self.repeats < 1 or self.members < 1:
            raise ValueError("windows >= 2, repeats >= 1, members >= 1")
        self.modes = tuple(self.modes)
        unknown = sorted(set(self.modes) - set(MODES))
        if unknown or not self.modes:
            raise ValueError(f"modes: choose from {','.join(MODES)} (got {','.join(self.modes) or 'none'})")


def last_window(patient: SyntheticPatient, end: datetime) -> Window:
    start = end - timedelta(days=14)
    conversations = []
    for session in patient.sessions:
        turns = tuple(t for t in session.turns if t.sent_at is not None and start <= t.sent_at <= end)
        if turns:
            conversations.append(Conversation(id=session.external_id, turns=turns))
    return Window(id=patient.external_id, conversations=tuple(conversations), start=start, end=end)


def bench_windows(n: int) -> list[tuple[Window, tuple[int, ...]]]:
    clinic = generate_clinic(n_patients=n, weeks=3, end=END, seed=101)
    return [(last_window(p, END), latent_items(p, END)) for p in clinic]


def raw_forward(
    backbone: Backbone, windows: list[Window], args: BenchArgs, *, int8: bool = False
) -> tuple[float, int]:
    """Median tokens/s of the backbone alone on full-length rows cut from the same text; `int8`: its
    Linear layers dynamically quantised (a copy)."""
    chunker = Chunker(backbone.tokenizer, max_tokens=args.max_tokens, kind=backbone.kind)
    stream = [t for cs in chunker.chunk_windows(windows) for c in cs for t in c.token_ids]
    rows = len(stream) // args.max_tokens
    ids = torch.tensor(stream[: rows * args.max_tokens]).view(rows, args.max_tokens)  # (R, T)
    per_batch = max(1, args.batch_tokens // args.max_tokens)
    module = quantize_int8(backbone.module.eval()) if int8 else backbone.module.eval()
    timings = []
    with torch.inference_mode():
        backbone.pool(module, ids[:per_batch], torch.ones_like(ids[:per_batch]))  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            for batch in ids.split(per_batch):
                backbone.pool(module, batch, torch.ones_like(batch))
            timings.append(time.perf_counter() - start)
    return rows * args.max_tokens / statistics.median(timings), rows * args.max_tokens


def full_path(artifact: Path, windows: list[Window], args: BenchArgs, precision: str = "fp32") -> dict:
    ensemble = Ensemble.load(artifact, device="cpu", precision=precision)
    ensemble.predict(windows[:2], batch_tokens=args.batch_tokens)  # warm-up
    timings, cpu, tokens = [], [], 0
    for _ in range(args.repeats):
        ensemble.cache.clear()
        start, start_cpu = time.perf_counter(), time.process_time()
        scores = ensemble.predict(windows, batch_tokens=args.batch_tokens)
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        tokens = sum(s.n_tokens for s in scores)
    seconds = statistics.median(timings)
    passes = len({m.variant for m in ensemble.members})
    text_seconds = []  # the text members alone (the lexical member: n-gram counting + a sparse product)
    for _ in range(args.repeats if ensemble.text_members else 0):
        start = time.perf_counter()
        for _, member in ensemble.text_members:
            member.predict_items(windows)
        text_seconds.append(time.perf_counter() - start)
    return {
        "precision": ensemble.precision,
        "text_members": len(ensemble.text_members),
        "text_members_ms_per_window": 1000 * statistics.median(text_seconds) / len(windows)
        if text_seconds
        else None,
        "members": len(ensemble.members),
        "backbone_passes": passes,
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "windows_per_s": len(windows) / seconds,
        "cpu_ms_per_window": 1000 * statistics.median(cpu) / len(windows),
    }


def self_harm_detector(windows: list[Window], repeats: int) -> dict:
    """The self-harm detector (scoring/self_harm) on the same windows, median CPU and wall ms per window.
    Its sentence model runs only on the sentences its lexicon selects; `embedded` counts them."""
    from scoring.self_harm import SelfHarmDetector, window_sentences

    detector = SelfHarmDetector.default()
    detector.detect(windows[0])  # warm-up: loads the lexicon's patterns and the sentence encoder
    cpu, wall = [], []
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        for window in windows:
            detector.detect(window)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    sentences = [pair for w in windows for pair in window_sentences(w)[1]]
    embedded = sum(detector.reads(sentences))
    return {
        "version": detector.version,
        "cpu_ms_per_window": 1000 * statistics.median(cpu) / len(windows),
        "wall_ms_per_window": 1000 * statistics.median(wall) / len(windows),
        "sentences": len(sentences),
        "embedded": embedded,
    }


def demo_clinic_generation(repeats: int) -> dict:
    """The demo clinic generator (`make demo` runs it): 60 patients x 12 weeks, median CPU seconds."""
    cpu = []
    for seed in range(repeats):
        start = time.process_time()
        clinic = generate_clinic(n_patients=60, weeks=12, end=END, seed=seed)
        cpu.append(time.process_time() - start)
    seconds = statistics.median(cpu)
    sessions = sum(len(p.sessions) for p in clinic)
    return {
        "patients": 60,
        "weeks": 12,
        "sessions": sessions,
        "cpu_s": seconds,
        "cpu_ms_per_session": 1000 * seconds / sessions,
    }


def run(args: BenchArgs) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    data = bench_windows(args.windows)
    windows = [w for w, _ in data]
    backbone = load_backbone(args.backbone)
    raw_tps, raw_tokens = raw_forward(backbone, windows, args)
    report: dict = {
        "backbone": args.backbone,
        "threads": torch.get_num_threads(),
        "windows": len(windows),
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "raw_forward": {"tokens": raw_tokens, "tokens_per_s": raw_tps},
        "int8": None,
        "ensembles": {},
        "demo_clinic": demo_clinic_generation(args.repeats),
        "self_harm": self_harm_detector(windows, args.repeats),
    }
    # A small labelled set so each ensemble is a real trained artifact (speed does not depend on fit).
    train = [
        LabeledWindow(window=w, total=float(sum(items)), items=tuple(float(v) for v in items), group=w.id)
        for w, items in data[:8]
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            train_args = TrainArgs(
                backbone=args.backbone,
                mode=mode,
                members=args.members,
                epochs=1,
                patience=1,
                max_tokens=args.max_tokens,
                max_chunks_per_window=4,
                batch_size=4,
                val_fraction=0.25,
            )
            result = train_ensemble(train, train_args, Path(tmp), backbone=backbone)
            stats = full_path(result.artifact_dir, windows, args)
            stats["ratio_vs_raw"] = stats["tokens_per_s"] / raw_tps
            stats["ratio_vs_raw_per_member"] = stats["tokens_per_s"] / (raw_tps / args.members)
            stats["goal_met"] = stats["ratio_vs_raw_per_member"] >= 0.8
            # The detector runs beside every score: its CPU time as a share of this model's (goal < 10%).
            stats["self_harm_cpu_ratio"] = (
                report["self_harm"]["cpu_ms_per_window"] / stats["cpu_ms_per_window"]
            )
            report["ensembles"][mode] = stats
            if mode == "heads" and args.int8:
                report["int8"] = int8_report(backbone, windows, args, result.artifact_dir, raw_tps, stats)
    return report


def int8_report(
    backbone: Backbone, windows: list[Window], args: BenchArgs, artifact: Path, raw_fp32: float, heads: dict
) -> dict:
    """The raw forward and the heads ensemble at int8, in the same run as their fp32 figures. On a shared
    machine the load drifts between the first fp32 measurement and this one: fp32 is timed again right
    before int8, and the speed-up is against the median of the two fp32 figures."""
    raw_fp32_again, _ = raw_forward(backbone, windows, args)
    raw_int8, _ = raw_forward(backbone, windows, args, int8=True)
    full = full_path(artifact, windows, args, precision="int8")
    fp32 = statistics.median([raw_fp32, raw_fp32_again])
    return {
        "raw_forward_fp32_again_tokens_per_s": raw_fp32_again,
        "raw_forward_tokens_per_s": raw_int8,
        "raw_speedup": raw_int8 / fp32,
        "heads": full,
        "heads_speedup": full["tokens_per_s"] / heads["tokens_per_s"],
        "goal_raw_speedup": GOAL_INT8_SPEEDUP,
        "goal_met": raw_int8 / fp32 >= GOAL_INT8_SPEEDUP,
    }


def format_report(report: dict) -> str:
    lines = [
        f"backbone {report['backbone']}, {report['threads']} threads, {report['windows']} windows, "
        f"chunks of {report['max_tokens']} tokens, median of {report['repeats']} runs",
        f"raw backbone forward: {report['raw_forward']['tokens_per_s']:,.0f} tokens/s",
        "",
        f"{'ensemble':<10}{'members':>8}{'passes':>8}{'tokens/s':>11}{'windows/s':>11}"
        f"{'vs raw':>8}{'vs raw/N':>10}  goal (>= 0.80 of raw/N)",
    ]
    for mode, s in report["ensembles"].items():
        lines.append(
            f"{mode:<10}{s['members']:>8}{s['backbone_passes']:>8}{s['tokens_per_s']:>11,.0f}"
            f"{s['windows_per_s']:>11.2f}{s['ratio_vs_raw']:>8.2f}{s['ratio_vs_raw_per_member']:>10.2f}  "
            f"{'met' if s['goal_met'] else 'NOT met'}"
        )
    for mode, s in report["ensembles"].items():
        if s.get("text_members_ms_per_window") is not None:
            lines.append(
                f"{mode}: of which the lexical member {s['text_members_ms_per_window']:.2f} ms/window "
                f"({s['text_members_ms_per_window'] * s['windows_per_s'] / 1000:.0%} of the scoring time)"
            )
    q = report.get("int8")
    if q:
        lines.append(
            f"\nint8 (Linear layers dynamically quantised, CPU): raw forward "
            f"{q['raw_forward_tokens_per_s']:,.0f} "
            f"tokens/s = {q['raw_speedup']:.2f}x fp32 (goal >= {q['goal_raw_speedup']:g}x: "
            f"{'met' if q['goal_met'] else 'NOT met'}); heads ensemble {q['heads']['tokens_per_s']:,.0f} "
            f"tokens/s = {q['heads_speedup']:.2f}x fp32"
        )
    harm = report["self_harm"]
    lines.append(
        f"\nself-harm detector {harm['version']}: {harm['cpu_ms_per_window']:.2f} CPU ms/window "
        f"({harm['wall_ms_per_window']:.2f} ms wall; {harm['embedded']} of {harm['sentences']} patient "
        "sentences embedded)"
    )
    for mode, s in report["ensembles"].items():
        lines.append(
            f"  vs the {mode} model's {s['cpu_ms_per_window']:.1f} CPU ms/window: "
            f"{s['self_harm_cpu_ratio']:.1%} "
            f"(goal < 10%: {'met' if s['self_harm_cpu_ratio'] < 0.1 else 'NOT met'})"
        )
    clinic = report["demo_clinic"]
    lines.append(
        f"\ndemo clinic generator: {clinic['patients']} patients x {clinic['weeks']} weeks, "
        f"{clinic['sessions']} sessions in {clinic['cpu_s']:.2f} CPU s "
        f"({clinic['cpu_ms_per_session']:.2f} CPU ms/session)"
    )
    return "\n".join(lines)


def main(args: BenchArgs, out: Path | None) -> int:
    report = run(args)
    print(format_report(report))
    if out:
        out.write_text(json.dumps(report, indent=2))
    return 0
