"""ENT side, mediacentre: the list call an ENT connector makes, and a list answer's shape.

The call (a captured HTTP request head) must be ``GET /ressources/{idENT}/{UAI}/{idUser}``
(``/resources/`` is tolerated, as the broker does), one UAI with a right check letter, the
feed's person id, and ask for JSON; asking for gzip is advised (the GAR compresses). The answer
is checked against the wire format of ``broker.mediacentre_wire`` (GAR_REFERENCE §2).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from services.conformance.checks import Check
from services.uai import is_valid_uai

FIELDS: Mapping[str, type] = {
    "idRessource": str, "idType": str, "nomRessource": str, "idEditeur": str,
    "nomEditeur": str, "urlVignette": str, "typePresentation": dict, "typePedagogique": list,
    "typologieDocument": list, "niveauEducatif": list, "domaineEnseignement": list,
    "urlAccesRessource": str, "nomSourceEtiquetteGar": str, "distributeurTech": str,
    "validateurTech": str,
}


def call(raw: bytes) -> list[Check]:
    """Check a captured request head (request line, then ``Name: value`` lines)."""
    lines = raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    method, _, rest = lines[0].strip().partition(" ")
    target = rest.split(" ")[0] if rest else ""
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if ":" in line)}
    found = [Check("mediacentre.call.method", "Méthode GET", "ok" if method == "GET" else "error",
                   method or "?", "" if method == "GET" else "Appelez la liste en GET.")]
    segments = [unquote(s) for s in urlsplit(target).path.split("/") if s]
    if len(segments) < 4 or segments[-4] not in ("ressources", "resources"):
        found.append(Check("mediacentre.call.path", "Chemin /ressources/{idENT}/{UAI}/{idUser}",
                           "error", target[:200] or "?",
                           "Appelez /ressources/<idENT>/<UAI>/<GARPersonIdentifiant>."))
        return found
    ent, uai, user = segments[-3:]
    found.append(Check("mediacentre.call.path", "Chemin /ressources/{idENT}/{UAI}/{idUser}",
                       "ok", target[:200]))
    found.append(Check("mediacentre.call.uai", "UAI de l'appel", "ok" if is_valid_uai(uai)
                       else "error", uai[:45], "" if is_valid_uai(uai) else
                       "Un seul UAI, sept chiffres et la bonne lettre de contrôle (un appel "
                       "par établissement)."))
    good_user = 0 < len(user) <= 64
    found.append(Check("mediacentre.call.user", "Identifiant de la personne (annuaire)",
                       "ok" if good_user else "error", user[:80], "" if good_user else
                       "Passez le GARPersonIdentifiant du flux (64 caractères au plus)."))
    found.append(Check("mediacentre.call.ent", "Identifiant de l'ENT", "ok" if ent else "error",
                       ent[:80]))
    accept = headers.get("accept", "")
    json_ok = "application/json" in accept or "*/*" in accept
    found.append(Check("mediacentre.call.accept", "Accept: application/json",
                       "ok" if json_ok else "warning", accept or "(absent)", "" if json_ok else
                       "Envoyez Accept: application/json."))
    gzip_ok = "gzip" in headers.get("accept-encoding", "")
    found.append(Check("mediacentre.call.gzip", "Accept-Encoding: gzip",
                       "ok" if gzip_ok else "warning", headers.get("accept-encoding", "(absent)"),
                       "" if gzip_ok else "Acceptez gzip : le GAR compresse ses réponses."))
    return found


def answer(raw: bytes) -> list[Check]:
    """Check a list answer against the GAR's wire shape."""
    try:
        if raw.startswith(b"\x1f\x8b"):  # the GAR answers gzip when asked
            raw = gzip.decompress(raw)
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:
        return [Check("mediacentre.answer.json", "Réponse JSON lisible", "error", str(exc)[:200],
                      "La liste est un document JSON UTF-8.")]
    items = body.get("listeRessources", {}).get("ressource") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return [Check("mediacentre.answer.shape", "{\"listeRessources\": {\"ressource\": [...]}}",
                      "error", str(list(body) if isinstance(body, dict) else type(body))[:200],
                      "Enveloppez la liste dans listeRessources.ressource.")]
    found = [Check("mediacentre.answer.shape", "{\"listeRessources\": {\"ressource\": [...]}}",
                   "ok", f"{len(items)} ressource(s)")]
    for index, item in enumerate(items, start=1):
        problems = _problems(item)
        name = item.get("idRessource", f"n°{index}") if isinstance(item, dict) else f"n°{index}"
        found.append(Check(f"mediacentre.answer.{index}", f"Ressource {str(name)[:80]}",
                           "error" if problems else "ok", "; ".join(problems) or "conforme",
                           "Fournissez chaque champ du format GAR avec son type." if problems
                           else ""))
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
