"""ENT side: is a Response from an ENT's identity provider one the GAR will accept?

Two sources: a Response captured earlier (a file), or one the harness's own service provider
(:mod:`services.conformance.ent_sandbox`) has just received at its ACS. Each rule gets its own
line, so one run shows every problem rather than the first: the signature (with the
metadata's certificates only; every value after it is read from the element it covers), its
algorithms (SHA-1 as signature *or* digest is flagged: the broker takes it only from an ENT
its operator allowed, and the strict mode never), Issuer, Destination, Recipient, Audience,
InResponseTo, the times of Conditions, SubjectConfirmationData and IssueInstant against the
clock skew, the NameID format, the attributes of either upstream shape (ENT: ``idEnt`` +
``GARPersonIdentifiant``; ÉduConnect: ``FrEduCtRefId`` ``{AAF}``), profile codes (any case,
upper case flagged) and UAI check letters where present.

The last line is the broker's own verdict, :func:`services.saml.validate.validate_response`
run with the same expectations: the lines above explain, that one decides, so the harness
never calls compatible a Response the broker would refuse.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from lxml import etree

from broker.directory import parse_educonnect_ref_id
from services.attributes import normalise_profile
from services.conformance.checks import Check, uai
from services.saml.build import instant, parse_instant
from services.saml.constants import (
    ALG_RSA_SHA1,
    CM_BEARER,
    DIGEST_SHA1,
    NAMEID_PERSISTENT,
    NAMEID_TRANSIENT,
    NS,
    STATUS_SUCCESS,
)
from services.saml.errors import SamlError
from services.saml.signing import verify
from services.saml.validate import validate_response
from services.saml.xml import parse, text_of

_SAML = NS["saml"]
_SAMLP = NS["samlp"]
_DS = NS["ds"]
PROFILE_ATTRIBUTES = ("PRO", "profil", "FrEduCtProfil", "GARPersonProfil")
UAI_ATTRIBUTES = ("UAI", "FrEduCtUai", "GARStructureUAI")
_MAX_REF_VALUES = 16  # the broker reads no more FrEduCtRefId values than this
_TIME_FIX = ("Synchronisez l'horloge du fournisseur d'identité (NTP) et donnez à l'assertion "
             "quelques minutes de validité.")


@dataclass(frozen=True)
class Expected:
    """What a Response must match; ``None`` leaves a rule out (a capture says nothing of the
    request it answered, nor always of the service provider it was for)."""

    issuer: str | None = None  # the identity provider's entityID, from its metadata
    sp_entity_id: str | None = None  # Audience
    acs_url: str | None = None  # Destination and Recipient
    request_id: str | None = None  # the AuthnRequest a solicited Response answers
    live: bool = False  # received just now (times judged now), or a capture
    strict: bool = False  # SHA-1 and wrong UAI check letters are errors, not warnings
    ent_ids: tuple[str, ...] = ()  # the idEnt values the GAR knows for this ENT
    skew: timedelta = timedelta(minutes=2)


def decode(raw: bytes) -> bytes:
    """A captured Response as XML or as the base64 value of the SAMLResponse field."""
    stripped = raw.strip()
    if stripped.startswith(b"<"):
        return stripped
    try:
        return base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        return stripped


def response(raw: bytes, certificates: Sequence[x509.Certificate],
             expected: Expected = Expected(), *, now: datetime | None = None,
             max_bytes: int = 1 << 20) -> list[Check]:
    """Every line for a captured Response (XML, or base64 as the form field carried it)."""
    try:
        root = parse(decode(raw), max_bytes=max_bytes)
    except SamlError as exc:
        return [unreadable(exc)]
    return checks(root, certificates, expected, now=now)


def unreadable(exc: SamlError) -> Check:
    return Check("response.readable", "Réponse SAML lisible", "error",
                 f"{exc.code} : {exc.detail[:200]}",
                 "Envoyez une samlp:Response SAML 2.0 (XML UTF-8 sans DTD, en base64 dans le "
                 "champ SAMLResponse d'un POST).", "une samlp:Response SAML 2.0 lisible")


def checks(root: etree._Element, certificates: Sequence[x509.Certificate],
           expected: Expected, *, now: datetime | None = None) -> list[Check]:
    now = now or datetime.now(UTC)
    if root.tag != f"{{{_SAMLP}}}Response":
        return [Check("response.readable", "Réponse SAML lisible", "error", str(root.tag)[:120],
                      "Envoyez une samlp:Response.", "une samlp:Response SAML 2.0")]
    found = [Check("response.readable", "Réponse SAML lisible", "ok", root.get("ID") or "?",
                   expected="une samlp:Response SAML 2.0")]
    found.append(_status(root))
    if not found[-1].passed:
        return found
    claimed = _single_assertion(root, found)
    if claimed is None:
        return found
    response_el, assertion, signed_response = _signatures(root, claimed, certificates,
                                                          expected.strict, found)
    data = _bearer_data(assertion)
    found += [check for check in (
        _issuer(response_el, assertion, expected.issuer),
        _destination(response_el, signed_response, expected.acs_url),
        _recipient(data, expected.acs_url),
        _audience(assertion, expected.sp_entity_id),
        _in_response_to(response_el, data, expected),
    ) if check is not None]
    found += _times(assertion, data, expected, now)
    found.append(_name_id(assertion))
    found += _attribute_checks(assertion, expected)
    verdict = _verdict(root, certificates, expected, now)
    if verdict is not None:
        found.append(verdict)
    return found


def _status(root: etree._Element) -> Check:
    code = root.find(f"{{{_SAMLP}}}Status/{{{_SAMLP}}}StatusCode")
    value = code.get("Value") if code is not None else None
    if value == STATUS_SUCCESS:
        return Check("response.status", "Statut de la réponse", "ok", "Success",
                     expected="Success")
    message = root.find(f"{{{_SAMLP}}}Status/{{{_SAMLP}}}StatusMessage")
    seen = (value or "absent") + (f" : {text_of(message).strip()[:200]}" if message is not None
                                  else "")
    return Check("response.status", "Statut de la réponse", "error", seen,
                 "Le fournisseur d'identité signale un échec : voyez son journal (StatusCode "
                 "et StatusMessage) ; une connexion réussie répond Success.", "Success")


def _single_assertion(root: etree._Element, found: list[Check]) -> etree._Element | None:
    assertions = list(root.iter(f"{{{_SAML}}}Assertion"))
    encrypted = next(root.iter(f"{{{_SAML}}}EncryptedAssertion"), None) is not None
    title, expected = "Une seule assertion, en clair", "une saml:Assertion fille de la Response"
    if encrypted:
        found.append(Check("response.assertion", title, "error", "EncryptedAssertion",
                           "Ne chiffrez pas l'assertion pour le GAR : il ne lit que des "
                           "assertions en clair (transport HTTPS).",
                           expected))
    elif len(assertions) != 1 or assertions[0].getparent() is not root:
        seen = (f"{len(assertions)} assertion(s)" if len(assertions) != 1
                else "l'assertion n'est pas fille directe de la Response")
        found.append(Check("response.assertion", title, "error", seen,
                           "Envoyez exactement une assertion, fille directe de la Response.",
                           expected))
    else:
        found.append(Check("response.assertion", title, "ok", assertions[0].get("ID") or "?",
                           expected=expected))
        return assertions[0]
    return None


def _signatures(root: etree._Element, claimed: etree._Element,
                certificates: Sequence[x509.Certificate], strict: bool, found: list[Check]
                ) -> tuple[etree._Element, etree._Element, bool]:
    """Verify each signature present; return the Response and Assertion to read from (the
    signed copies when their signature holds) and whether the Response is signed."""
    parts = [(element, name, label) for element, name, label in (
        (root, "response", "de la Response"), (claimed, "assertion", "de l'Assertion"))
        if element.find(f"{{{_DS}}}Signature") is not None]
    expected = "signée avec un certificat de vos métadonnées"
    if not parts:
        found.append(Check("response.signature", "Réponse ou assertion signée", "error",
                           "aucune signature", "Signez l'assertion (RSA-SHA256) avec la clé "
                           "dont le certificat est dans vos métadonnées.",
                           "l'Assertion ou la Response signée"))
        return root, claimed, False
    response_el, assertion = root, claimed
    for element, name, label in parts:
        try:
            signed = verify(element, certificates, allow_sha1=True)
        except SamlError as exc:
            found.append(Check(f"response.signature.{name}", f"Signature {label}", "error",
                               f"{exc.code} : {exc.detail[:200]}",
                               "Signez avec la clé dont le certificat est dans vos métadonnées, "
                               "sans modifier le document après signature.", expected))
            continue
        found.append(Check(f"response.signature.{name}", f"Signature {label}", "ok",
                           "vérifiée avec le certificat des métadonnées ; les contrôles "
                           "suivants lisent l'élément signé", expected=expected))
        found.append(_algorithms(element, name, label, strict))
        if name == "response":
            response_el = signed
            inside = signed.find(f"{{{_SAML}}}Assertion")
            assertion = inside if inside is not None else assertion
        else:
            assertion = signed
    return response_el, assertion, any(name == "response" for _, name, _ in parts)


def _algorithms(element: etree._Element, name: str, label: str, strict: bool) -> Check:
    info = f"{{{_DS}}}Signature/{{{_DS}}}SignedInfo/"
    method = element.find(f"{info}{{{_DS}}}SignatureMethod")
    digest = element.find(f"{info}{{{_DS}}}Reference/{{{_DS}}}DigestMethod")
    signature_alg = method.get("Algorithm") if method is not None else None
    digest_alg = digest.get("Algorithm") if digest is not None else None
    weak = [what for what, algorithm, sha1 in (
        ("signature RSA-SHA1", signature_alg, ALG_RSA_SHA1),
        ("empreinte SHA-1", digest_alg, DIGEST_SHA1)) if algorithm == sha1]
    seen = f"SignatureMethod {signature_alg or '?'} ; DigestMethod {digest_alg or '?'}"
    title, expected = f"Algorithmes de la signature {label}", "RSA-SHA256 et empreinte SHA-256"
    if not weak:
        return Check(f"response.algorithm.{name}", title, "ok", seen, expected=expected)
    weakness = " et ".join(weak)
    return Check(f"response.algorithm.{name}", title, "error" if strict else "warning", seen,
                 f"{weakness[0].upper()}{weakness[1:]} : le GAR ne l'accepte que si son opérateur "
                 "l'autorise pour votre ENT (trust add --allow-sha1), jamais en mode strict. "
                 "Signez en RSA-SHA256 avec une empreinte SHA-256.", expected)


def _bearer_data(assertion: etree._Element) -> etree._Element | None:
    for confirmation in assertion.findall(f"{{{_SAML}}}Subject/{{{_SAML}}}SubjectConfirmation"):
        if confirmation.get("Method") == CM_BEARER:
            return confirmation.find(f"{{{_SAML}}}SubjectConfirmationData")
    return None


def _issuer(response_el: etree._Element, assertion: etree._Element, issuer: str | None
            ) -> Check | None:
    if issuer is None:
        return None
    seen_values = [text_of(el).strip() for el in (
        assertion.find(f"{{{_SAML}}}Issuer"), response_el.find(f"{{{_SAML}}}Issuer"))
        if el is not None]
    good = bool(seen_values) and all(value == issuer for value in seen_values)
    return Check("response.issuer", "Issuer = entityID des métadonnées",
                 "ok" if good else "error", " ; ".join(seen_values) or "absent",
                 "" if good else "L'Issuer de l'assertion (et de la Response) doit être "
                 "l'entityID de vos métadonnées.", issuer)


def _destination(response_el: etree._Element, signed: bool, acs_url: str | None
                 ) -> Check | None:
    if acs_url is None:
        return None
    value = response_el.get("Destination")
    title = "Destination = ACS du GAR"
    if value is None and not signed:
        return Check("response.destination", title, "ok", "(absente : admis, Response non "
                     "signée)", expected=acs_url)
    good = value == acs_url
    return Check("response.destination", title, "ok" if good else "error",
                 (value or "(absente)")[:200], "" if good else
                 f"Destination doit être l'ACS du GAR, {acs_url} (obligatoire quand la "
                 "Response est signée).", acs_url)


def _recipient(data: etree._Element | None, acs_url: str | None) -> Check | None:
    if acs_url is None:
        return None
    title = "Recipient = ACS du GAR"
    if data is None:
        return Check("response.recipient", title, "error", "aucune SubjectConfirmation bearer "
                     "avec ses données", "Ajoutez une SubjectConfirmation Method=bearer avec "
                     "SubjectConfirmationData (Recipient, NotOnOrAfter, InResponseTo).", acs_url)
    recipient = data.get("Recipient")
    good = recipient == acs_url
    return Check("response.recipient", title, "ok" if good else "error",
                 (recipient or "(absent)")[:200],
                 "" if good else f"Le Recipient doit être l'ACS du GAR, {acs_url}.", acs_url)


def _audience(assertion: etree._Element, sp_entity_id: str | None) -> Check | None:
    if sp_entity_id is None:
        return None
    title = "Audience = entityID du GAR"
    restrictions = assertion.findall(f"{{{_SAML}}}Conditions/{{{_SAML}}}AudienceRestriction")
    groups = [[text_of(a).strip() for a in r.findall(f"{{{_SAML}}}Audience")]
              for r in restrictions]
    seen = " | ".join(", ".join(g) or "(vide)" for g in groups) or "aucune AudienceRestriction"
    good = bool(groups) and all(sp_entity_id in group for group in groups)
    return Check("response.audience", title, "ok" if good else "error", seen[:300],
                 "" if good else f"Restreignez l'assertion à l'entityID du GAR, {sp_entity_id} "
                 "(chaque AudienceRestriction doit le contenir).", sp_entity_id)


def _in_response_to(response_el: etree._Element, data: etree._Element | None,
                    expected: Expected) -> Check | None:
    on_response = response_el.get("InResponseTo")
    on_data = data.get("InResponseTo") if data is not None else None
    seen = (f"Response : {on_response or '(absent)'} ; "
            f"SubjectConfirmationData : {on_data or '(absent)'}")
    title = "InResponseTo"
    if expected.request_id is not None:
        good = on_data == expected.request_id and on_response in (None, expected.request_id)
        return Check("response.in_response_to", title, "ok" if good else "error", seen,
                     "" if good else "Reprenez l'ID de l'AuthnRequest reçue dans InResponseTo, "
                     "sur la Response et sur SubjectConfirmationData.",
                     f"{expected.request_id} (l'AuthnRequest du GAR)")
    if on_response is None and on_data is None:
        return Check("response.solicited", "Réponse sollicitée", "warning",
                     "non sollicitée (à l'initiative du fournisseur d'identité)",
                     "Le GAR admet une réponse non sollicitée, le courtier de ce banc d'essai "
                     "la refuse : répondez de préférence à l'AuthnRequest du GAR.",
                     "une réponse à l'AuthnRequest du GAR")
    if expected.live:
        return Check("response.in_response_to", title, "error", seen,
                     "InResponseTo ne désigne aucune demande en attente du banc (expirée, déjà "
                     "utilisée, ou celle d'un autre service) : répondez à la demande reçue, une "
                     "seule fois.", "l'ID d'une AuthnRequest du banc, ou rien (non sollicitée)")
    good = on_response is None or on_data is None or on_response == on_data
    return Check("response.in_response_to", title, "ok" if good else "error", seen,
                 "" if good else "La Response et SubjectConfirmationData doivent nommer la "
                 "même AuthnRequest.", "la même AuthnRequest sur la Response et la confirmation")


def _times(assertion: etree._Element, data: etree._Element | None, expected: Expected,
           now: datetime) -> list[Check]:
    conditions = assertion.findall(f"{{{_SAML}}}Conditions")
    return [
        _clock(assertion, now, expected),
        _window("response.time.conditions", "Validité des Conditions",
                conditions[0] if len(conditions) == 1 else None, now, expected),
        _window("response.time.confirmation", "Validité de SubjectConfirmationData",
                data, now, expected),
    ]


def _offset(value: datetime, now: datetime) -> str:
    return f"{(value - now).total_seconds():+.0f} s"


def _window(check_id: str, title: str, element: etree._Element | None, now: datetime,
            expected: Expected) -> Check:
    """NotBefore / NotOnOrAfter against now, with the broker's rule and skew."""
    skew = int(expected.skew.total_seconds())
    rule = f"NotBefore ≤ maintenant + {skew} s < NotOnOrAfter + {skew} s"
    name = etree.QName(element).localname if element is not None else title
    if element is None:
        return Check(check_id, title, "error", "absent (un seul élément attendu)",
                     "Ajoutez-le, avec NotOnOrAfter (quelques minutes).", rule)
    try:
        not_before = _optional_instant(element.get("NotBefore"))
        until = _optional_instant(element.get("NotOnOrAfter"))
    except SamlError as exc:
        return Check(check_id, title, "error", exc.detail[:120],
                     "Écrivez les instants en UTC (…Z), au format xs:dateTime.", rule)
    seen = (f"NotBefore {element.get('NotBefore') or '—'} ; NotOnOrAfter "
            f"{element.get('NotOnOrAfter') or '—'} ; contrôlé à {instant(now)}")
    if until is None:
        return Check(check_id, title, "error", seen,
                     f"{name} doit porter NotOnOrAfter (quelques minutes après l'émission).",
                     rule)
    if not_before is not None and now + expected.skew < not_before:
        return Check(check_id, title, "error", f"{seen} (NotBefore {_offset(not_before, now)})",
                     "Pas encore valide : l'horloge du fournisseur d'identité avance. "
                     + _TIME_FIX, rule)
    if now >= until + expected.skew:
        if not expected.live:
            return Check(check_id, title, "warning", f"{seen} (expirée)",
                         "Expirée : normal pour une capture ancienne ; le GAR la refuserait "
                         "aujourd'hui. Rejouez une connexion (--listen) pour juger l'horloge.",
                         rule)
        return Check(check_id, title, "error", f"{seen} (expirée à la réception)",
                     "Expirée à la réception : horloge en retard ou validité trop courte. "
                     + _TIME_FIX, rule)
    return Check(check_id, title, "ok", seen, expected=rule)


