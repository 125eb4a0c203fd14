"""A model version's card as an admin reads it: a few plain sections, summary first (what it was trained
on, how it did on held-out patients, item-9 validation, members and blend), built from the artifact's
manifest and metrics. The raw manifest stays one link away (ModelVersionAdmin's manifest view); no key
of it (`auc_by_threshold.10`, `blend.weights.m0`) is shown here. Presentation only: no writes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from monitor_site.modelops.models import ModelVersion
from scoring.phq9 import band_by_key

MEMBER_MODES = {
    "heads": "item heads on a frozen backbone",
    "lora": "LoRA adapters on the backbone",
    "full": "the whole backbone fine-tuned",
    "lexical": "word and character n-grams (TF-IDF + ridge)",
}
LABEL_SOURCES = {
    "ground_truth": "patients' own questionnaires",
    "pseudo": "Claude's labels of conversations",
    "clinician": "clinicians' reviews of scores",
}


@dataclass
class CardSection:
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


def figure(value: Any, digits: int = 2) -> str:
    """A number in words an admin reads: "—" when the data could not say, whole numbers as they are."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _with_interval(value: Any, ci: dict, key: str, digits: int = 2) -> str:
    bounds = ci.get(key) if isinstance(ci, dict) else None
    if not bounds or value is None:
        return figure(value, digits)
    return f"{figure(value, digits)} (95% interval {bounds[0]:.{digits}f}–{bounds[1]:.{digits}f})"


def _share(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.0f}%"


def _sources(names: list[str]) -> str:
    return ", ".join(LABEL_SOURCES.get(n, n.replace("_", " ")) for n in names) or "—"


def _trained_on(manifest: dict) -> CardSection:
    data = manifest.get("training_data") or {}
    backbone = manifest.get("backbone") or {}
    args = manifest.get("training_args") or {}
    labeling = manifest.get("labeling") or {}
    rows = [
        ("Windows (14 days of conversation each)", figure(data.get("windows"))),
        ("Patients", figure(data.get("patients"))),
        ("Labels from", _sources(list(data.get("sources") or []))),
        ("Windows with all nine items labelled", figure(data.get("with_items"))),
        ("Labelled by Claude in this run", figure(labeling.get("labelled"))),
        ("Backbone", str(backbone.get("id") or "—")),
        ("Training mode", MEMBER_MODES.get(str(args.get("mode")), str(args.get("mode") or "—"))),
        ("Trained", str(manifest.get("created_at") or "—")[:16].replace("T", " ") + " UTC"),
        ("Code version", str(manifest.get("code_version") or "—")),
    ]
    return CardSection("What it was trained on", rows)


def _held_out(metrics: dict, test_set: dict) -> CardSection:
    if not metrics.get("n"):
        return CardSection("How it did on held-out patients", note="Not evaluated on held-out patients.")
    ci = metrics.get("ci") or {}
    bands = metrics.get("band_recall") or {}
    band_text = ", ".join(
        f"{band_by_key(key).label.lower()} {_share(value)}"
        for key, value in bands.items()
        if value is not None
    )
    rows = [
        ("Evaluated on", str(metrics.get("evaluated_on") or "—")),
        (
            "Patients / windows",
            f"{figure(len(test_set.get('patients') or []) or ci.get('patients'))} / "
            f"{figure(metrics.get('n'))}",
        ),
        ("Mean absolute error (PHQ-9 points)", _with_interval(metrics.get("mae"), ci, "mae")),
        ("Root mean squared error", _with_interval(metrics.get("rmse"), ci, "rmse")),
        (
            "Correlation with the questionnaires (r)",
            _with_interval(metrics.get("pearson_r"), ci, "pearson_r"),
        ),
        (
            "Telling 10 or more from under 10 (AUC)",
            _with_interval(metrics.get("auc_at_10"), ci, "auc_at_10", 3),
        ),
        ("Band right", _share(metrics.get("band_accuracy"))),
        ("Band right, by true band", band_text or "—"),
        ("Prediction interval holds the questionnaire", _share(metrics.get("interval_coverage"))),
        ("Prediction interval", str(metrics.get("interval_method") or "—")),
    ]
    note = str(ci.get("withheld") or "")
    if not note and ci.get("patients"):
        note = f"Intervals: {ci['patients']} patients resampled."
    return CardSection("How it did on held-out patients", rows, note)


def _item9(manifest: dict) -> CardSection:
    flag = manifest.get("item9_flag") or {}
    if not flag:
        return CardSection(
            "Item 9 (thoughts of self-harm)", note="This model recommends no item-9 threshold."
        )
    rows = [
        (
            "Threshold on the model's item 9",
            figure(flag.get("threshold"))
            if flag.get("threshold") is not None
            else "none recommended: the item-9 rule's own line applies, not validated for this model",
        ),
        ("Chosen on", str(flag.get("chosen_on") or "—")),
        ("Target recall", _share(flag.get("target_recall"))),
        (
            "Windows / with self-reported item 9 ≥ 1",
            f"{figure(flag.get('n'))} / {figure(flag.get('positives'))}",
        ),
    ]
    test = flag.get("test") or {}
    if test:
        rows += [
            ("Held-out: windows with item 9 ≥ 1", figure(test.get("positives"))),
            ("Held-out: found (recall)", _share(test.get("recall"))),
            ("Held-out: flags that were right (precision)", _share(test.get("precision"))),
        ]
    return CardSection("Item 9 (thoughts of self-harm)", rows, str(flag.get("reason") or ""))


