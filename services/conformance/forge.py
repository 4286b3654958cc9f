"""Responses as the broker's identity provider would send them, then broken on purpose.

One :class:`Recipe` describes a scenario's message declaratively: which person (profile),
edits made *before* signing (a wrong audience the signature then vouches for), how each of
Response and Assertion is signed (key, KeyInfo, algorithm), and rewrites made *after*
signing (a modified attribute, a wrapped copy). Scenario tables are lists of recipes, so a
new case is one line, not a new function. Also used by the tests that forge messages.
"""

from __future__ import annotations

import base64
import secrets
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from services.conformance import signatures
from services.keys import KeyPair
from services.saml import build
from services.saml.constants import NAMEID_TRANSIENT, NS
from services.saml.xml import to_bytes
from services.uai import make_uai

SAML = NS["saml"]
SAMLP = NS["samlp"]


@dataclass(frozen=True)
class Pending:
    """An AuthnRequest the service provider sent: what the Response must answer."""

    request_id: str
    relay_state: str | None
    acs_url: str | None


def pending_from_redirect(location: str) -> Pending:
    """Read the AuthnRequest carried by an HTTP-Redirect URL (no signature check: we only
    need its ID, RelayState and ACS to answer it)."""
    query = parse_qs(urlsplit(location).query)
    raw = base64.b64decode(query["SAMLRequest"][0])
    relay = query.get("RelayState")
    return _pending(zlib.decompress(raw, -15), relay[0] if relay else None)


def pending_from_post(saml_request: str, relay_state: str | None) -> Pending:
    return _pending(base64.b64decode(saml_request), relay_state)


def _pending(xml: bytes, relay_state: str | None) -> Pending:
    from services.saml.xml import parse

    request = parse(xml, max_bytes=1 << 20)
    request_id = request.get("ID")
    if not request_id:
        raise ValueError("the AuthnRequest has no ID")
    return Pending(request_id, relay_state, request.get("AssertionConsumerServiceURL"))


def encode(element: etree._Element | bytes) -> str:
    """The base64 value of a ``SAMLResponse`` form field."""
    data = element if isinstance(element, bytes) else to_bytes(element)
    return base64.b64encode(data).decode()


# --------------------------------------------------------------------------- GAR attributes


def ido() -> str:
    """A fresh opaque identifier in the broker's shape: 128 hexadecimal characters."""
    return secrets.token_hex(64)


@dataclass(frozen=True)
class Persona:
    profile: str
    attributes: dict[str, list[str]]


def persona(profile: str, *, uai: Sequence[str] | None = None) -> Persona:
    """A person of ``profile`` (student, teacher, librarian) as the broker releases them."""
    code = {"student": "National_elv", "teacher": "National_ens",
            "librarian": "National_doc"}[profile]
    identifier = ido()
    establishments = list(uai or [make_uai(650499)])
    attributes: dict[str, list[str]] = {
        "IDO": [identifier], "UAI": establishments, "PRO": [code],
        "NOM": ["Martin"], "PRE": ["Camille"], "CIV": ["Mme"],
    }
    if profile == "student":
        attributes["DIV"] = ["4A##4e A"]
        attributes["GRO"] = ["4A-G1##4e A groupe 1"]
    else:
        attributes["P_MEL"] = [f"camille.martin{secrets.randbelow(1000)}@ac-test.fr"]
        attributes["P_MAT"] = ["L0100##MATHEMATIQUES"]
        attributes["DIV"] = ["4A##4e A", "3B##3e B"]
    if profile == "teacher":
        attributes["P_MS4"] = ["1004"]
    return Persona(profile, attributes)


# --------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Context:
    """Everything a recipe may read: who signs, for whom, when, answering what."""

    idp_entity_id: str
    key: KeyPair
    attacker: KeyPair
    sp_entity_id: str
    acs_url: str
    requested: tuple[str, ...]
    now: datetime
    pending: Pending | None


@dataclass
class Parts:
    """The two unsigned elements a ``before`` edit works on."""

    response: etree._Element
    assertion: etree._Element
    context: Context


Edit = Callable[[Parts], None]
Rewrite = Callable[[etree._Element, Context], etree._Element]


