"""The lexical ensemble member: TF-IDF word and character n-grams over the patient's turns, one ridge
regression per PHQ-9 item.

It reads the same text a clinician would weigh (the patient's own words; `turn_roles` in the manifest),
never the assistant's, and it ranks patients well across sources where frozen sentence vectors do not.
Stored without pickle, like the rest of the artifact:

    members/<name>/lexical.json           format, roles, per analyzer its settings and terms (in column
                                          order), the ridge alpha
    members/<name>/lexical.safetensors    idf (F,), coef (9, F), intercept (9,)

The transform is written out here (counts of a fixed vocabulary -> sublinear tf x idf -> l2 per analyzer),
so loading needs no fitted scikit-learn object; a test checks it equals TfidfVectorizer's on the same fit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

from scoring.phq9 import ITEM_MAX, N_ITEMS
from scoring.types import Window
from scoring.windowing import patient_text

FORMAT = 1
CONFIG_FILE = "lexical.json"
WEIGHTS_FILE = "lexical.safetensors"
# Word uni- and bigrams carry the symptom words; character n-grams within words survive misspellings,
# inflections and the informal spelling of chat.
ANALYZERS: tuple[dict[str, Any], ...] = (
    {"analyzer": "word", "ngram_range": (1, 2), "min_df": 2, "max_features": 50_000},
    {"analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2, "max_features": 50_000},
)
RIDGE_ALPHAS = (0.3, 1.0, 3.0, 10.0)


class LexicalError(ValueError):
    """A lexical member that cannot be fitted or loaded; the message says what to do."""


@dataclass(frozen=True)
class Analyzer:
    analyzer: str
    ngram_range: tuple[int, int]
    terms: tuple[str, ...]
    idf: np.ndarray  # (F_a,)

    def counter(self) -> Any:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            analyzer=self.analyzer,
            ngram_range=self.ngram_range,
            vocabulary={t: i for i, t in enumerate(self.terms)},
            dtype=np.float32,
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        counts = sp.csr_matrix(self.counter().transform(texts), dtype=np.float32)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        weighted = sp.csr_matrix(counts @ sp.diags(self.idf.astype(np.float32)))
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ weighted, dtype=np.float32)


@dataclass(frozen=True)
class LexicalMember:
    roles: tuple[str, ...]
    analyzers: tuple[Analyzer, ...]
    coef: np.ndarray  # (9, F)
    intercept: np.ndarray  # (9,)
    alpha: float

    # ---- features ----------------------------------------------------------------------------------
    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.csr_matrix(sp.hstack([a.transform(texts) for a in self.analyzers]), dtype=np.float32)

    def texts(self, windows: Sequence[Window]) -> list[str]:
        return [patient_text(w, self.roles) for w in windows]

    def predict_items(self, windows: Sequence[Window]) -> np.ndarray:
        """(N, 9) item scores in [0, 3]."""
        if not windows:
            return np.zeros((0, N_ITEMS), dtype=np.float32)
        x = self.features(self.texts(windows))
        items = np.asarray(x @ self.coef.T) + self.intercept  # (N, 9)
        return np.clip(items, 0.0, ITEM_MAX).astype(np.float32)

    # ---- fitting -----------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        windows: Sequence[Window],
        items: np.ndarray,
        weights: np.ndarray,
        *,
        roles: tuple[str, ...],
        val_windows: Sequence[Window] = (),
        val_totals: Sequence[float] = (),
        alphas: Sequence[float] = RIDGE_ALPHAS,
    ) -> LexicalMember:
        """Ridge on (N, 9) item targets with sample weights; alpha by MAE of the total on the validation
        windows (the middle alpha when there are none)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge

        texts = [patient_text(w, roles) for w in windows]
        if sum(1 for t in texts if t.strip()) < 2:
            raise LexicalError("the lexical member needs at least 2 training windows with patient text")
        analyzers = []
        for spec in ANALYZERS:
            min_df = spec["min_df"] if len(texts) >= 20 else 1  # tiny sets: keep every term
            vectorizer = TfidfVectorizer(
                analyzer=spec["analyzer"],
                ngram_range=spec["ngram_range"],
                min_df=min_df,
                max_features=spec["max_features"],
                sublinear_tf=True,
                dtype=np.float32,
            )
            try:
                vectorizer.fit(texts)
            except ValueError as exc:  # empty vocabulary
                raise LexicalError(f"no {spec['analyzer']} terms in the training text ({exc})") from exc
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
            analyzers.append(
                Analyzer(spec["analyzer"], tuple(spec["ngram_range"]), tuple(terms), vectorizer.idf_.copy())
            )
        x = sp.csr_matrix(sp.hstack([a.transform(texts) for a in analyzers]))
        x_val = (
            sp.csr_matrix(
                sp.hstack([a.transform([patient_text(w, roles) for w in val_windows]) for a in analyzers])
            )
            if val_windows
            else None
        )
        best: tuple[float, float, Any] | None = None
        candidates = list(alphas) if x_val is not None else [sorted(alphas)[len(alphas) // 2]]
        for alpha in candidates:
            ridge = Ridge(alpha=alpha).fit(x, items, sample_weight=weights)
            if x_val is None:
                best = (0.0, alpha, ridge)
                break
            pred = np.clip(np.asarray(ridge.predict(x_val)), 0.0, ITEM_MAX).sum(-1)
            mae = float(np.mean(np.abs(pred - np.asarray(val_totals))))
            if best is None or mae < best[0]:
                best = (mae, alpha, ridge)
        assert best is not None
        _, alpha, ridge = best
        return cls(
            roles=tuple(roles),
            analyzers=tuple(analyzers),
            coef=np.asarray(ridge.coef_, dtype=np.float32).reshape(N_ITEMS, -1),
            intercept=np.asarray(ridge.intercept_, dtype=np.float32).reshape(N_ITEMS),
            alpha=float(alpha),
        )

    # ---- storage -----------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "format": FORMAT,
            "roles": list(self.roles),
            "alpha": self.alpha,
            "analyzers": [
                {"analyzer": a.analyzer, "ngram_range": list(a.ngram_range), "terms": list(a.terms)}
                for a in self.analyzers
            ],
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False))
        tensors = {"coef": self.coef, "intercept": self.intercept}
        tensors.update({f"idf.{i}": a.idf.astype(np.float32) for i, a in enumerate(self.analyzers)})
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(directory / WEIGHTS_FILE))

    @classmethod
    def load(cls, directory: Path) -> LexicalMember:
        config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise LexicalError(f"{path} is missing; the artifact is incomplete, retrain or restore it")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            tensors = load_file(str(weights_path))
            analyzers = tuple(
                Analyzer(
                    str(a["analyzer"]),
                    (int(a["ngram_range"][0]), int(a["ngram_range"][1])),
                    tuple(str(t) for t in a["terms"]),
                    tensors[f"idf.{i}"],
                )
                for i, a in enumerate(config["analyzers"])
            )
            member = cls(
                roles=tuple(str(r) for r in config["roles"]),
                analyzers=analyzers,
                coef=tensors["coef"],
                intercept=tensors["intercept"],
                alpha=float(config["alpha"]),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise LexicalError(f"{directory}: the lexical member is malformed ({exc}); retrain it") from exc
        if config.get("format") != FORMAT:
            raise LexicalError(f"{config_path}: format {config.get('format')}, this code reads {FORMAT}")
        width = sum(len(a.terms) for a in analyzers)
        if member.coef.shape != (N_ITEMS, width) or any(len(a.idf) != len(a.terms) for a in analyzers):
            raise LexicalError(f"{directory}: weights do not match the vocabulary; retrain the member")
        return member
