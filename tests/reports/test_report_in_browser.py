"""report.html in a real browser (headless Chromium, opened from disk): what a person sees.

Chromium is Debian's (``apt-get install -y chromium fonts-wqy-microhei``: a CJK font too), driven by
the PyPI package ``playwright``; no browser is downloaded. Every request the page makes other than its
own file is refused and recorded: the report must need nothing from a network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from yidi.reports import write
from yidi.suites.document import summary

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RED, GREEN = "rgb(198, 40, 40)", "rgb(46, 125, 50)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get install -y chromium`")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def open_report(browser: Browser, html: Path, **context: Any) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, **context).new_page()
    outside: list[str] = []

    def refuse(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
            return
        outside.append(route.request.url)
        route.abort()

    page.route("**/*", refuse)
    page.goto(html.as_uri())
    page.outside = outside  # type: ignore[attr-defined]
    return page


@pytest.fixture(scope="module")
def fixture_report(tmp_path_factory: pytest.TempPathFactory, frozen_document: dict[str, Any]) -> Path:
    """The fixture document's report, rendered once for the tests that only look."""
    return write(frozen_document, tmp_path_factory.mktemp("report"))["html"]


@pytest.fixture
def page(browser: Browser, fixture_report: Path) -> Iterator[Page]:
    page = open_report(browser, fixture_report)
    yield page
    assert page.outside == [], "the report asked the network for something"  # type: ignore[attr-defined]
    page.context.close()


def test_the_verdict_badge_says_fail_in_red(page: Page) -> None:
    badge = page.locator("#verdict")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("不通过")
    expect(badge).to_contain_text("FAIL")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    expect(page.locator(".verdict-text")).to_contain_text("2 个必测用例未通过")


def test_a_passing_run_is_green(browser: Browser, document: dict[str, Any], tmp_path: Path) -> None:
    document["cases"] = [c for c in document["cases"] if c["outcome"] == "passed"]
    document["summary"] = summary(document["cases"])
    document["verdict"] = "pass"
    page = open_report(browser, write(document, tmp_path)["html"])
    badge = page.locator("#verdict")
    expect(badge).to_contain_text("通过")
    expect(badge).to_contain_text("PASS")
    expect(badge).not_to_contain_text("不通过")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    page.context.close()


def test_the_counts(page: Page, document: dict[str, Any]) -> None:
    for key, n in document["summary"].items():
        expect(page.locator(f'[data-count="{key}"]')).to_have_text(str(n))
    expect(page.locator("#counts")).to_contain_text("必测未通过")


def test_the_charts_are_visible_with_their_labels(page: Page) -> None:
    donut = page.locator("svg.donut")
    expect(donut).to_be_visible()
    box = donut.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    expect(donut).to_contain_text("通过 passed")
    expect(donut).to_contain_text("失败 failed")
    assert donut.locator("circle.arc").count() == 4  # passed, failed, error, skipped: one arc each
    flows = page.locator("svg.flows")
    expect(flows).to_be_visible()
    for label in ("入院 admission", "费用 fees", "结算 settlement", "安全 security", "查询 queries"):
        expect(flows).to_contain_text(label)
    expect(flows).to_contain_text("3/4 通过")  # admission: three passed, JT-ADM-002 failed
    bar = flows.locator("rect.bar.failed").first
    expect(bar).to_be_visible()
    assert bar.evaluate("e => getComputedStyle(e).fill") == RED


def test_the_failed_case_shows_its_reason_and_the_diff(page: Page) -> None:
    card = page.locator("#case-JT-ADM-002")
    expect(card).to_be_visible()
    expect(card).to_contain_text("未备案人员跨省结算应被拒绝")
    expect(card.locator(".reason")).to_contain_text(
        "应拒绝（E3002），实际成功 · R-FILE-01 跨省直接结算须已办理"
    )
    expect(card.locator(".failure-facts .rule")).to_have_text("R-FILE-01")
    removed, added = card.locator(".diff .line.del"), card.locator(".diff .line.add")
    expect(removed.first).to_contain_text('"infcode": "-1 或 -2"')
    expect(added.first).to_contain_text('"infcode": 0')
    colours = {x.evaluate("e => getComputedStyle(e).backgroundColor") for x in (removed.first, added.first)}
    assert len(colours) == 2 and "rgba(0, 0, 0, 0)" not in colours
    # failures come first in the case table
    expect(page.locator("#case-table tbody tr").first).to_have_attribute("data-case", "JT-ADM-002")


