"""ENT side, mediacentre: the list call an ENT connector makes, and a list answer's shape.

A call, captured (a request head) or received live by the harness's list API
(:mod:`services.conformance.ent_sandbox`), must be ``GET /ressources/{idENT}/{UAI}/{idUser}``
(``/resources/`` works with the broker but is flagged), name an ENT the GAR knows, one UAI
with its check letter (a wrong letter is a warning, an error in strict mode), the feed's
person id, ask for JSON, accept gzip (the GAR compresses) and carry a ``Date`` (fresh, when
received live). With the ENT's client certificate given, the call must present it, forwarded
by the TLS proxy as the broker reads it (``broker.api_auth``). The answer is checked against
the wire format of ``broker.mediacentre_wire`` (GAR_REFERENCE §2).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from broker.api_auth import CERT_HEADER, MAX_CERT_HEADER, certificate_fingerprint
from services.conformance.checks import Check, uai

FIELDS: Mapping[str, type] = {
    "idRessource": str, "idType": str, "nomRessource": str, "idEditeur": str,
    "nomEditeur": str, "urlVignette": str, "typePresentation": dict, "typePedagogique": list,
    "typologieDocument": list, "niveauEducatif": list, "domaineEnseignement": list,
    "urlAccesRessource": str, "nomSourceEtiquetteGar": str, "distributeurTech": str,
    "validateurTech": str,
}
#: The broker's limits on the path's values (``broker.mediacentre_api``).
LIMITS = {"idENT": 64, "UAI": 45, "idUser": 64}
PATH_SHAPE = "GET /ressources/{idENT}/{UAI}/{idUser}"


@dataclass(frozen=True)
class CallExpected:
    """What the GAR knows of the calling ENT; empty or ``None`` leaves a rule out."""

    ent_ids: tuple[str, ...] = ()
    client_cert_sha256: str | None = None  # the ENT's client certificate (SHA-256, hex)
    strict: bool = False  # a UAI with a wrong check letter is an error, not a warning
    live: bool = False  # received just now: its Date must be fresh
    skew: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class ListPath:
    spelling: str  # "ressources" (the GAR's) or "resources" (one client's, tolerated)
    ent: str
    uai: str
    user: str


def parse_path(target: str) -> ListPath | None:
    """The list path's four parts (a prefix before them is tolerated), or ``None``."""
    segments = [unquote(s) for s in urlsplit(target).path.split("/") if s]
    if len(segments) < 4 or segments[-4] not in ("ressources", "resources"):
        return None
    return ListPath(*segments[-4:])


def call(raw: bytes, expected: CallExpected = CallExpected(), *,
         now: datetime | None = None) -> list[Check]:
    """Check a captured request head (request line, then ``Name: value`` lines)."""
    lines = raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    method, _, rest = lines[0].strip().partition(" ")
    target = rest.split(" ")[0] if rest else ""
    headers = {k.strip(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if ":" in line)}
    return request(method, target, headers, expected, now=now)


def request(method: str, target: str, headers: Mapping[str, str],
            expected: CallExpected = CallExpected(), *, now: datetime | None = None
            ) -> list[Check]:
    """Every line for one list call (``headers`` in any case)."""
    now = now or datetime.now(UTC)
    named = {k.lower(): v for k, v in headers.items()}
    good_method = method == "GET"
    found = [Check("mediacentre.call.method", "Méthode GET", "ok" if good_method else "error",
                   method or "?", "" if good_method else "Appelez la liste en GET.", "GET")]
    path = parse_path(target)
    if path is None:
        found.append(Check("mediacentre.call.path", "Chemin de la liste", "error",
                           target[:200] or "?",
                           "Appelez /ressources/<idENT>/<UAI>/<GARPersonIdentifiant>.",
                           PATH_SHAPE))
    else:
        found += _path_checks(target, path, expected)
    found += _header_checks(named, expected, now)
    return found