def _optional_instant(value: str | None) -> datetime | None:
    return None if value is None else parse_instant(value)


def _clock(assertion: etree._Element, now: datetime, expected: Expected) -> Check:
    raw = assertion.get("IssueInstant")
    title = "Horloge (IssueInstant de l'assertion)"
    rule = f"à moins de {int(expected.skew.total_seconds())} s de l'heure du GAR"
    try:
        issued = parse_instant(raw or "")
    except SamlError:
        return Check("response.clock", title, "error", raw or "absent",
                     "IssueInstant doit être un instant UTC (…Z).", rule)
    delta = (issued - now).total_seconds()
    seen = f"IssueInstant {raw}, écart {delta:+.0f} s"
    if delta > expected.skew.total_seconds():
        return Check("response.clock", title, "error", seen,
                     "Votre horloge avance : le GAR refuse une assertion émise dans le futur. "
                     "Synchronisez-la (NTP).", rule)
    if delta < -expected.skew.total_seconds():
        fix = ("Horloge du fournisseur d'identité en retard : synchronisez-la (NTP) ; au-delà "
               "de la durée de validité, le GAR refuse l'assertion." if expected.live else
               "Réponse ancienne (capturée ?) ou horloge en retard : le GAR refuse une "
               "assertion expirée.")
        return Check("response.clock", title, "warning", seen, fix, rule)
    return Check("response.clock", title, "ok", seen, expected=rule)


