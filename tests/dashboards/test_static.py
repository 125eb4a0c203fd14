"""The plotly.js the pages load: pinned to the Python side's version, cartesian only, no upload button,
compressed by collectstatic."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "static" / "vendor" / "plotly" / "plotly-cartesian-4.1.1.min.js"


def test_the_bundle_is_the_plotly_js_the_python_figures_are_drawn_with() -> None:
    from plotly.offline import get_plotlyjs_version

    header = BUNDLE.read_text(encoding="utf-8")[:200]
    version = re.search(r"plotly\.js \(cartesian - minified\) v(\S+)", header)
    assert version is not None and version.group(1) == get_plotlyjs_version()
    assert BUNDLE.stat().st_size < 2_000_000  # the full bundle is 4.8 MB


def test_every_page_that_draws_a_chart_loads_that_bundle_and_no_other() -> None:
    templates = list((ROOT / "templates").rglob("*.html"))
    loading = [t for t in templates if "plotly" in t.read_text(encoding="utf-8")]
    assert {t.name for t in loading} == {"patient_detail.html", "patient_report.html", "change_form.html"}
    for template in loading:
        scripts = re.findall(r"vendor/plotly/[^'\"]+", template.read_text(encoding="utf-8"))
        assert scripts == [f"vendor/plotly/{BUNDLE.name}"], template


def test_charts_never_offer_to_upload_patient_data() -> None:
    charts = (ROOT / "static" / "js" / "charts.js").read_text(encoding="utf-8")
    assert "showSendToCloud: false" in charts and '"sendDataToCloud"' in charts
    assert "displaylogo: false" in charts


def test_collectstatic_writes_a_compressed_copy(tmp_path: Path, settings: object) -> None:
    settings.STATIC_ROOT = tmp_path  # type: ignore[attr-defined]
    call_command("collectstatic", "--noinput", verbosity=0)
    packed = tmp_path / "vendor" / "plotly" / (BUNDLE.name + ".gz")
    assert packed.is_file() and packed.stat().st_size < 600_000
    assert gzip.decompress(packed.read_bytes()) == BUNDLE.read_bytes()


@pytest.mark.django_db
def test_a_page_with_a_chart_renders_with_debug_off_before_collectstatic(
    client: object, settings: object
) -> None:
    from tests.factories import CareTeamFactory, PatientFactory, PredictionFactory, UserFactory

    settings.DEBUG = False  # type: ignore[attr-defined]
    team = CareTeamFactory()
    user = UserFactory()
    team.members.add(user)
    patient = PatientFactory(care_team=team)
    PredictionFactory(session__patient=patient)
    client.force_login(user)  # type: ignore[attr-defined]
    page = client.get(f"/patients/{patient.pk}/")  # type: ignore[attr-defined]
    assert page.status_code == 200 and BUNDLE.name in page.content.decode()