def _well_formed(value: str, limit: int) -> bool:
    return bool(value) and len(value) <= limit and value.isprintable() and value.strip() == value


def _path_checks(target: str, path: ListPath, expected: CallExpected) -> list[Check]:
    found = [Check("mediacentre.call.path", "Chemin de la liste", "ok", target[:200],
                   expected=PATH_SHAPE)]
    gar_spelling = path.spelling == "ressources"
    found.append(Check("mediacentre.call.spelling", "Orthographe du chemin (/ressources/)",
                       "ok" if gar_spelling else "warning", f"/{path.spelling}/",
                       "" if gar_spelling else "Le courtier accepte /resources/, mais le GAR "
                       "documente /ressources/ : écrivez-le ainsi.", "/ressources/"))
    ent_expected = (f"un idENT parmi {', '.join(expected.ent_ids)}" if expected.ent_ids
                    else f"l'idENT de votre ENT (≤ {LIMITS['idENT']} caractères)")
    if not _well_formed(path.ent, LIMITS["idENT"]):
        found.append(Check("mediacentre.call.ent", "Identifiant de l'ENT (idENT)", "error",
                           path.ent[:80] or "(vide)", "Passez l'identifiant GAR de votre ENT.",
                           ent_expected))
    elif expected.ent_ids and path.ent not in expected.ent_ids:
        found.append(Check("mediacentre.call.ent", "Identifiant de l'ENT (idENT)", "error",
                           path.ent[:80], "Cet idENT n'est pas celui que le GAR connaît pour "
                           "votre ENT (--ent-id) : le GAR répond 403.", ent_expected))
    else:
        found.append(Check("mediacentre.call.ent", "Identifiant de l'ENT (idENT)", "ok",
                           path.ent, expected=ent_expected))
    found.append(uai("mediacentre.call.uai", "UAI de l'appel", path.uai,
                     strict=expected.strict))
    good_user = _well_formed(path.user, LIMITS["idUser"])
    found.append(Check("mediacentre.call.user", "Identifiant de la personne (idUser)",
                       "ok" if good_user else "error", path.user[:80] or "(vide)",
                       "" if good_user else "Passez le GARPersonIdentifiant du flux annuaire "
                       "(64 caractères au plus, sans espace autour).",
                       "le GARPersonIdentifiant du flux (≤ 64 caractères)"))
    return found


def _header_checks(headers: Mapping[str, str], expected: CallExpected, now: datetime
                   ) -> list[Check]:
    accept = headers.get("accept", "")
    json_ok = "application/json" in accept or "*/*" in accept
    found = [Check("mediacentre.call.accept", "Accept: application/json",
                   "ok" if json_ok else "warning", accept or "(absent)", "" if json_ok else
                   "Envoyez Accept: application/json.", "application/json")]
    gzip_ok = "gzip" in headers.get("accept-encoding", "")
    found.append(Check("mediacentre.call.gzip", "Accept-Encoding: gzip",
                       "ok" if gzip_ok else "warning", headers.get("accept-encoding", "(absent)"),
                       "" if gzip_ok else "Acceptez gzip : le GAR compresse ses réponses.",
                       "gzip, deflate"))
    found.append(_date(headers.get("date"), expected, now))
    certificate = _certificate(headers.get(CERT_HEADER), expected.client_cert_sha256)
    if certificate is not None:
        found.append(certificate)
    return found


def _date(value: str | None, expected: CallExpected, now: datetime) -> Check:
    title = "En-tête Date"
    skew = int(expected.skew.total_seconds())
    rule = (f"une date HTTP à moins de {skew} s de l'heure du GAR" if expected.live
            else "une date HTTP (RFC 9110)")
    if not value:
        return Check("mediacentre.call.date", title, "warning", "(absent)",
                     "Envoyez l'en-tête Date, comme les connecteurs ENT du GAR.", rule)
    try:
        sent = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return Check("mediacentre.call.date", title, "error", value[:80],
                     "Écrivez Date au format HTTP : « Tue, 15 Nov 1994 08:12:31 GMT ».", rule)
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    delta = (sent - now).total_seconds()
    if expected.live and abs(delta) > skew:
        return Check("mediacentre.call.date", title, "warning", f"{value[:80]} (écart "
                     f"{delta:+.0f} s)", "Date décalée : synchronisez l'horloge du serveur de "
                     "votre médiacentre (NTP), ou n'envoyez pas une date mise en cache.", rule)
    return Check("mediacentre.call.date", title, "ok", value[:80], expected=rule)


