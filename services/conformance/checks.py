"""Static checks on a peer's metadata, each a line of the report like a scenario.

Service provider (a resource editor): a signing certificate that is present and valid, HTTPS
on every endpoint, ACS and single logout alike (plain HTTP on loopback is only a warning, for
local work), an HTTP-POST ACS, no requested attribute outside the GAR catalogue, and, when the
metadata was fetched by URL, an entityID equal to that URL (an error: the GAR refuses to
register a publisher otherwise, GAR_REFERENCE §4b). Identity provider (an ENT): a signing
certificate, an HTTPS single sign-on service with the Redirect binding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from cryptography import x509
from lxml import etree

from services.attributes import CATALOGUE
from services.saml.constants import BINDING_POST, BINDING_REDIRECT, NS
from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata, parse_metadata
from services.saml.xml import parse
from services.uai import check_letter, is_valid_uai

Level = Literal["ok", "warning", "error"]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
EXPIRY_WARNING = timedelta(days=30)
_UAI_SHAPE = re.compile(r"[0-9]{7}[A-Z]")
UAI_EXPECTED = "sept chiffres et leur lettre de contrôle (ex. 0650499P)"


@dataclass(frozen=True)
class Check:
    """One line of a report: what was checked, what the GAR expects, what was seen, the fix.

    ``group`` names the message a line belongs to when a run receives several (the ENT
    side's live Responses and list calls); metadata lines leave it empty.
    """

    id: str
    title: str
    level: Level
    seen: str
    fix: str = ""
    expected: str = ""
    group: str = ""

    @property
    def passed(self) -> bool:
        return self.level != "error"

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "level": self.level,
                "expected": self.expected, "seen": self.seen, "passed": self.passed,
                "fix": self.fix if self.level != "ok" else "", "group": self.group}


def read(raw: bytes) -> tuple[EntityMetadata | None, list[Check]]:
    try:
        entity = parse_metadata(raw)
    except SamlError as exc:
        return None, [Check("metadata.readable", "Métadonnées lisibles", "error",
                            f"{exc.code} : {exc.detail[:200]}",
                            "Fournissez un EntityDescriptor SAML 2.0 valide (UTF-8, sans DTD).")]
    return entity, [Check("metadata.readable", "Métadonnées lisibles", "ok", entity.entity_id)]


def certificates(found: tuple[x509.Certificate, ...], *, now: datetime | None = None
                 ) -> list[Check]:
    now = now or datetime.now(UTC)
    if not found:
        return [Check("metadata.certificate.present", "Certificat de signature publié", "error",
                      "aucun KeyDescriptor de signature",
                      "Publiez votre certificat de signature (KeyDescriptor use=\"signing\").")]
    checks = [Check("metadata.certificate.present", "Certificat de signature publié", "ok",
                    f"{len(found)} certificat(s)")]
    for index, certificate in enumerate(found, start=1):
        until = certificate.not_valid_after_utc
        since = certificate.not_valid_before_utc
        title = f"Certificat n°{index} en cours de validité"
        seen = f"valide du {since:%Y-%m-%d} au {until:%Y-%m-%d}"
        if until <= now or since > now:
            checks.append(Check(f"metadata.certificate.{index}.valid", title, "error", seen,
                                "Renouvelez le certificat et republiez vos métadonnées."))
        elif until - now < EXPIRY_WARNING:
            checks.append(Check(f"metadata.certificate.{index}.valid", title, "warning", seen,
                                "Le certificat expire dans moins de 30 jours : préparez le "
                                "renouvellement (publiez les deux pendant la transition)."))
        else:
            checks.append(Check(f"metadata.certificate.{index}.valid", title, "ok", seen))
    return checks


def endpoint(check_id: str, title: str, url: str) -> Check:
    parts, expected = urlsplit(url), "une URL https://"
    if parts.scheme == "https":
        return Check(check_id, title, "ok", url, expected=expected)
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return Check(check_id, title, "warning", url,
                     "HTTP n'est admis qu'en local : publiez une URL https:// en production.",
                     expected)
    return Check(check_id, title, "error", url, "Publiez une URL https:// pour ce point d'accès.",
                 expected)


def uai(check_id: str, title: str, value: str, *, strict: bool = False) -> Check:
    """A UAI's check letter (GAR_REFERENCE §1): a wrong one is a warning, because the sample
    UAIs of ENT test platforms often fail it, and an error in strict mode; a value not shaped
    like a UAI is always an error. A suffixed form (``0650499P-ET6``) is judged on its UAI."""
    base = value.split("-", 1)[0]
    seen = value[:45]
    if _UAI_SHAPE.fullmatch(base) is None:
        return Check(check_id, title, "error", seen or "(vide)",
                     "Un UAI s'écrit sept chiffres puis une lettre majuscule.", UAI_EXPECTED)
    if is_valid_uai(base):
        return Check(check_id, title, "ok", seen, expected=UAI_EXPECTED)
    right = base[:7] + check_letter(base[:7])
    return Check(check_id, title, "error" if strict else "warning", seen,
                 f"Lettre de contrôle fausse : l'UAI {base[:7]} s'écrit {right} (un UAI de "
                 "démonstration ? le mode strict le refuse).", UAI_EXPECTED)


def service_provider(raw: bytes, *, now: datetime | None = None, fetched_from: str | None = None
                     ) -> tuple[EntityMetadata | None, list[Check]]:
    """``fetched_from``: the URL the metadata was read from, which the GAR requires the
    entityID to equal (GAR_REFERENCE §4b); None when it came from a file."""
    entity, checks = read(raw)
    if entity is None:
        return None, checks
    if fetched_from is not None:
        same = entity.entity_id == fetched_from
        checks.append(Check(
            "metadata.entity_id.url", "entityID égal à l'URL des métadonnées",
            "ok" if same else "error", f"entityID {entity.entity_id} ; lues à {fetched_from}",
            "" if same else "Le GAR exige que l'entityID soit l'URL où il lit vos métadonnées : "
            "publiez-les à cette URL exacte (ou changez l'entityID)."))
    if entity.sp is None:
        checks.append(Check("metadata.sp", "Rôle de fournisseur de services (SPSSODescriptor)",
                            "error", "absent", "Décrivez un SPSSODescriptor SAML 2.0."))
        return None, checks
    sp = entity.sp
    checks += certificates(sp.signing_certificates, now=now)
    post = [e for e in sp.acs if e.binding == BINDING_POST]
    if not post:
        checks.append(Check("metadata.acs.post", "ACS en HTTP-POST", "error", "aucun",
                            "Déclarez un AssertionConsumerService en HTTP-POST : c'est le "
                            "seul que le GAR utilise."))
    for index, acs in enumerate(sp.acs, start=1):
        checks.append(endpoint(f"metadata.acs.{index}.https", f"ACS n°{index} en HTTPS",
                               acs.location))
    for kind, index, url in _other_endpoints(raw):
        checks.append(endpoint(f"metadata.{kind.lower()}.{index}.https",
                               f"{kind} n°{index} en HTTPS", url))
    unknown = [name for name in sp.requested_attributes if name not in CATALOGUE]
    checks.append(
        Check("metadata.attributes.catalogue", "Attributs demandés dans le catalogue du GAR",
              "error" if unknown else "ok",
              ", ".join(unknown) if unknown else (", ".join(sp.requested_attributes) or "aucun"),
              "Ne demandez que des codes du catalogue (IDO, UAI, PRO, NOM, PRE, CIV, DIV, GRO, "
              "P_MS4, P_MEL, P_MAT, IDC)." if unknown else ""))
    checks.append(Check("metadata.authn_requests_signed", "Demandes d'authentification signées",
                        "ok" if sp.authn_requests_signed else "warning",
                        "AuthnRequestsSigned=" + str(sp.authn_requests_signed).lower(),
                        "" if sp.authn_requests_signed else
                        "Signez vos AuthnRequest (AuthnRequestsSigned=\"true\")."))
    return entity, checks


def _other_endpoints(raw: bytes) -> list[tuple[str, int, str]]:
    """Every endpoint of the SPSSODescriptor but the ACS (already checked): single logout,
    artifact resolution, name id management... (``Location`` and ``ResponseLocation``)."""
    root = parse(raw, max_bytes=max(len(raw), 1))
    found: list[tuple[str, int, str]] = []
    counts: dict[str, int] = {}
    for role in root.iter(f"{{{NS['md']}}}SPSSODescriptor"):
        for element in role:
            if not isinstance(element.tag, str):
                continue
            kind = etree.QName(element).localname
            if kind == "AssertionConsumerService":
                continue
            for attribute in ("Location", "ResponseLocation"):
                url = element.get(attribute)
                if url is not None:
                    counts[kind] = counts.get(kind, 0) + 1
                    found.append((kind, counts[kind], url))
    return found


def identity_provider(raw: bytes, *, now: datetime | None = None
                      ) -> tuple[EntityMetadata | None, list[Check]]:
    entity, checks = read(raw)
    if entity is None:
        return None, checks
    if entity.idp is None:
        checks.append(Check("metadata.idp", "Rôle de fournisseur d'identité (IDPSSODescriptor)",
                            "error", "absent", "Décrivez un IDPSSODescriptor SAML 2.0.",
                            "un IDPSSODescriptor (protocole SAML 2.0)"))
        return None, checks
    checks += certificates(entity.idp.signing_certificates, now=now)
    redirect = entity.sso_url(BINDING_REDIRECT)
    if redirect is None:
        checks.append(Check("metadata.sso.redirect", "SingleSignOnService en HTTP-Redirect",
                            "error", "absent",
                            "Déclarez un SingleSignOnService HTTP-Redirect : le GAR y envoie "
                            "ses AuthnRequest.", "un SingleSignOnService HTTP-Redirect"))
    else:
        checks.append(endpoint("metadata.sso.https", "SingleSignOnService en HTTPS", redirect))
    return entity, checks
