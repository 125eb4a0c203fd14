"""The model artifact on disk: a directory with manifest.json, tokenizer/ and members/<name>/.

    manifest.json         backbone id, pooling, max tokens, members, calibration, metrics,
                          training data summary, code version
    tokenizer/            tokenizer files (so scoring tokenizes exactly as training did)
    backbone/             only when the backbone has no other local home (e.g. built from a config)
    members/<name>/heads.safetensors        always
    members/<name>/adapter/                 LoRA members (peft)
    members/<name>/backbone.safetensors     fully fine-tuned members
    members/<name>/lexical.{json,safetensors}  lexical members (vocabulary + weights, no pickle)
Loading is pure local I/O.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = 1
MODES = ("heads", "lora", "full", "lexical")
ACTIVE_POINTER = "ACTIVE"  # file in the model store naming the active version's directory
# The model store when MODEL_STORE_DIR is unset, for the web app (settings) and the scoring CLI alike.
DEFAULT_MODEL_STORE = Path(__file__).resolve().parent.parent / "var" / "models"


class ArtifactError(ValueError):
    """A model directory that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class MemberSpec:
    name: str
    mode: str  # "heads": frozen shared backbone; "lora": adapter; "full": own backbone weights;
    # "lexical": TF-IDF + ridge over the patient's text (no backbone)
    trained_on: str
    seed: int

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ArtifactError(f"member {self.name}: mode must be one of {MODES}, got {self.mode!r}")


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ArtifactError(f"model directory {directory} does not exist; train one or pass another --model")
    if not path.is_file():
        raise ArtifactError(f"{directory} has no {MANIFEST}; is it a model artifact?")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc}); retrain or restore the artifact") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path} must hold a JSON object")
    missing = [
        k
        for k in ("format", "version", "backbone", "pooling", "max_tokens", "members", "calibration")
        if k not in manifest
    ]
    if missing:
        raise ArtifactError(f"{path} lacks {', '.join(missing)}; retrain or restore the artifact")
    if manifest["format"] != FORMAT:
        raise ArtifactError(f"{path} has format {manifest['format']}, this code reads format {FORMAT}")
    if not manifest["members"]:
        raise ArtifactError(f"{path} lists no members")
    problems = _manifest_problems(manifest)
    if problems:
        raise ArtifactError(f"{path}: {'; '.join(problems)}; retrain or restore the artifact")
    return manifest


def _manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """Shape checks, so a damaged manifest is one clear error at load time, not a traceback later."""
    problems = []
    backbone = manifest["backbone"]
    if not isinstance(backbone, dict) or not isinstance(backbone.get("id"), str):
        problems.append("backbone must be an object with a string id")
    if manifest["pooling"] not in ("attention", "mean"):
        problems.append("pooling must be attention or mean")
    max_tokens = manifest["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        problems.append("max_tokens must be a positive integer")
    if not isinstance(manifest["version"], str) or not manifest["version"]:
        problems.append("version must be a non-empty string")
    if not isinstance(manifest["members"], list):
        problems.append("members must be a list")
    calibration = manifest["calibration"]
    if not isinstance(calibration, dict) or not {"method", "coverage", "half_width", "n"} <= set(calibration):
        problems.append("calibration must be an object with method, coverage, half_width and n")
    return problems


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Atomic: a reader sees the old manifest or the new one, never half of one."""
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    os.replace(tmp, directory / MANIFEST)


def member_specs(manifest: dict[str, Any]) -> list[MemberSpec]:
    try:
        return [
            MemberSpec(str(m["name"]), str(m["mode"]), str(m.get("trained_on", "")), int(m.get("seed", 0)))
            for m in manifest["members"]
        ]
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"manifest members are malformed ({exc})") from exc


def resolve_model_dir(model: str, *, store: str | os.PathLike | None = None) -> Path:
    """A directory, or 'active': the version named by MODEL_STORE_DIR/ACTIVE (written on promotion)."""
    if model != "active":
        return Path(model)
    store_dir = Path(store) if store else Path(os.environ.get("MODEL_STORE_DIR", DEFAULT_MODEL_STORE))
    pointer = store_dir / ACTIVE_POINTER
    if not pointer.is_file():
        raise ArtifactError(
            f"no active model in {store_dir} (no {ACTIVE_POINTER} file): train and promote one "
            "(python manage.py train_model --promote) or pass --model DIR"
        )
    return store_dir / pointer.read_text().strip()


def set_active_pointer(store: Path, version_dir: str) -> None:
    store.mkdir(parents=True, exist_ok=True)
    tmp = store / (ACTIVE_POINTER + ".tmp")
    tmp.write_text(version_dir + "\n")
    os.replace(tmp, store / ACTIVE_POINTER)


def code_version() -> str:
    """The git commit of this code when run from a checkout, else CODE_VERSION, else 'unknown'."""
    if os.environ.get("CODE_VERSION"):
        return os.environ["CODE_VERSION"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"