def _name_id(assertion: etree._Element) -> Check:
    name_id = assertion.find(f"{{{_SAML}}}Subject/{{{_SAML}}}NameID")
    expected = "NameID transient (identifiant de session)"
    if name_id is None or not text_of(name_id).strip():
        return Check("response.name_id", "NameID présent", "error", "absent",
                     "Envoyez un NameID transient (identifiant de session, non chiffré).",
                     expected)
    form = name_id.get("Format") or "(aucun)"
    good = form in (NAMEID_TRANSIENT, NAMEID_PERSISTENT)
    return Check("response.name_id.format", "Format du NameID", "ok" if good else "warning",
                 form, "" if good else "Utilisez le format transient : le GAR identifie la "
                 "personne par ses attributs, pas par le NameID.", expected)


def _values(assertion: etree._Element) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for attribute in assertion.iterfind(f"{{{_SAML}}}AttributeStatement/{{{_SAML}}}Attribute"):
        values.setdefault(attribute.get("Name") or "", []).extend(
            text_of(v) for v in attribute.findall(f"{{{_SAML}}}AttributeValue"))
    return values


def _attribute_checks(assertion: etree._Element, expected: Expected) -> list[Check]:
    values = _values(assertion)
    found: list[Check] = []
    ent_shape = "idEnt" in values or "GARPersonIdentifiant" in values
    if ent_shape:
        found += _ent_shape(values, expected.ent_ids)
    if "FrEduCtRefId" in values:
        found.append(_educonnect_shape(values["FrEduCtRefId"]))
    elif not ent_shape:
        found.append(Check("response.attributes.required", "Attributs requis", "error",
                           ", ".join(sorted(values)) or "aucun",
                           "Envoyez idEnt et GARPersonIdentifiant (forme ENT), ou FrEduCtRefId "
                           "avec une valeur {AAF} (forme ÉduConnect).",
                           "idEnt + GARPersonIdentifiant, ou FrEduCtRefId {AAF}"))
    for name in PROFILE_ATTRIBUTES:
        for index, value in enumerate(values.get(name, []), start=1):
            found.append(_profile(f"response.profile.{name}" + (f".{index}" if index > 1
                                                                 else ""), value))
    for name in UAI_ATTRIBUTES:
        for value in values.get(name, []):
            found.append(uai(f"response.uai.{value[:16]}", f"UAI {value[:16]} ({name})", value,
                             strict=expected.strict))
    return found