@dataclass(frozen=True)
class Signer:
    """How one element is signed: ``key`` is "sandbox" (trusted), "attacker" or "none"."""

    key: str = "sandbox"
    #: "own", "trusted" (the sandbox certificate), "clone" (a self-signed copy of the
    #: sandbox certificate's names around the signing key), "none".
    keyinfo: str = "own"
    algorithm: str | None = None
    after: tuple[Callable[[etree._Element, Context], None], ...] = ()


SIGNED = Signer()
UNSIGNED = Signer(key="none")


@dataclass(frozen=True)
class Recipe:
    profile: str = "student"
    uai: tuple[str, ...] = ()
    #: Sent as they are, requested or not (they replace the persona's values).
    extra_attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: Persona attributes sent even when the service provider did not request them.
    always: tuple[str, ...] = ()
    #: A fixed NameID (default: a fresh transient one per Response).
    name_id: str | None = None
    before: tuple[Edit, ...] = ()
    assertion: Signer = SIGNED
    response: Signer = SIGNED
    after: tuple[Rewrite, ...] = ()

    def but(self, **changes: object) -> Recipe:
        return replace(self, **changes)  # type: ignore[arg-type]


def _apply_signer(element: etree._Element, signer: Signer, ctx: Context) -> etree._Element:
    if signer.key == "none":
        return element
    key = ctx.key if signer.key == "sandbox" else ctx.attacker
    keyinfo: KeyPair | bool = (ctx.key if signer.keyinfo == "trusted"
                               else signatures.clone_certificate(ctx.key, key)
                               if signer.keyinfo == "clone" else signer.keyinfo != "none")
    signed = signatures.sign(element, key, algorithm=signer.algorithm, keyinfo=keyinfo)
    for edit in signer.after:
        edit(signed, ctx)
    return signed


def released(recipe: Recipe, requested: Sequence[str]) -> Persona:
    """The persona of ``recipe`` as the broker would release it to this service provider:
    only the attributes it requested in its metadata (all when it requested none), plus the
    recipe's ``always`` and ``extra_attributes``."""
    who = persona(recipe.profile, uai=recipe.uai or None)
    attributes = {code: values for code, values in who.attributes.items()
                  if not requested or code in requested or code in recipe.always}
    attributes.update({k: list(v) for k, v in recipe.extra_attributes.items()})
    return Persona(who.profile, attributes)


def forge(recipe: Recipe, ctx: Context) -> tuple[etree._Element, Persona]:
    """The Response of ``recipe``, and the persona whose attributes it carries."""
    who = released(recipe, ctx.requested)
    attributes = who.attributes
    irt = ctx.pending.request_id if ctx.pending is not None else None
    assertion = build.assertion(
        issuer=ctx.idp_entity_id, name_id=recipe.name_id or build.new_id(),
        name_id_format=NAMEID_TRANSIENT,
        audience=ctx.sp_entity_id, recipient=ctx.acs_url, in_response_to=irt,
        attributes=attributes, session_index=build.new_id(), lifetime_seconds=300, now=ctx.now,
    )
    response = build.response(issuer=ctx.idp_entity_id, destination=ctx.acs_url,
                              in_response_to=irt, assertion=None, now=ctx.now)
    parts = Parts(response, assertion, ctx)
    for edit in recipe.before:
        edit(parts)
    response.append(_apply_signer(parts.assertion, recipe.assertion, ctx))
    root = _apply_signer(response, recipe.response, ctx)
    for rewrite in recipe.after:
        root = rewrite(root, ctx)
    return root, who


# --------------------------------------------------------------------------- small helpers


def find(root: etree._Element, path: str) -> etree._Element:
    """The first element at ``path`` (``saml:``/``samlp:`` prefixes), or ValueError."""
    found = root.find(path, NS)
    if found is None:
        raise ValueError(f"{path} not found")
    return found


def first_assertion(root: etree._Element) -> etree._Element:
    return find(root, "saml:Assertion")


def shifted(now: datetime, seconds: int) -> str:
    return build.instant(now + timedelta(seconds=seconds))
