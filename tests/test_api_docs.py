"""/docs works without internet and under a strict Content-Security-Policy.

The API's documentation page in Debian's chromium (tests/browser.py), every request outside
the app refused (and recorded): Swagger UI must come from the package, and draw the API's
own schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from notifier.store import Store
from tests.support.builders import serve_site

STRICT = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"


@pytest.fixture
def url(store: Store) -> Iterator[str]:
    with serve_site(store) as site:
        yield site.url


def docs_page(browser: Browser, url: str, csp: str | None = None) -> tuple[Page, list[str]]:
    """/docs in a fresh page; requests leaving the app are refused and listed."""
    outside: list[str] = []
    page = browser.new_context().new_page()

    def only_here(route: Route) -> None:
        if not route.request.url.startswith(url + "/"):
            outside.append(route.request.url)
            route.abort()
        elif csp and route.request.url.startswith(f"{url}/docs"):
            answer = route.fetch()
            route.fulfill(
                response=answer, headers={**answer.headers, "content-security-policy": csp}
            )
        else:
            route.continue_()

    page.route("**/*", only_here)
    page.goto(f"{url}/docs")
    return page, outside


def test_docs_draw_the_schema_with_nothing_from_outside(browser: Browser, url: str) -> None:
    page, outside = docs_page(browser, url)
    try:
        page.locator(".swagger-ui .info .title").get_by_text("notifier").wait_for(timeout=15000)
        page.get_by_text("/v1/events/batch").first.wait_for()
        assert outside == []
    finally:
        page.context.close()


def test_docs_work_under_a_strict_content_security_policy(browser: Browser, url: str) -> None:
    page, outside = docs_page(browser, url, csp=STRICT)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    try:
        page.reload()
        page.locator(".swagger-ui .info .title").get_by_text("notifier").wait_for(timeout=15000)
        assert refused == [] and outside == []
    finally:
        page.context.close()


def test_docs_page_has_no_inline_script(url: str) -> None:
    html = httpx.get(f"{url}/docs").text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts and all(
        re.search(r'src="/static/[^"]+"', attributes) and not body.strip()
        for attributes, body in scripts
    )
    assert "http" not in html  # nothing from another address
    assert httpx.get(f"{url}/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
