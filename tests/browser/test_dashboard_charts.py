"""In a real browser on a phone (390 × 844), against the demo server: the province admin opens the region
dashboards, every chart is drawn (an ECharts instance on a canvas of non-zero size, with data), nothing is refused
by the Content-Security-Policy and nothing fails in the console, nothing is wider than the phone, and the drill-down
leads by the regions' names to a city and then to a county (which has nothing below it)."""

import pytest

from lms.demo import DEMO_PASSWORD
from tests.browser.test_console import agree_to_privacy_notice

pytestmark = pytest.mark.browser

# Every CSP violation, also those the console does not report as errors (added before any page script runs).
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""

CHARTS = """
() => [...document.querySelectorAll("[data-chart]")].map(el => {
  const chart = window.echarts && window.echarts.getInstanceByDom(el);
  const canvas = el.querySelector("canvas");
  const option = chart ? chart.getOption() : null;
  return {
    name: el.getAttribute("data-chart") + ":" + (el.getAttribute("data-measure") || ""),
    label: (document.getElementById(el.getAttribute("aria-labelledby") || "-") || {textContent: ""}).textContent.trim(),
    instance: !!chart,
    canvas: canvas ? [canvas.width, canvas.height] : null,
    series: option ? option.series.map(s => (s.data || []).length) : [],
  };
})
"""


def _check_charts(page, where: str, minimum: int) -> None:
    page.wait_for_function("() => document.querySelectorAll('[data-chart][data-rendered]').length"
                           " === document.querySelectorAll('[data-chart]').length")
    charts = page.evaluate(CHARTS)
    assert len(charts) >= minimum, f"{where}: {charts}"
    for c in charts:
        assert c["instance"], f"{where}: {c['name']} has no ECharts instance"
        assert c["canvas"] and c["canvas"][0] > 0 and c["canvas"][1] > 0, f"{where}: {c['name']} has no canvas"
        assert c["series"] and all(n > 0 for n in c["series"]), f"{where}: {c['name']} has no data"
        assert c["label"], f"{where}: {c['name']} has no accessible name"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{where} overflows"


def test_the_province_admin_reads_the_charts_and_drills_down_to_a_county(browser, live_server_proc,
                                                                        tmp_path_factory):
    server = live_server_proc
    shots = tmp_path_factory.getbasetemp()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # a failed load is reported by its address (the browser's own favicon.ico request is no problem of the page)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    try:
        page.goto(server.url + "/login/")
        page.fill("#id_username", "zj_admin")
        page.fill("#id_password", DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        agree_to_privacy_notice(page)
        page.wait_for_url("**/dashboard/")

        # The start page sends the admin of one province to its dashboard.
        page.goto(server.url + "/dashboards/")
        page.wait_for_url("**/dashboards/*/")
        assert page.locator("h1").inner_text().startswith("浙江省")
        _check_charts(page, "province", 8)
        page.screenshot(path=str(shots / "dashboard-province.png"), full_page=True)

        # Drill down by the names in the table of the regions below: a city, then a county.
        page.locator("table.drill a[data-drill]", has_text="杭州市").click()
        page.wait_for_url("**/dashboards/*/?year=*")
        assert page.locator("h1").inner_text().startswith("杭州市")
        assert "浙江省" in page.locator("nav.crumbs").inner_text()
        _check_charts(page, "city", 8)
        page.screenshot(path=str(shots / "dashboard-city.png"), full_page=True)

        page.locator("table.drill a[data-drill]", has_text="西湖区").click()
        page.wait_for_url("**/dashboards/*/?year=*")
        assert page.locator("h1").inner_text().startswith("西湖区")
        assert page.locator("table.drill").count() == 0  # a county: its own figures only
        _check_charts(page, "county", 8)
        page.screenshot(path=str(shots / "dashboard-county.png"), full_page=True)

        # The figures of a chart are readable without it.
        details = page.locator("figure.chart-box details").first
        details.locator("summary").click()
        assert details.locator("table tbody tr").count() == 5  # five years

        assert page.evaluate("window.__csp") == [], "Content-Security-Policy violations"
        assert not problems, problems
    finally:
        context.close()