def _one(values: list[str] | None) -> str | None:
    """The broker's reading: exactly one value, 1 to 64 characters, compared as sent."""
    if values is None or len(values) != 1 or not 0 < len(values[0]) <= 64:
        return None
    return values[0]


def _ent_shape(values: dict[str, list[str]], ent_ids: tuple[str, ...]) -> list[Check]:
    person = values.get("GARPersonIdentifiant")
    good = _one(person) is not None and person is not None and person[0].strip() == person[0]
    found = [Check(
        "response.attributes.ent", "GARPersonIdentifiant (forme ENT)", "ok" if good else "error",
        " | ".join(person or ["(absent)"])[:200], "" if good else "Une seule valeur, 64 "
        "caractères au plus, sans espace autour : l'identifiant de la personne dans le flux "
        "annuaire (GARPersonIdentifiant).", "une valeur, celle du flux annuaire (≤ 64)")]
    ent = values.get("idEnt")
    expected = (f"une valeur parmi {', '.join(ent_ids)}" if ent_ids
                else "une valeur, l'identifiant GAR de votre ENT (≤ 64)")
    good = _one(ent) is not None and ent is not None and ent[0].strip() == ent[0]
    known = good and (not ent_ids or (ent is not None and ent[0] in ent_ids))
    fix = ("Une seule valeur, l'identifiant GAR de votre projet ENT." if not good else
           "Cet idEnt n'est pas celui que le GAR connaît pour votre ENT (--ent-id).")
    found.append(Check("response.attributes.id_ent", "idEnt (forme ENT)",
                       "ok" if known else "error", " | ".join(ent or ["(absent)"])[:200],
                       "" if known else fix, expected))
    return found


