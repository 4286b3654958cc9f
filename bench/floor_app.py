"""The stack's floor for an SSO flow: the broker's two requests with nothing of the broker.

Served by ``http_floor.py`` under the same uvicorn as the broker. ``GET /sso`` answers a 303
with a Location the size of the broker's (a deflated AuthnRequest and its signature);
``POST /acs`` reads a form the size of an identity provider's Response and answers an
auto-post page the size of the broker's. ``GAR_FLOOR_MODE`` says what else they do:

- ``plain``: nothing (FastAPI + uvicorn + HTTP, the broker's endpoint shapes: the SSO
  endpoint a sync ``def``, run in the thread pool; the ACS an ``async def`` reading the body
  that hands its work to the thread pool);
- ``crypto``: also the RSA work of a SAML flow (SSO: 1 verification, 1 signature; ACS:
  1 verification, 2 signatures), on the request's bytes, with the broker's key type;
- ``database``: ``crypto`` plus the login's database round trips as the cheapest statements
  the driver sends (psycopg, no SQLAlchemy: ``SELECT %s`` with one parameter, then COMMIT),
  as many as the broker's login has (``bench/sso_profile.py``: SSO 4 + COMMIT, ACS 8 +
  COMMIT), on ``GAR_FLOOR_DATABASE`` (a PostgreSQL URL), one connection per worker thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

LOCATION = "http://127.0.0.1:9/sso?SAMLRequest=" + "A" * 900 + "&SigAlg=x&Signature=" + "B" * 344
PAGE = "<html><body><form>" + "C" * 8000 + "</form></body></html>"


def create_app() -> FastAPI:
    mode = os.environ.get("GAR_FLOOR_MODE", "plain")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    sha256, pkcs1 = hashes.SHA256(), padding.PKCS1v15()
    signature = key.sign(b"floor", pkcs1, sha256)

    def rsa_work(data: bytes, verifications: int, signatures: int, statements: int) -> None:
        for _ in range(verifications):
            public.verify(signature, b"floor", pkcs1, sha256)
        for _ in range(signatures):
            key.sign(data, pkcs1, sha256)

    local = threading.local()

    def round_trips(statements: int) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            import psycopg

            connection = local.connection = psycopg.connect(os.environ["GAR_FLOOR_DATABASE"])
        for number in range(statements):
            connection.execute("SELECT %s", (number,)).fetchone()
        connection.commit()

    def database_work(data: bytes, verifications: int, signatures: int, statements: int) -> None:
        rsa_work(data, verifications, signatures, statements)
        round_trips(statements)

    work: Callable[[bytes, int, int, int], None] = {
        "crypto": rsa_work, "database": database_work,
    }.get(mode, lambda data, verifications, signatures, statements: None)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    inline = os.environ.get("GAR_FLOOR_INLINE") == "1"

    def sso_step(query: str) -> Response:
        work(query.encode(), 1, 1, 4)  # as sso_profile.py counts the SSO: 4 statements
        return Response(status_code=303, headers={"location": LOCATION})

    def acs_step(body: bytes) -> Response:
        form = parse_qs(body.decode())
        work(form["SAMLResponse"][0].encode(), 1, 2, 8)  # the ACS: 8 statements
        return Response(PAGE, media_type="text/html")

    if inline:  # the work on the event loop's thread: no hand-off to the thread pool
        @app.get("/sso")
        async def sso_inline(request: Request) -> Response:
            return sso_step(request.url.query)

        @app.post("/acs")
        async def acs_inline(request: Request) -> Response:
            return acs_step(await request.body())
    else:  # as the broker: the SSO a sync def, the ACS reading its body then handing off
        @app.get("/sso")
        def sso(request: Request) -> Response:
            return sso_step(request.url.query)

        @app.post("/acs")
        async def acs(request: Request) -> Response:
            return await run_in_threadpool(acs_step, await request.body())

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
