"""The mediacentre's entry into single sign-on: `domaineGar?idENT=&idEtab=&idSrc=`.

Each value is Base64 (GAR_REFERENCE §2); a variant carries `idRessource` (URL-encoded ARK)
instead of `idSrc`. Decoding is strict: anything else is refused, never guessed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from broker.errors import FlowError

_MAX_PARAM = 512


@dataclass(frozen=True)
class Entry:
    ent_id: str
    uai: str
    resource_id: str


def _b64(params: Mapping[str, str], name: str) -> str:
    raw = params.get(name, "")
    if not raw or len(raw) > _MAX_PARAM:
        raise FlowError("mediacentre.bad_request", f"{name} missing or too long")
    # An unencoded "+" in a query string arrives as a space: put it back.
    text = raw.replace(" ", "+")
    try:
        value = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise FlowError("mediacentre.bad_request", f"{name} is not Base64") from error
    if not value.isprintable() or not value.strip():
        raise FlowError("mediacentre.bad_request", f"{name} is empty or has control characters")
    return value.strip()


def read_entry(params: Mapping[str, str]) -> Entry:
    if params.get("idRessource") and not params.get("idSrc"):
        resource_id = params["idRessource"]
        if len(resource_id) > _MAX_PARAM or not resource_id.isprintable():
            raise FlowError("mediacentre.bad_request", "idRessource")
    else:
        resource_id = _b64(params, "idSrc")
    return Entry(ent_id=_b64(params, "idENT"), uai=_b64(params, "idEtab"), resource_id=resource_id)


def entry_query(ent_id: str, uai: str, resource_id: str) -> str:
    """The query string a mediacentre tile links to (used by the list API and tests)."""

    def enc(value: str) -> str:
        return base64.b64encode(value.encode("utf-8")).decode("ascii")

    return urlencode({"idENT": enc(ent_id), "idEtab": enc(uai), "idSrc": enc(resource_id)})