def _educonnect_shape(refs: list[str]) -> Check:
    parsed = [parse_educonnect_ref_id(value) for value in refs[:_MAX_REF_VALUES]]
    good = any(p is not None for p in parsed)
    return Check("response.attributes.educonnect", "FrEduCtRefId (forme ÉduConnect)",
                 "ok" if good else "error", " | ".join(refs)[:300],
                 "" if good else "Une valeur {AAF}<académie>:<clé de jointure> (clé de 64 "
                 "caractères au plus) parmi les 16 premières.",
                 "une valeur {AAF}<académie>:<clé de jointure>")


def _profile(check_id: str, value: str) -> Check:
    expected = "un code national (National_elv, National_ens, National_doc…)"
    try:
        canonical = normalise_profile(value)
    except ValueError:
        return Check(check_id, f"Profil {value[:40]}", "error", value[:64],
                     "Utilisez un code national (National_elv, National_ens, National_doc…).",
                     expected)
    if canonical != value:
        return Check(check_id, f"Profil {value[:40]}", "warning", value[:64],
                     f"Accepté (comparaison insensible à la casse), mais écrivez {canonical}.",
                     expected)
    return Check(check_id, f"Profil {value}", "ok", value, expected=expected)


_FIXES = (
    ("saml.signature.algorithm", "Signez en RSA-SHA256 avec une empreinte SHA-256 "
                                 "(canonicalisation exclusive, sans commentaires)."),
    ("saml.signature", "Signez l'assertion avec la clé dont le certificat est dans vos "
                       "métadonnées, sans rien modifier après la signature."),
    ("saml.issuer", "L'Issuer doit être l'entityID de vos métadonnées."),
    ("saml.destination", "Destination doit être l'ACS du GAR."),
    ("saml.recipient", "Recipient doit être l'ACS du GAR."),
    ("saml.audience", "L'Audience doit être l'entityID du GAR."),
    ("saml.time", _TIME_FIX),
    ("saml.in_response_to", "Répondez une fois à l'AuthnRequest reçue, avec son ID dans "
                            "InResponseTo."),
    ("saml.subject", "Une SubjectConfirmation bearer avec Recipient et NotOnOrAfter."),
    ("saml.encrypted", "Ne chiffrez ni l'assertion ni le NameID pour le GAR."),
    ("saml.status", "Le fournisseur d'identité signale un échec : voyez son journal."),
)


