"""Ensemble: load an artifact once, score many windows in token-budgeted batches.

Members of two families: transformer members (below) and text members that need no backbone (the
lexical TF-IDF member, scoring/lexical.py; a new kind of text member is one entry in TEXT_MEMBER_KINDS).
Their item scores are combined with the manifest's blend weights (fitted on validation patients at
training time; equal weights when the manifest has none), the same way for every caller.

Members that keep the backbone frozen ("heads") share one backbone forward pass; LoRA members share
the base weights and switch adapters; fully fine-tuned members carry their own backbone. Chunk vectors
are cached per backbone variant, so a conversation that falls into several overlapping windows is
encoded once (with relative day markers, once per day its windows end on: windowing.day_marker).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model
from torch import nn

from scoring.artifact import ArtifactError, MemberSpec, member_specs, read_manifest
from scoring.backbone import Backbone, load_backbone
from scoring.calibration import Calibration
from scoring.lexical import LexicalMember
from scoring.model import ItemHeads
from scoring.phq9 import N_ITEMS, band_for
from scoring.quantize import check_precision, quantize_int8
from scoring.types import Window
from scoring.windowing import Chunk, Chunker, window_cut

# Member kinds that read the window's text directly: mode -> class with load(dir) and predict_items(windows).
TEXT_MEMBER_KINDS = {"lexical": LexicalMember}
DEFAULT_BATCH_TOKENS = 16384
DEFAULT_CACHE_ENTRIES = 50_000


@dataclass(frozen=True)
class ChunkEvidence:
    conversation_id: str
    turn_indices: tuple[int, ...]
    weights: tuple[float, ...]  # per item: this chunk's share of the item's attention (sums to 1 over chunks)


@dataclass(frozen=True)
class WindowScore:
    window_id: str
    total: float
    items: tuple[float, ...]
    interval: tuple[float, float]
    band: str
    model_version: str
    n_chunks: int
    n_tokens: int
    evidence: tuple[ChunkEvidence, ...]
    n_turns_left_out: int = 0  # the oldest turns beyond the window's text budget (windowing.window_cut)


@dataclass
class Member:
    spec: MemberSpec
    heads: ItemHeads
    variant: str  # which backbone weights produce its chunk vectors
    module: nn.Module | None = None  # own backbone ("full" members)


class EmbeddingCache:
    """LRU of chunk vectors keyed by (variant, chunk key); vectors live on the CPU."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, bytes], torch.Tensor] = OrderedDict()

    def get(self, key: tuple[str, bytes]) -> torch.Tensor | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: tuple[str, bytes], value: torch.Tensor) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Ensemble:
    def __init__(
        self,
        *,
        manifest: dict[str, Any],
        backbone: Backbone,
        members: list[Member],
        calibration: Calibration,
        device: torch.device,
        peft_model: nn.Module | None = None,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        text_members: list[tuple[MemberSpec, LexicalMember]] | None = None,
        precision: str = "fp32",
        int8_module: nn.Module | None = None,
    ) -> None:
        self.manifest = manifest
        self.precision = precision  # what the backbone really runs at ("int8" only on CPU)
        self.int8_module = int8_module  # the quantised backbone heads members share, when int8
        self.version = str(manifest["version"])
        self.backbone = backbone
        self.members = members
        self.text_members = text_members or []
        self.calibration = calibration
        self.device = device
        self.peft_model = peft_model
        self.chunker = Chunker.for_artifact(backbone.tokenizer, kind=backbone.kind, manifest=manifest)
        self.blend = blend_weights(
            manifest, [m.spec.name for m in members] + [s.name for s, _ in self.text_members]
        )
        self.cache = EmbeddingCache(cache_entries)
        self.pad_id = backbone.tokenizer.pad_token_id or 0

    # ---- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        device: str = "auto",
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        backbone: Backbone | None = None,
        precision: str = "fp32",
    ) -> Ensemble:
        """The artifact in `directory`. `backbone`: the already loaded backbone it was trained from (the
        training process passes its own, so that one process holds one backbone for a whole run); LoRA
        members are then attached to it in place, and `release()` must give it back afterwards.
        `precision` "int8": on CPU, the frozen backbone and fully fine-tuned members score with int8
        Linear layers (scoring/quantize.py; a quantised copy, `backbone` itself is untouched); LoRA
        members stay fp32. Ignored on CUDA (bf16 there)."""
        directory = Path(directory)
        manifest = read_manifest(directory)
        dev = pick_device(device)
        int8 = check_precision(precision) == "int8" and dev.type == "cpu"
        dtype = torch.bfloat16 if dev.type == "cuda" else None
        if backbone is None:
            backbone = load_backbone(str(manifest["backbone"]["id"]), artifact_dir=directory, dtype=dtype)
        backbone.module.to(dev).eval()
        members: list[Member] = []
        text_members: list[tuple[MemberSpec, LexicalMember]] = []
        peft_model: nn.Module | None = None
        for spec in member_specs(manifest):
            member_dir = directory / "members" / spec.name
            if spec.mode in TEXT_MEMBER_KINDS:
                try:
                    text_members.append((spec, TEXT_MEMBER_KINDS[spec.mode].load(member_dir)))
                except ValueError as exc:
                    raise ArtifactError(str(exc)) from exc
                continue
            heads = ItemHeads(backbone.hidden_size, pooling=str(manifest["pooling"]))
            heads.load_state_dict(_load_tensors(member_dir / "heads.safetensors"))
            heads.to(dev).eval()
            if spec.mode == "heads":
                members.append(Member(spec, heads, variant="base"))
            elif spec.mode == "lora":
                peft_model = _attach_adapter(peft_model, backbone.module, member_dir / "adapter", spec.name)
                members.append(Member(spec, heads, variant=f"lora:{spec.name}"))
            else:
                module = copy.deepcopy(backbone.module)
                weights = member_dir / "backbone.safetensors"
                if not weights.is_file():
                    raise ArtifactError(
                        f"{weights} is missing; the artifact is incomplete, retrain or restore it"
                    )
                load_model(module, str(weights))
                module = quantize_int8(module.eval()) if int8 else module
                members.append(Member(spec, heads, variant=f"full:{spec.name}", module=module.to(dev).eval()))
        int8_module = None
        if int8 and peft_model is None and any(m.variant == "base" for m in members):
            int8_module = quantize_int8(backbone.module)
        return cls(
            manifest=manifest,
            backbone=backbone,
            members=members,
            calibration=Calibration.from_dict(manifest["calibration"]),
            device=dev,
            peft_model=peft_model,
            cache_entries=cache_entries,
            text_members=text_members,
            precision="int8" if int8 and (int8_module is not None or peft_model is None) else "fp32",
            int8_module=int8_module,
        )

    def release(self) -> None:
        """Detach the LoRA layers this ensemble attached to its backbone (peft unload), so a shared
        backbone is as it came. The ensemble must not score afterwards."""
        if self.peft_model is not None:
            self.peft_model.unload()  # type: ignore[operator]
            self.peft_model = None
            self.members = []

    # ---- encoding --------------------------------------------------------------------------------
    @contextmanager
    def _variant_module(self, variant: str) -> Iterator[nn.Module]:
        if variant.startswith("full:"):
            member = next(m for m in self.members if m.variant == variant)
            assert member.module is not None
            yield member.module
        elif variant.startswith("lora:"):
            assert self.peft_model is not None
            self.peft_model.set_adapter(variant.removeprefix("lora:"))  # type: ignore[operator]
            yield self.peft_model
        elif self.peft_model is not None:
            with self.peft_model.disable_adapter():  # type: ignore[operator]
                yield self.peft_model
        else:
            yield self.int8_module if self.int8_module is not None else self.backbone.module

    def _embed(
        self, variant: str, chunks: list[Chunk], *, batch_tokens: int, on_tokens: Callable[[int], None] | None
    ) -> dict[bytes, torch.Tensor]:
        vectors: dict[bytes, torch.Tensor] = {}
        missing: dict[bytes, Chunk] = {}
        for chunk in chunks:
            key = chunk.key
            if key in vectors or key in missing:
                continue
            cached = self.cache.get((variant, key))
            if cached is not None:
                vectors[key] = cached
            else:
                missing[key] = chunk
        if not missing:
            return vectors
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else nullcontext()
        )
        with self._variant_module(variant) as module, torch.inference_mode(), autocast:
            batches = token_batches(list(missing.values()), batch_tokens=batch_tokens, pad_id=self.pad_id)
            for batch, ids, mask in batches:
                ids, mask = ids.to(self.device), mask.to(self.device)
                out = self.backbone.pool(module, ids, mask).float().cpu()  # (N, H)
                for chunk, vector in zip(batch, out, strict=True):
                    vectors[chunk.key] = vector
                    self.cache.put((variant, chunk.key), vector)
                if on_tokens:
                    on_tokens(int(mask.sum()))
        return vectors

    # ---- scoring ---------------------------------------------------------------------------------
    def predict(
        self,
        windows: list[Window],
        *,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        on_tokens: Callable[[int], None] | None = None,
    ) -> list[WindowScore]:
        if not windows:
            return []
        chunked, per_member, weights_mean = self._member_outputs(windows, batch_tokens, on_tokens)
        items = torch.zeros((len(windows), N_ITEMS))
        for name, member_items in per_member.items():
            items += self.blend[name] * member_items
        return [self._score(windows[i], chunked[i], items[i], weights_mean[i]) for i in range(len(windows))]

    def member_items(
        self, windows: list[Window], *, batch_tokens: int = DEFAULT_BATCH_TOKENS
    ) -> dict[str, torch.Tensor]:
        """Each member's own (N, 9) item scores, before blending (fitting the blend; reports per kind)."""
        return self._member_outputs(windows, batch_tokens, None)[1] if windows else {}

    def _member_outputs(
        self, windows: list[Window], batch_tokens: int, on_tokens: Callable[[int], None] | None
    ) -> tuple[list[list[Chunk]], dict[str, torch.Tensor], torch.Tensor]:
        """Chunks per window, member name -> (N, 9) items, and the evidence weights (N, C, 9): the
        transformer members' mean attention over chunks (uniform when there is no transformer member)."""
        chunked = self.chunker.chunk_windows(windows)
        all_chunks = [c for cs in chunked for c in cs]
        n_windows, max_chunks = len(windows), max(1, max(len(cs) for cs in chunked))
        mask = torch.zeros((n_windows, max_chunks), dtype=torch.bool)
        for row, cs in enumerate(chunked):
            mask[row, : len(cs)] = True
        per_member: dict[str, torch.Tensor] = {}
        weight_sum = torch.zeros((n_windows, max_chunks, N_ITEMS))
        for variant in dict.fromkeys(m.variant for m in self.members):
            vectors = self._embed(variant, all_chunks, batch_tokens=batch_tokens, on_tokens=on_tokens)
            h = torch.zeros((n_windows, max_chunks, self.backbone.hidden_size))  # (B, C, H)
            for row, cs in enumerate(chunked):
                for col, chunk in enumerate(cs):
                    h[row, col] = vectors[chunk.key]
            h, dev_mask = h.to(self.device), mask.to(self.device)
            with torch.inference_mode():
                for member in (m for m in self.members if m.variant == variant):
                    items, weights = member.heads(h, dev_mask)  # (B, 9), (B, C, 9)
                    per_member[member.spec.name] = items.float().cpu()
                    weight_sum += weights.float().cpu()
        for spec, text_member in self.text_members:
            per_member[spec.name] = torch.from_numpy(text_member.predict_items(windows)).float()
        if self.members:
            weights_mean = weight_sum / len(self.members)
        else:
            counts = mask.sum(1, keepdim=True).clamp(min=1).unsqueeze(-1)  # (B, 1, 1)
            weights_mean = mask.unsqueeze(-1).float().expand(-1, -1, N_ITEMS) / counts
        return chunked, per_member, weights_mean

    def _score(
        self, window: Window, chunks: list[Chunk], items: torch.Tensor, weights: torch.Tensor
    ) -> WindowScore:
        item_values = tuple(round(float(v), 4) for v in items)
        total = round(sum(item_values), 4)
        lo, hi = self.calibration.interval(total)
        evidence = tuple(
            ChunkEvidence(conversation_id, turns, tuple(round(float(w), 4) for w in weights[j]))
            for j, c in enumerate(chunks)
            for conversation_id, turns in c.spans  # a whole-window chunk points at each conversation
        )
        return WindowScore(
            window_id=window.id,
            total=total,
            items=item_values,
            interval=(round(lo, 4), round(hi, 4)),
            band=band_for(total).key,
            model_version=self.version,
            n_chunks=len(chunks),
            n_tokens=sum(len(c) for c in chunks),
            evidence=evidence,
            n_turns_left_out=window_cut(window, self.chunker.max_chars)[1],
        )