def test_a_collapsed_message_opens_on_click_and_shows_chinese(page: Page) -> None:
    message = page.locator("#case-JT-ADM-002 details.msg").first
    request = message.locator("pre.json").first
    expect(request).to_be_hidden()
    message.locator("summary").click()
    expect(request).to_be_visible()
    expect(request).to_contain_text('"opter_name": "收费员甲"')
    expect(request).not_to_contain_text("\\u")
    named = page.locator("#case-JT-ADM-002 details.msg.named")
    expect(named).to_have_count(1)
    expect(named.locator("summary")).to_contain_text("【2303】")


def test_passed_cases_keep_their_messages_collapsed(page: Page) -> None:
    evidence = page.locator("#case-JT-SEC-002")
    expect(evidence.locator("details.msg").first).to_be_hidden()
    evidence.locator("> summary").click()
    expect(evidence.locator("details.msg")).to_have_count(3)
    expect(evidence.locator("details.msg pre.json").first).to_be_hidden()


def test_filtering_the_case_table(page: Page) -> None:
    rows = page.locator("#case-table tbody tr")
    shown = "#case-table tbody tr:visible"
    expect(rows).to_have_count(9)
    page.locator('label[for="show-bad"]').click()
    expect(page.locator(shown)).to_have_count(2)
    expect(page.locator(shown).nth(1)).to_have_attribute("data-case", "JT-SET-008")
    page.locator('label[for="show-passed"]').click()
    expect(page.locator(shown)).to_have_count(6)
    page.locator('label[for="show-mandatory"]').click()
    expect(page.locator(shown)).to_have_count(8)
    page.locator('label[for="show-all"]').click()
    expect(page.locator(shown)).to_have_count(9)


def test_it_reads_the_same_without_javascript(
    browser: Browser, document: dict[str, Any], tmp_path: Path
) -> None:
    page = open_report(browser, write(document, tmp_path)["html"], java_script_enabled=False)
    page.locator('label[for="show-skipped"]').click()
    expect(page.locator("#case-table tbody tr:visible")).to_have_count(1)
    message = page.locator("#case-JT-ADM-002 details.msg").last
    message.locator("summary").click()
    expect(message.locator("pre.json").last).to_contain_text("彭兵")
    page.context.close()


def test_a_demonstration_is_visibly_no_certificate(
    browser: Browser, document: dict[str, Any], tmp_path: Path
) -> None:
    document["mutants"] = ["skip-filing-check"]
    page = open_report(browser, write(document, tmp_path)["html"])
    banner = page.locator("#demonstration")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("演示运行，非认证结论")
    expect(banner).to_contain_text("skip-filing-check")
    expect(page.locator("#verdict")).to_contain_text("演示")
    page.context.close()


def test_the_footer_carries_the_issuer_and_its_signature(page: Page) -> None:
    footer = page.locator("#seal")
    expect(footer).to_contain_text("签名有效 signature valid")
    expect(footer).to_contain_text("yidi report verify certification.json --issuer-key")
    assert len(footer.locator(".digest").inner_text().strip()) == 64  # the key's fingerprint


def test_a_screenshot_for_people(page: Page, tmp_path: Path) -> None:
    """A picture of the first screen, kept beside the test's files (``--basetemp`` to keep it)."""
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


# the CJK fonts the report's stack names (report.css) that Linux distributions ship
CJK_FONTS = {"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei"}


def test_the_chinese_text_is_drawn_with_a_cjk_font_of_the_stack_not_boxes(page: Page) -> None:
    """Where no CJK font is installed, Chinese renders as boxes: the fonts the browser really used for the
    verdict and a case title (DevTools' platform fonts) must be CJK fonts the report's stack names; the
    test command installs one (fonts-wqy-microhei)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    for selector in ("#verdict", "h1"):
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, selector
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        used = {f["familyName"] for f in fonts if f["glyphCount"]}
        assert used & CJK_FONTS, (selector, fonts)
    stack = page.locator("body").evaluate("e => getComputedStyle(e).fontFamily")
    assert all(font in stack for font in ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei"))
