"""The clinician pages at a phone's width, by keyboard alone, and under axe-core's accessibility rules.

axe-core is the copy bundled in the axe-playwright-python package (offline, injected into the page);
a violation of impact "serious" or "critical" fails the test with its rule, help text and elements.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.ward import Ward, log_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="install the dev extras: pip install -e '.[dev]'"
).expect

PHONE = {"width": 390, "height": 844}
SIDEWAYS_JS = "() => document.documentElement.scrollWidth - window.innerWidth"


def _pages(ward: Ward) -> list[str]:
    pk = ward.patient.pk
    return ["/", "/alerts/", "/alerts/?group=patient", f"/patients/{pk}/", f"/patients/{pk}/report/"]


def test_every_clinician_page_fits_a_phone_without_sideways_scrolling(page: Page, ward: Ward) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, "dr-north")
    for url in _pages(ward):
        page.goto(url)
        page.wait_for_load_state("load")
        overflow = page.evaluate(SIDEWAYS_JS)
        assert overflow <= 0, f"{url} scrolls sideways by {overflow} px at {PHONE['width']} px"


def test_item9_is_visible_without_scrolling_on_a_phone(page: Page, ward: Ward) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, "dr-north")
    flag = page.get_by_role("row").filter(has_text="pt-browser").get_by_text("review 0.8")
    expect(flag).to_be_in_viewport()
    page.goto(f"/patients/{ward.patient.pk}/")
    expect(
        page.get_by_role("alert").filter(has_text="Item 9 (thoughts of self-harm) flagged")
    ).to_be_in_viewport()


def test_a_keyboard_user_skips_to_the_content_and_opens_an_older_scores_evidence(
    page: Page, ward: Ward
) -> None:
    log_in(page, "dr-north")
    page.goto(f"/patients/{ward.patient.pk}/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"  # a visible focus ring
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    summary = page.locator("#scores summary")
    summary.focus()
    page.keyboard.press("Enter")  # opens the table of scores
    oldest = page.locator("#scores tbody tr").last.get_by_role("link")
    oldest.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?prediction=\d+#evidence$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Score of .* and its evidence$"))).to_be_visible()


def test_the_overview_counts_lead_to_their_patients(page: Page, ward: Ward) -> None:
    log_in(page, "dr-north")
    tile = page.locator(".tile").filter(has_text="Open urgent alerts")
    expect(tile.locator("dd")).to_have_text("1")
    tile.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"\?alert=urgent"))
    expect(page.get_by_role("row").filter(has_text="pt-browser")).to_have_count(1)


def test_the_report_prints_without_the_sites_navigation(page: Page, ward: Ward) -> None:
    log_in(page, "dr-north")
    page.goto(f"/patients/{ward.patient.pk}/report/")
    expect(page.get_by_role("heading", name="PHQ-9 monitoring report: patient pt-browser")).to_be_visible()
    expect(page.locator("#trajectory")).to_have_attribute("data-rendered", "true")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Print or save as PDF")).to_be_hidden()
    expect(page.get_by_text("No conversation text is included")).to_be_visible()


@pytest.mark.parametrize("width", [1280, PHONE["width"]])
def test_axe_finds_no_serious_accessibility_violations(page: Page, ward: Ward, width: int) -> None:
    sync_axe = pytest.importorskip("axe_playwright_python.sync_playwright", reason="pip install -e '.[dev]'")
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "dr-north")
    found = []
    for url in _pages(ward):
        page.goto(url)
        page.wait_for_load_state("load")
        results = sync_axe.Axe().run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in violation["nodes"]][:3]
                found.append(f"{url}: {violation['id']} ({violation['help']}) at {targets}")
    assert found == [], "\n".join(found)
