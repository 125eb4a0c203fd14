"""A clinician's day, in a real browser: log in, triage, read the charts, act on an alert, export.

These check what only a browser can: that the pages' JavaScript runs (plotly.js is served and draws
the figures Django embedded), that forms post with their CSRF tokens and that downloads arrive.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

import pytest

from monitor_site.alerts.models import Alert
from monitor_site.dashboards.exports import CSV_HEADER
from tests.browser.ward import SELF_HARM_RULE, TOTALS, Ward, log_in
from tests.factories import CareTeamFactory, UserFactory

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="install the dev extras: pip install -e '.[dev]'"
).expect

# A Plotly graph div's traces, as the browser holds them once Plotly has drawn them.
TRACES_JS = """el => el.data.map(t => ({
    name: t.name, type: t.type || "scatter", y: Array.from(t.y || []), z_rows: (t.z || []).length
}))"""


def test_it_logs_in_and_draws_the_patients_charts(page: Page, ward: Ward, browser_errors: list[str]) -> None:
    log_in(page, "dr-north")

    row = page.get_by_role("row").filter(has_text="pt-browser")
    expect(row).to_contain_text("17.0")  # latest model-inferred total
    expect(row).to_contain_text("review 0.8")  # item 9 flagged on the triage list
    browser_errors.clear()  # from here on: the patient page's own errors
    row.get_by_role("link", name="pt-browser").click()

    expect(page.get_by_role("heading", name="Patient pt-browser")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Item 9 (thoughts of self-harm) flagged")
    trajectory = page.locator("#trajectory")
    expect(trajectory).to_have_attribute("data-rendered", "true")  # only set once Plotly.newPlot resolved
    traces = trajectory.evaluate(TRACES_JS)
    # the active version is the line, marked current (older versions would be faint, with their dates)
    names = [re.sub(r"trained \d\d \w{3} \d{4}", "trained <date>", t["name"]) for t in traces]
    assert names == [
        "Prediction interval (v-browser, trained <date>, active — current)",
        "Model-inferred PHQ-9 (model v-browser, trained <date>, active — current)",
        "Self-report PHQ-9 (questionnaire)",
        "Events: alert",  # the events of the history, marked along the top
        "Events: model",
    ]
    assert traces[1]["y"] == TOTALS
    assert traces[2]["y"] == [14]
    expect(trajectory.locator(".scatterlayer .trace")).to_have_count(5)  # drawn, not only stored

    heatmap = page.locator("#heatmap")
    expect(heatmap).to_have_attribute("data-rendered", "true")
    (cells,) = heatmap.evaluate(TRACES_JS)
    assert cells["type"] == "heatmap" and cells["z_rows"] == 9  # one row per PHQ-9 item
    expect(heatmap.locator(".heatmaplayer image")).to_have_count(1)
    expect(page.locator("#engagement")).to_have_attribute("data-rendered", "true")

    # The app has no favicon, so Chromium's automatic /favicon.ico request logs a 404; that is not an
    # error of this page's scripts or resources.
    assert [e for e in browser_errors if "/favicon.ico" not in e] == []


def test_it_acknowledges_an_alert_with_a_note(page: Page, ward: Ward) -> None:
    log_in(page, "dr-north")
    page.get_by_role("link", name="Alerts").click()

    row = page.locator(f"#alert-{ward.alert.pk}")
    expect(row).to_contain_text(SELF_HARM_RULE)
    expect(row).to_contain_text("urgent")
    status = row.locator("td").nth(2)
    expect(status).to_contain_text("Open")
    row.get_by_label(f"Note for alert {ward.alert.pk}").fill("Called the patient; safety plan reviewed.")
    row.get_by_role("button", name="Acknowledge").click()

    expect(page.locator(".messages")).to_contain_text(
        f"Alert acknowledged: {SELF_HARM_RULE}, patient pt-browser"
    )
    expect(status).to_contain_text("Acknowledged")
    expect(status).to_contain_text("by dr-north")
    expect(status).to_contain_text("Called the patient; safety plan reviewed.")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)  # only Resolve is left

    ward.alert.refresh_from_db()
    assert ward.alert.status == Alert.Status.ACKNOWLEDGED
    assert ward.alert.acknowledged_by == ward.clinician
    assert ward.alert.acknowledge_note == "Called the patient; safety plan reviewed."


def test_it_downloads_the_trajectory_as_csv(page: Page, ward: Ward) -> None:
    log_in(page, "dr-north")
    page.goto(f"/patients/{ward.patient.pk}/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value

    assert download.suggested_filename == f"phq9-{ward.patient.pk}-trajectory.csv"
    reader = csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8")))
    assert reader.fieldnames == CSV_HEADER
    assert reader.fieldnames[:6] == ["source", "patient", "time", "kind", "total", "band"]
    rows = list(reader)
    inferred = [r for r in rows if r["kind"] == "model-inferred"]
    assert [float(r["total"]) for r in inferred] == TOTALS
    assert {r["model_version"] for r in inferred} == {"v-browser"}
    assert float(inferred[-1]["item_9"]) == 0.8
    assert [(r["kind"], r["total"]) for r in rows if r["kind"] != "model-inferred"] == [("self-report", "14")]
    assert {r["patient"] for r in rows} == {"pt-browser"} and all(r["source"] for r in rows)


def test_it_shows_not_found_for_a_patient_of_another_team(page: Page, ward: Ward) -> None:
    outsider = UserFactory(username="dr-south")
    CareTeamFactory(name="Team South").members.add(outsider)
    log_in(page, "dr-south")
    expect(page.get_by_role("row").filter(has_text="pt-browser")).to_have_count(0)

    response = page.goto(f"/patients/{ward.patient.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not Found")).to_be_visible()
    expect(page.get_by_text("pt-browser")).to_have_count(0)
