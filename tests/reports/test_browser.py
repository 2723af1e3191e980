"""The leaderboard as a person sees it: Debian's Chromium, driven by Playwright, from file://.

Installs nothing: it uses /usr/bin/chromium when present (CI installs it with apt-get) and skips
with the reason otherwise. A screenshot of each page is saved in the test's temporary folder.
"""

from pathlib import Path

import pytest

from grefbench.reports.leaderboard import build_leaderboard

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                              "(apt-get install -y chromium)")


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        events = {"requests": [], "errors": [], "dialogs": []}
        page.on("request", lambda request: events["requests"].append(request.url))
        page.on("console", lambda message: events["errors"].append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: events["errors"].append(str(error)))
        page.on("dialog", lambda dialog: (events["dialogs"].append(dialog.message), dialog.dismiss()))
        yield page, events
        browser.close()


def _column(table, name: str) -> list[str]:
    index = table.locator("thead th").all_inner_texts().index(name)
    return table.locator("tbody tr").evaluate_all(
        "(rows, i) => rows.map(r => r.cells[i].dataset.value)", index)


def test_leaderboard_in_a_browser(submissions, tmp_path, browser_page):
    page, events = browser_page
    out = tmp_path / "site"
    build_leaderboard(submissions, out, gallery_per_class=1)
    page.goto((out / "index.html").as_uri())
    table = page.locator("table[data-dataset='grefshapes'][data-split='val']")
    names = lambda: table.locator("tbody tr td:first-child").all_inner_texts()
    assert names() == ["Verified model", "<script>alert(1)</script>", "Paper model"]  # built in gIoU order

    table.locator("th[data-metric='cIoU'] button").click()
    assert table.locator("th[data-metric='cIoU']").get_attribute("aria-sort") == "descending"
    values = [float(v) for v in _column(table, "cIoU")]
    assert values == sorted(values, reverse=True) and names()[0] == "<script>alert(1)</script>"
    table.locator("th[data-metric='cIoU'] button").click()
    values = [float(v) for v in _column(table, "cIoU")]
    assert values == sorted(values) and names()[0] == "Paper model"
    table.locator("th:has-text('#expr') button").click()
    assert _column(table, "#expr") == ["923", "", ""]  # missing values stay last, both ways
    table.locator("th:has-text('#expr') button").click()
    assert _column(table, "#expr") == ["923", "", ""]
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)

    table.get_by_role("link", name="Verified model").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/submissions/verified-model.html")
    assert page.locator("h1").inner_text() == "Verified model"
    assert page.locator(".gallery img").count() >= 5 and page.locator("svg").count() >= 4
    assert page.locator(".gallery img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(tmp_path / "submission.png"))

    page.goto((out / "submissions" / "hostile.html").as_uri())
    assert page.locator("h1").inner_text() == "<script>alert(1)</script>"
    assert page.locator("dd", has_text="<img src=x onerror=alert(3)>").count() == 1
    hrefs = page.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert "https://example.org/p" in hrefs and not [h for h in hrefs if not h.startswith(("https:", "../"))]

    assert events["dialogs"] == [] and events["errors"] == []
    assert events["requests"] and all(url.startswith("file://") for url in events["requests"]), events["requests"]
    assert (tmp_path / "index.png").stat().st_size > 10_000 and (tmp_path / "submission.png").stat().st_size > 10_000
