"""Pure functions: a patient's trajectory in, CSV text or a FHIR R4 Bundle out. No queries here.

Predicted scores are labelled "model-inferred" everywhere (ARCHITECTURE "Clinical conventions"), so a
receiving system can never mistake them for questionnaire answers.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scoring.phq9 import (
    ITEM_LABELS,
    LOINC_ITEMS,
    LOINC_PANEL,
    LOINC_SYSTEM,
    LOINC_TOTAL,
    LOINC_TOTAL_DISPLAY,
    METHOD_LLM,
    METHOD_MODEL,
    METHOD_SELF_REPORT,
    MODEL_TOTAL_CODE,
    MODEL_TOTAL_DISPLAY,
    N_ITEMS,
    band_by_key,
    band_for,
    model_item_code,
)


@dataclass(frozen=True)
class ExportPrediction:
    id: int
    at: datetime  # window end
    window_start: datetime
    total: float
    items: tuple[float, ...]
    low: float
    high: float
    band: str  # band key
    model_version: str
    backbone: str
    llm: bool = False  # a cold-start LLM rating (Claude), not a trained model's estimate
    validated: bool = True  # False: an LLM rating not yet validated here (no interval)
    # False: the active model has not scored this window (older than the re-scoring horizon, or
    # re-scoring still running); this is the newest older version's score of it.
    current: bool = True

    def __post_init__(self) -> None:
        _check_items(self.items)


@dataclass(frozen=True)
class ExportQuestionnaire:
    id: int
    at: datetime  # completed_at
    total: int
    items: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_items(self.items)


def _check_items(items: Sequence[float]) -> None:
    # Item i maps to a fixed LOINC code and CSV column; a short or long list would shift them silently.
    if len(items) != N_ITEMS:
        raise ValueError(f"PHQ-9 needs {N_ITEMS} item scores, got {len(items)}")


MODEL_INFERRED = METHOD_MODEL
LLM_RATED = METHOD_LLM  # cold start: rated by Claude from redacted text; still not a questionnaire answer
SELF_REPORT = METHOD_SELF_REPORT
CSV_HEADER = (
    ["source", "patient", "time", "kind", "total", "band", "interval_low", "interval_high"]
    + [f"item_{n}" for n in range(1, N_ITEMS + 1)]
    + ["model_version", "window_start", "current_model"]
)
CURRENT = "yes"
NOT_CURRENT = "no: not scored by the current model"

UCUM = "http://unitsofmeasure.org"
PREDICTION_NOTE = "Model-inferred from conversations; not a questionnaire answer."
LLM_NOTE = (
    "Rated by a large language model (Claude) from redacted conversations during a cold start, before a "
    "trained model was available; not a questionnaire answer."
)
NOT_CURRENT_NOTE = (
    "Not scored by the current model: the model now active has not scored this window (older than the "
    "re-scoring horizon, or re-scoring still running); this is an older version's score."
)
# Fixed namespace so fullUrls stay the same across exports: a receiver can de-duplicate re-imports.
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "phq9-monitor/fhir-export")
# Spreadsheets execute cells starting with these (OWASP "CSV injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        # A naive time would silently be read as server-local time; refuse rather than mislabel it.
        raise ValueError(f"naive datetime {value!r}: exports need aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def trajectory_csv(
    *,
    patient_source: str,
    patient_external_id: str,
    predictions: Sequence[ExportPrediction],
    questionnaires: Sequence[ExportQuestionnaire],
) -> str:
    rows: list[tuple[datetime, str, int, list[str | float]]] = []
    for p in predictions:
        low, high = (round(p.low, 2), round(p.high, 2)) if p.validated else ("", "")  # none known yet
        cells: list[str | float] = [round(p.total, 2), band_by_key(p.band).label, low]
        cells += [high, *(round(v, 2) for v in p.items), p.model_version, _iso(p.window_start)]
        cells.append(CURRENT if p.current else NOT_CURRENT)
        rows.append((p.at, LLM_RATED if p.llm else MODEL_INFERRED, p.id, cells))
    for q in questionnaires:
        no_model = ["", "", ""]  # model_version, window_start, current_model: a questionnaire has none
        rows.append(
            (q.at, SELF_REPORT, q.id, [q.total, band_for(q.total).label, "", "", *q.items, *no_model])
        )
    # Oldest first; ties broken by kind then id so the same data always gives the same file.
    rows.sort(key=lambda row: row[:3])

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for at, kind, _, row in rows:
        line = [patient_source, patient_external_id, _iso(at), kind, *row]
        writer.writerow([_cell(c) if isinstance(c, str) else c for c in line])
    return out.getvalue()


def _full_url(patient_id: int, kind: str, key: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, f'{patient_id}/{kind}/{key}')}"


def _entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    # The resource id is the uuid itself, so fullUrl and id never disagree.
    resource_id = full_url.removeprefix("urn:uuid:")
    return {
        "fullUrl": full_url,
        "resource": {"resourceType": resource["resourceType"], "id": resource_id} | resource,
    }


def _score(value: float) -> dict[str, Any]:
    return {"value": round(value, 2), "unit": "{score}", "system": UCUM, "code": "{score}"}


QUESTIONNAIRE_CATEGORY: dict[str, Any] = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}


def _observation_base(subject: str, total_band: str, *, code_system: str | None) -> dict[str, Any]:
    """A questionnaire total is coded LOINC_TOTAL in the survey category; a model estimate gets this
    project's own code (in `code_system`, FHIR_MODEL_CODE_SYSTEM) and no LOINC code at all, so an EHR
    charting by LOINC never merges the two. `code_system` None: a questionnaire."""
    code: dict[str, Any]
    category: dict[str, Any]
    if code_system is not None:
        code = {
            "coding": [{"system": code_system, "code": MODEL_TOTAL_CODE, "display": MODEL_TOTAL_DISPLAY}],
            "text": MODEL_TOTAL_DISPLAY,
        }
        category = {"text": "Model-inferred estimate (not a questionnaire)"}
    else:
        code = {"coding": [{"system": LOINC_SYSTEM, "code": LOINC_TOTAL, "display": LOINC_TOTAL_DISPLAY}]}
        category = QUESTIONNAIRE_CATEGORY
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [category],
        "code": code,
        "subject": {"reference": subject},
        "interpretation": [{"text": total_band}],
    }


def _item_code(index: int, *, code_system: str | None) -> dict[str, Any]:
    if code_system is not None:
        coding = {"system": code_system, "code": model_item_code(index)}
        return {"coding": [coding], "text": f"{ITEM_LABELS[index]} (model-inferred)"}
    return {"coding": [{"system": LOINC_SYSTEM, "code": LOINC_ITEMS[index]}], "text": ITEM_LABELS[index]}


def _device(full_url: str, version: str, backbone: str) -> dict[str, Any]:
    return _entry(
        full_url,
        {
            "resourceType": "Device",
            "deviceName": [{"name": f"PHQ-9 estimator {version}", "type": "model-name"}],
            "type": {"text": "Machine-learning model estimating PHQ-9 scores from conversations"},
            "version": [{"value": version}],
            "property": [{"type": {"text": "backbone"}, "valueCode": [{"text": backbone}]}],
            "note": [{"text": f"Backbone: {backbone}"}],
        },
    )


def _prediction(
    p: ExportPrediction, full_url: str, subject: str, device: str, code_system: str
) -> dict[str, Any]:
    # The interval goes in components, not referenceRange: it is uncertainty about this estimate, not
    # a normal range for the population.
    interval = [
        {"code": {"text": f"prediction interval {side}"}, "valueQuantity": _score(value)}
        for side, value in (("low", p.low), ("high", p.high))
        if p.validated  # an LLM rating not yet validated here has none
    ]
    note = PREDICTION_NOTE
    if p.llm:
        note = LLM_NOTE + ("" if p.validated else " Not yet validated here: no interval.")
    if not p.current:
        note += f" {NOT_CURRENT_NOTE}"
    items = [
        {"code": _item_code(i, code_system=code_system), "valueQuantity": _score(v)}
        for i, v in enumerate(p.items)
    ]
    resource = _observation_base(subject, band_by_key(p.band).label, code_system=code_system) | {
        "effectivePeriod": {"start": _iso(p.window_start), "end": _iso(p.at)},
        "valueQuantity": _score(p.total),
        "method": {"text": LLM_RATED if p.llm else MODEL_INFERRED},
        "device": {"reference": device, "display": f"PHQ-9 estimator {p.model_version}"},
        "note": [{"text": note}],
        "component": interval + items,
    }
    return _entry(full_url, resource)


def _questionnaire(
    q: ExportQuestionnaire, patient_id: int, subject: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    response_url = _full_url(patient_id, "QuestionnaireResponse", q.id)
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{LOINC_SYSTEM}/q/{LOINC_PANEL}",
        "status": "completed",
        "subject": {"reference": subject},
        "authored": _iso(q.at),
        "item": [
            {"linkId": LOINC_ITEMS[i], "text": ITEM_LABELS[i], "answer": [{"valueInteger": v}]}
            for i, v in enumerate(q.items)
        ],
    }
    observation = _observation_base(subject, band_for(q.total).label, code_system=None) | {
        "effectiveDateTime": _iso(q.at),
        "valueInteger": q.total,
        "method": {"text": "self-report questionnaire"},
        "derivedFrom": [{"reference": response_url}],
        "component": [
            {"code": _item_code(i, code_system=None), "valueInteger": v} for i, v in enumerate(q.items)
        ],
    }
    return (
        _entry(response_url, response),
        _entry(_full_url(patient_id, "Observation/self-report", q.id), observation),
    )


def patient_identifier_system(*, base: str, source: str) -> str:
    """The FHIR identifier system of a source's patient ids: ids are unique per source only, so the
    same id from two sources is two identifiers (base: FHIR_IDENTIFIER_SYSTEM_BASE, never a request's
    Host)."""
    return f"{base.rstrip('/')}/sources/{source}/patients"


def fhir_bundle(
    *,
    patient_external_id: str,
    patient_source: str,
    patient_id: int,
    predictions: Sequence[ExportPrediction],
    questionnaires: Sequence[ExportQuestionnaire],
    generated_at: datetime,
    identifier_system_base: str,
    model_code_system: str,
) -> dict[str, Any]:
    """A FHIR R4 collection Bundle; the patient appears only by pseudonymous id (in their source's
    identifier system), never by name. Model estimates are coded in `model_code_system`."""
    system = patient_identifier_system(base=identifier_system_base, source=patient_source)
    patient_url = _full_url(patient_id, "Patient", patient_id)
    entries = [
        _entry(
            patient_url,
            {
                "resourceType": "Patient",
                "identifier": [{"system": system, "value": patient_external_id}],
            },
        )
    ]
    devices: dict[str, str] = {}
    for p in sorted(predictions, key=lambda p: (p.at, p.id)):
        if p.model_version not in devices:
            devices[p.model_version] = _full_url(patient_id, "Device", p.model_version)
            entries.append(_device(devices[p.model_version], p.model_version, p.backbone))
        entries.append(
            _prediction(
                p,
                _full_url(patient_id, "Observation", p.id),
                patient_url,
                devices[p.model_version],
                model_code_system,
            )
        )
    for q in sorted(questionnaires, key=lambda q: (q.at, q.id)):
        entries.extend(_questionnaire(q, patient_id, patient_url))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(_UUID_NAMESPACE, f"{patient_id}/Bundle/{_iso(generated_at)}")),
        "type": "collection",
        "timestamp": _iso(generated_at),
        "entry": entries,
    }
