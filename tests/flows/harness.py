"""A browser, for the httpx-driven end-to-end tests: follows redirects and auto-posts forms.

The three real ASGI apps run in process; one transport routes each request to the app whose
base URL it targets, exactly as the loopback network would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload
from urllib.parse import urljoin, urlsplit

import httpx
import lxml.html


class Router(httpx.AsyncBaseTransport):
    """Send each request to the in-process app serving its host and port."""

    def __init__(self, apps: dict[str, object]) -> None:
        self._transports = {
            origin: httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            for origin, app in apps.items()
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        transport = self._transports.get(origin)
        if transport is None:
            raise httpx.ConnectError(f"nothing listens on {origin} in this test", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Form:
    action: str
    fields: dict[str, str]


def auto_post_form(response: httpx.Response) -> Form | None:
    """The SAML HTTP-POST form of a page, if it is one (what a browser's script submits)."""
    if "text/html" not in response.headers.get("content-type", ""):
        return None
    document = lxml.html.fromstring(response.text)
    forms = document.xpath('//form[@id="saml-post"]')
    if not forms:
        return None
    form = forms[0]
    fields = {i.get("name"): i.get("value", "") for i in form.xpath(".//input[@name]")}
    return Form(urljoin(str(response.url), form.get("action")), fields)


@overload
async def walk(browser: httpx.AsyncClient, response: httpx.Response) -> httpx.Response: ...
@overload
async def walk(browser: httpx.AsyncClient, response: httpx.Response, *, stop_at: str) -> Form: ...
async def walk(
    browser: httpx.AsyncClient, response: httpx.Response, *, stop_at: str | None = None
) -> httpx.Response | Form:
    """Follow redirects and auto-submitting SAML forms until a page a person would read.

    With ``stop_at``, stop at the form that would post to that URL and return it (a peer that
    is not served in process, such as a pysaml2 service provider, reads it instead).
    """
    for _ in range(12):
        if response.status_code in (301, 302, 303, 307):
            response = await browser.get(urljoin(str(response.url), response.headers["location"]))
            continue
        form = auto_post_form(response)
        if form is not None and stop_at is not None and form.action == stop_at:
            return form
        if form is None:
            assert stop_at is None, (
                f"no form to {stop_at}: {response.status_code} {response.text[:500]}")
            return response
        response = await browser.post(form.action, data=form.fields)
    raise AssertionError("too many hops")


def login_form(response: httpx.Response) -> Form:
    document = lxml.html.fromstring(response.text)
    form = document.xpath('//form[@id="login-form"]')
    assert form, f"not the identity provider's login page: {response.status_code} {response.url}"
    fields = {
        i.get("name"): i.get("value", "")
        for i in form[0].xpath('.//input[@type="hidden"]')
    }
    return Form(urljoin(str(response.url), form[0].get("action")), fields)


async def log_in(
    browser: httpx.AsyncClient, login_page: httpx.Response, persona: str, *,
    shape: str = "ent", talkative: bool = False,
) -> httpx.Response:
    form = login_form(login_page)
    data = {**form.fields, "persona": persona, "shape": shape}
    if talkative:
        data["talkative"] = "1"
    return await browser.post(form.action, data=data)


def received_attributes(page: httpx.Response) -> dict[str, list[str]]:
    """The attribute table of the provider mock's result page: code -> values."""
    document = lxml.html.fromstring(page.text)
    rows = document.xpath('//table[@id="attributes"]//tr[@data-code]')
    found: dict[str, list[str]] = {}
    for row in rows:
        values = [v.text_content().strip() for v in row.xpath(".//*[@data-value]")]
        found[row.get("data-code")] = values
    return found


def verdict(page: httpx.Response) -> str | None:
    found = lxml.html.fromstring(page.text).xpath('//*[@id="verdict"]')
    return found[0].get("data-result") if found else None


def error_code(page: httpx.Response) -> str | None:
    found = lxml.html.fromstring(page.text).xpath('//*[@id="error-code"]')
    return found[0].text_content().strip() if found else None


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