def _members(manifest: dict) -> CardSection:
    rows = []
    for member in manifest.get("members") or []:
        if member.get("reason"):
            rows.append((str(member.get("name")), f"left out: {member['reason']}"))
            continue
        mode = MEMBER_MODES.get(str(member.get("mode")), str(member.get("mode")))
        rows.append(
            (str(member.get("name")), f"{mode}; labels from {_sources([str(member.get('trained_on'))])}")
        )
    blend = manifest.get("blend") or {}
    by_kind = blend.get("by_kind") or {}
    if by_kind:
        weights = ", ".join(f"{MEMBER_MODES.get(k, k)} {float(w):.0%}" for k, w in by_kind.items())
        rows.append(("Blend", f"{weights} (fitted on {blend.get('fitted_on', '—')})"))
    if blend.get("mae_blend") is not None:
        by_mae = ", ".join(f"{k} {float(v):.2f}" for k, v in (blend.get("mae_by_kind") or {}).items())
        rows.append(("Error there (MAE)", f"blend {float(blend['mae_blend']):.2f}; alone: {by_mae or '—'}"))
    return CardSection("Members and blend", rows, "" if rows else "No members recorded.")


def _rater(version: ModelVersion) -> list[CardSection]:
    manifest, metrics = version.manifest or {}, version.metrics or {}
    method = CardSection(
        "What it is",
        [
            ("Kind", "Claude rating the redacted 14-day window (cold start), not a trained model"),
            ("Model", str(manifest.get("model") or version.backbone)),
            ("Prompt version", str(manifest.get("prompt_version") or "—")),
            ("Ratings per window", figure(manifest.get("samples"))),
        ],
    )
    validated = CardSection(
        "Against this clinic's questionnaires",
        [
            (k.replace("_", " ").capitalize(), figure(v))
            for k, v in metrics.items()
            if not isinstance(v, dict | list)
        ],
        "" if metrics else "Not yet validated against questionnaires.",
    )
    return [method, validated]


def model_card(version: ModelVersion) -> list[CardSection]:
    """The sections of `version`'s card, in reading order."""
    if version.status == ModelVersion.Status.RATER:
        return _rater(version)
    manifest = version.manifest or {}
    metrics = version.metrics or manifest.get("metrics") or {}
    held_out = _held_out(metrics, manifest.get("test_set") or {})
    return [_trained_on(manifest), held_out, _item9(manifest), _members(manifest)]


# A training run's counts and config in words (the run page): the keys are the code's, the words are
# an admin's. A key not named here is spelled out from its name ("ground_truth_windows" -> "Ground
# truth windows"), so a new count still reads as words.
COUNT_WORDS = {
    "ground_truth_windows": "Windows with the patient's own questionnaire",
    "unlabeled_windows": "Windows without a questionnaire",
    "clinician_agreed_windows": "Scores clinicians agreed with",
    "clinician_disagreed_windows": "Scores clinicians disagreed with",
    "pseudo_labelled_windows": "Windows labelled by Claude and used",
    "labelled": "Windows Claude labelled",
    "from_cache": "Labels reused (never paid twice)",
    "not_sent": "Windows not sent to Claude",
    "skipped_consent": "Windows skipped: no consent",
    "invalid_quotes": "Labels with quotes not found in the patient's words",
    "input_tokens": "Tokens sent to Claude",
    "output_tokens": "Tokens received from Claude",
    "batch_input_tokens": "Tokens sent in batches (half price)",
    "batch_output_tokens": "Tokens received in batches",
    "retries": "Retried calls",
    "failed": "Calls that failed",
    "stopped": "Labelling stopped because",
}
CONFIG_WORDS = {
    "pseudo_label_model": (
        "Claude model for labels",
        "none: no Anthropic key is set, so nothing is labelled",
    ),
    "token_budget": ("Token budget for Claude's labels", "input and output tokens this run may spend"),
}


def plain_words(key: str) -> str:
    """A code name as words: "clinician_agreed_windows" -> "Clinician agreed windows"."""
    return key.replace("_", " ").replace(".", " ").strip().capitalize()


def run_count_rows(counts: dict) -> list[tuple[str, str]]:
    return [(COUNT_WORDS.get(key, plain_words(key)), figure(value)) for key, value in counts.items()]


def _help_of(cls: type) -> dict[str, str]:
    return {f.name: str(f.metadata.get("help", "")) for f in fields(cls)}


def run_config_rows(config: dict) -> list[tuple[str, str, str]]:
    """(setting, value, what it does) for a run's config: the loop's settings, then the training's
    (TRAINING_<FIELD> in the environment), each with the help text of its dataclass field."""
    from training.args import LoopConfig, TrainArgs

    loop_help, train_help = _help_of(LoopConfig), _help_of(TrainArgs)
    rows = []
    for key, value in config.items():
        if key == "train" and isinstance(value, dict):
            rows += [
                (f"Training: {plain_words(k).lower()}", _setting(v), train_help.get(k, ""))
                for k, v in value.items()
            ]
            continue
        words, help_text = CONFIG_WORDS.get(key, (plain_words(key), loop_help.get(key, "")))
        if key == "pseudo_label_model" and value:
            help_text = "the model that labels windows without a questionnaire"
        rows.append((words, _setting(value), help_text))
    return rows


def _setting(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else figure(value)