def blend_weights(manifest: dict[str, Any], names: list[str]) -> dict[str, float]:
    """Member name -> weight (non-negative, summing to 1): the manifest's `blend`, else equal weights."""
    stored = (manifest.get("blend") or {}).get("weights") if isinstance(manifest.get("blend"), dict) else None
    if not stored:
        return {name: 1.0 / len(names) for name in names}
    if set(stored) != set(names):
        raise ArtifactError(
            f"blend weights name {sorted(stored)} but the members are {sorted(names)}; retrain the model"
        )
    weights = {name: float(stored[name]) for name in names}
    total = sum(weights.values())
    if any(w < 0 for w in weights.values()) or not total > 0:
        raise ArtifactError("blend weights must be non-negative with a positive sum; retrain the model")
    return {name: w / total for name, w in weights.items()}


def token_batches(
    chunks: list[Chunk], *, batch_tokens: int, pad_id: int
) -> Iterator[tuple[list[Chunk], torch.Tensor, torch.Tensor]]:
    """Length-sorted, right-padded batches of at most `batch_tokens` padded tokens (ids, mask on CPU)."""
    ordered = sorted(chunks, key=len, reverse=True)
    start = 0
    while start < len(ordered):
        width = len(ordered[start])
        size = max(1, batch_tokens // width)
        batch = ordered[start : start + size]
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (N, T)
        mask = torch.zeros((len(batch), width), dtype=torch.long)  # (N, T)
        for row, chunk in enumerate(batch):
            ids[row, : len(chunk)] = torch.tensor(chunk.token_ids)
            mask[row, : len(chunk)] = 1
        yield batch, ids, mask
        start += size


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; the artifact is incomplete, retrain or restore it")
    return load_file(str(path))


def _attach_adapter(peft_model: nn.Module | None, base: nn.Module, adapter_dir: Path, name: str) -> nn.Module:
    from peft import PeftModel

    if not (adapter_dir / "adapter_config.json").is_file():
        raise ArtifactError(f"{adapter_dir} holds no LoRA adapter; the artifact is incomplete")
    if peft_model is None:
        return PeftModel.from_pretrained(base, str(adapter_dir), adapter_name=name, is_trainable=False)
    peft_model.load_adapter(str(adapter_dir), adapter_name=name)  # type: ignore[operator]
    return peft_model
