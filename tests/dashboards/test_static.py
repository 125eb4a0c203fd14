"""The plotly.js the pages load: pinned to the Python side's version, cartesian only, no upload button,
compressed by collectstatic."""

from __future__ import annotations

import gzip
import hashlib
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


def test_collectstatic_writes_a_compressed_copy_under_a_content_hashed_name(
    tmp_path: Path, settings: object
) -> None:
    settings.STATIC_ROOT = tmp_path  # type: ignore[attr-defined]
    call_command("collectstatic", "--noinput", verbosity=0)
    digest = hashlib.md5(BUNDLE.read_bytes(), usedforsecurity=False).hexdigest()[:12]
    hashed = tmp_path / "vendor" / "plotly" / BUNDLE.name.replace(".js", f".{digest}.js")
    packed = hashed.with_name(hashed.name + ".gz")
    assert packed.is_file() and packed.stat().st_size < 600_000
    assert gzip.decompress(packed.read_bytes()) == BUNDLE.read_bytes()


@pytest.mark.django_db
def test_in_the_demo_pages_load_plotly_hashed_compressed_and_cached_for_a_year(
    tmp_path: Path, settings: object, client: object
) -> None:
    """As `make demo` serves it: DEBUG on, collectstatic run, whitenoise serving (runserver --nostatic)."""
    from tests.factories import CareTeamFactory, PatientFactory, PredictionFactory, UserFactory

    settings.DEBUG = True  # type: ignore[attr-defined]
    settings.STATIC_ROOT = tmp_path  # type: ignore[attr-defined]
    call_command("collectstatic", "--noinput", verbosity=0)
    team = CareTeamFactory()
    user = UserFactory()
    team.members.add(user)
    patient = PatientFactory(care_team=team)
    PredictionFactory(session__patient=patient)
    client.force_login(user)  # type: ignore[attr-defined]
    html = client.get(f"/patients/{patient.pk}/").content.decode()  # type: ignore[attr-defined]
    found = re.search(r'src="(/static/vendor/plotly/plotly-cartesian-4\.1\.1\.min\.[0-9a-f]{12}\.js)"', html)
    assert found is not None, "the page does not load plotly by its content-hashed name"
    response = client.get(found.group(1), HTTP_ACCEPT_ENCODING="gzip, br")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response["Content-Encoding"] in ("gzip", "br")
    assert "max-age=315360000" in response["Cache-Control"] and "immutable" in response["Cache-Control"]


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