def _verdict(root: etree._Element, certificates: Sequence[x509.Certificate],
             expected: Expected, now: datetime) -> Check | None:
    """The broker's acceptance rule on the whole Response; a capture is judged at its
    IssueInstant ("had the GAR received it at once"), a live Response at its reception."""
    if expected.sp_entity_id is None or expected.acs_url is None:
        return None
    when, irt = now, expected.request_id
    if not expected.live:
        assertion = root.find(f"{{{_SAML}}}Assertion")
        try:
            when = parse_instant(assertion.get("IssueInstant") or "") if assertion is not None \
                else now
        except SamlError:
            when = now
        data = _bearer_data(assertion) if assertion is not None else None
        irt = irt or (data.get("InResponseTo") if data is not None else None)
    title = "Verdict du courtier (services.saml.validate)"
    rule = "acceptée par validate_response" + ("" if expected.live else
                                               ", à l'instant d'émission (capture)")
    try:
        accepted = validate_response(
            root, certificates_for=lambda claimed: (
                tuple(certificates) if expected.issuer in (None, claimed) else None),
            sp_entity_id=expected.sp_entity_id, acs_url=expected.acs_url,
            expected_issuer=expected.issuer, in_response_to=irt, allow_unsolicited=True,
            now=when, skew=expected.skew, allow_sha1=not expected.strict)
    except SamlError as exc:
        fix = next((text for prefix, text in _FIXES if exc.code.startswith(prefix)),
                   "Corrigez le point signalé dans les lignes ci-dessus.")
        return Check("response.verdict", title, "error", f"{exc.code} : {exc.detail[:200]}",
                     fix, rule)
    return Check("response.verdict", title, "ok",
                 f"acceptée (signée : {', '.join(accepted.signed_parts)})", expected=rule)