def _certificate(header: str | None, wanted: str | None) -> Check | None:
    """The client certificate the TLS proxy forwarded, read as ``broker.api_auth`` does."""
    title = "Certificat client (TLS mutuel, transmis par le proxy)"
    rule = f"le certificat SHA-256 {wanted}" if wanted else "le certificat de votre ENT"
    if not header:
        if wanted is None:
            return None
        return Check("mediacentre.call.certificate", title, "error", "(aucun)",
                     f"Présentez le certificat client de votre ENT ; le proxy TLS le transmet "
                     f"dans {CERT_HEADER} (le GAR exige TLS mutuel).", rule)
    try:
        if len(header) > MAX_CERT_HEADER:
            raise ValueError("too long")
        fingerprint = certificate_fingerprint(unquote(header).encode())
    except ValueError:
        return Check("mediacentre.call.certificate", title, "error", "illisible",
                     f"{CERT_HEADER} doit porter le certificat PEM encodé pour une URL "
                     "($ssl_client_escaped_cert avec nginx).", rule)
    if wanted is not None and fingerprint != wanted:
        return Check("mediacentre.call.certificate", title, "error", fingerprint,
                     "Ce n'est pas le certificat enregistré pour votre ENT (--client-cert).",
                     rule)
    return Check("mediacentre.call.certificate", title, "ok", fingerprint, expected=rule)


def answer(raw: bytes) -> list[Check]:
    """Check a list answer against the GAR's wire shape."""
    shape = "{\"listeRessources\": {\"ressource\": [...]}}"
    try:
        if raw.startswith(b"\x1f\x8b"):  # the GAR answers gzip when asked
            raw = gzip.decompress(raw)
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:
        return [Check("mediacentre.answer.json", "Réponse JSON lisible", "error", str(exc)[:200],
                      "La liste est un document JSON UTF-8.", "du JSON UTF-8, gzip accepté")]
    items = body.get("listeRessources", {}).get("ressource") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return [Check("mediacentre.answer.shape", shape,
                      "error", str(list(body) if isinstance(body, dict) else type(body))[:200],
                      "Enveloppez la liste dans listeRessources.ressource.", shape)]
    found = [Check("mediacentre.answer.shape", shape, "ok", f"{len(items)} ressource(s)",
                   expected=shape)]
    for index, item in enumerate(items, start=1):
        problems = _problems(item)
        name = item.get("idRessource", f"n°{index}") if isinstance(item, dict) else f"n°{index}"
        found.append(Check(f"mediacentre.answer.{index}", f"Ressource {str(name)[:80]}",
                           "error" if problems else "ok", "; ".join(problems) or "conforme",
                           "Fournissez chaque champ du format GAR avec son type." if problems
                           else "", "les 15 champs du format GAR, typés"))
    return found


def _problems(item: object) -> list[str]:
    if not isinstance(item, dict):
        return ["n'est pas un objet"]
    problems = [f"{key} absent" for key in FIELDS if key not in item]
    problems += [f"{key} n'est pas du type attendu" for key, kind in FIELDS.items()
                 if key in item and not isinstance(item[key], kind)]
    if item.get("idType") not in (None, "ARK"):
        problems.append("idType doit valoir ARK")
    url = item.get("urlAccesRessource")
    if isinstance(url, str) and not url.startswith(("https://", "http://")):
        problems.append("urlAccesRessource n'est pas une URL")
    return problems
