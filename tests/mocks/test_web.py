"""Shared page helpers: French error pages with stable codes, never a stack trace."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from services.web import error_page, install_error_handlers, make_environment, render
from tests.mocks.conftest import error_code

pytestmark = pytest.mark.anyio


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, name="Service de test")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    @app.get("/refuse", response_class=HTMLResponse)
    async def refuse(request: Request) -> HTMLResponse:
        return error_page(request, 403, "demo.refused", "Accès refusé", "Raison <b>précise</b>",
                          "Réessayez plus tard.")

    @app.get("/detailed", response_class=HTMLResponse)
    async def detailed(request: Request) -> HTMLResponse:
        return error_page(request, 400, "demo.bad", "Refus", "Raison", "Action",
                          detail="expected <Issuer> x")

    @app.get("/show", response_class=HTMLResponse)
    async def show(request: Request, value: str) -> HTMLResponse:
        return render(make_environment(None), request, "error.html", code=value, title=value,
                      reason=value, action=value)

    @app.get("/number/{n}")
    async def number(n: int) -> dict[str, int]:
        return {"n": n}

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_error_page_is_french_and_shows_the_stable_code(client):
    page = await client.get("/refuse")
    assert page.status_code == 403
    assert '<html lang="fr">' in page.text
    assert "<main" in page.text
    assert "Service de test" in page.text
    assert error_code(page.text) == "demo.refused"
    assert "Raison &lt;b&gt;précise&lt;/b&gt;" in page.text


async def test_technical_detail_is_shown_escaped(client):
    page = await client.get("/detailed")
    assert "Détail technique" in page.text
    assert "expected &lt;Issuer&gt; x" in page.text


async def test_values_are_escaped(client):
    page = await client.get("/show", params={"value": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_unhandled_error_is_a_generic_french_page_with_a_correlation_id(client, caplog):
    with caplog.at_level(logging.ERROR, logger="gar_testbed.web"):
        page = await client.get("/boom", headers={"accept": "text/html"})
    assert page.status_code == 500
    assert error_code(page.text) == "server.error"
    assert "secret internal detail" not in page.text
    assert "Traceback" not in page.text
    correlation_id = page.headers["x-correlation-id"]
    assert correlation_id in page.text
    assert any(correlation_id in record.getMessage() for record in caplog.records)


async def test_unknown_page_is_a_french_404(client):
    page = await client.get("/nulle-part", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert error_code(page.text) == "http.404"
    assert "Page introuvable" in page.text


async def test_invalid_parameter_is_a_400_with_a_code(client):
    page = await client.get("/number/abc", headers={"accept": "text/html"})
    assert page.status_code == 400
    assert error_code(page.text) == "request.invalid"


async def test_api_clients_get_problem_json(client):
    answer = await client.get("/nulle-part", headers={"accept": "application/json"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "http.404"


async def test_pages_carry_security_headers(client):
    page = await client.get("/refuse")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
