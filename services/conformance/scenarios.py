"""The scenario tables of the provider-side suite (SAML here, CAS in ``cas_scenarios``).

Scenarios are generated from tables (a field, a variant, a placement of the signature), so
the suite grows by a row, and every scenario carries what a person needs when it fails: what
was expected, and how to fix it (in French, for the editor reading the report).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from services.attributes import CATALOGUE
from services.conformance import signatures, xsw
from services.conformance.forge import (
    UNSIGNED,
    Context,
    Parts,
    Persona,
    Recipe,
    Signer,
    find,
    first_assertion,
    ido,
    shifted,
)
from services.saml.constants import ALG_RSA_SHA1, ALG_RSA_SHA512, NS
from services.uai import make_uai

Expect = Literal["accept", "reject", "safe"]
Protocol = Literal["saml", "cas"]

SAML = NS["saml"]
SCD = "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
AUDIENCE = "saml:Conditions/saml:AudienceRestriction/saml:Audience"
OTHER_URL = "https://attaquant.example.org/saml/acs"
OTHER_ENTITY = "https://autre-fournisseur.example.org/saml/metadata"


@dataclass(frozen=True)
class Scenario:
    """One case: ``expect`` "accept", "reject", or "safe" (refused, or accepted without the
    page showing a value a naive reader would have read: ``forbidden``)."""

    id: str
    family: str
    title: str
    expect: Expect
    fix: str
    recipe: Recipe = field(default_factory=Recipe)
    solicited: bool = True
    replay: Literal["same-browser", "other-browser"] | None = None
    #: Values the page must show once accepted (checked when the SP echoes what it got).
    shown: Callable[[Persona], list[str]] | None = None
    #: Patterns the page must not show once accepted (what a naive reader would read).
    forbidden: Callable[[Persona], list[str]] | None = None
    protocol: Protocol = "saml"
    #: For a CAS scenario: which ticket, and which ``grain`` (``cas_scenarios``).
    cas: CasCase | None = None
    #: A second login, in a fresh browser, after the first was accepted; ``shown`` and
    #: ``forbidden`` then apply to its page.
    then: Recipe | None = None
    #: For a second login: whether both must open the same account at the service provider
    #: (read with the verdict rule's account marker), or two different ones.
    same_account: bool | None = None
    #: What the run must be able to read for this scenario to mean something: "account"
    #: (an account marker), "echo" (the success page shows the values it received).
    requires: frozenset[str] = frozenset()


TicketKind = Literal["login", "forged", "other-service", "expired"]


@dataclass(frozen=True)
class CasCase:
    """How a CAS scenario reaches the publisher: ``ticket`` "login" goes through the
    sandbox's ``/cas/login``; the others are handed to the publisher by the harness."""

    ticket: TicketKind = "login"
    grain: str | None = None
    #: ``grain`` relative to the publisher's access URL (its own path), for the in-site case.
    grain_own_path: bool = False


@dataclass(frozen=True)
class Options:
    """What the service provider declared, which decides some expectations."""

    accepts_unsolicited: bool = True
    want_assertions_signed: bool = True
    #: RequestedAttribute names of its metadata (what the broker would release to it).
    requested: tuple[str, ...] = ()
    #: Its resource's ``idRessource`` (an ARK), which a valid ``IDC`` names.
    resource_id: str | None = None


# --------------------------------------------------------------------------- edits

Value = str | None | Callable[[Context], str]


def _value(value: Value, ctx: Context) -> str | None:
    return value(ctx) if callable(value) else value


def _target(parts: Parts, where: str, path: str) -> etree._Element:
    base = parts.response if where == "response" else parts.assertion
    return base if path == "." else find(base, path)


def set_attribute(where: str, path: str, name: str, value: Value) -> Callable[[Parts], None]:
    def edit(parts: Parts) -> None:
        element = _target(parts, where, path)
        resolved = _value(value, parts.context)
        if resolved is None:
            if name in element.attrib:
                del element.attrib[name]
        else:
            element.set(name, resolved)
    return edit


def set_text(where: str, path: str, value: Value) -> Callable[[Parts], None]:
    def edit(parts: Parts) -> None:
        element = _target(parts, where, path)
        resolved = _value(value, parts.context)
        if resolved is None:
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)
        else:
            element.text = resolved
    return edit


def at(seconds: int) -> Callable[[Context], str]:
    return lambda ctx: shifted(ctx.now, seconds)


def _add_audience_restriction(audience: str) -> Callable[[Parts], None]:
    def edit(parts: Parts) -> None:
        conditions = find(parts.assertion, "saml:Conditions")
        restriction = etree.SubElement(conditions, f"{{{SAML}}}AudienceRestriction")
        etree.SubElement(restriction, f"{{{SAML}}}Audience").text = audience
    return edit


def _add_audience(audience: str) -> Callable[[Parts], None]:
    def edit(parts: Parts) -> None:
        restriction = find(parts.assertion, "saml:Conditions/saml:AudienceRestriction")
        etree.SubElement(restriction, f"{{{SAML}}}Audience").text = audience
    return edit


def _rewrite_value(code: str, new: str) -> Callable[[etree._Element, Context], etree._Element]:
    """After signing: change the first value of attribute ``code`` in the Assertion."""
    def rewrite(root: etree._Element, ctx: Context) -> etree._Element:
        for attribute in first_assertion(root).iter(f"{{{SAML}}}Attribute"):
            if attribute.get("Name") == code:
                attribute[0].text = new
        return root
    return rewrite


def _rewrite_path(path: str, name: str | None, new: Value
                  ) -> Callable[[etree._Element, Context], etree._Element]:
    """After signing: change an attribute (``name``) or the text of an Assertion element."""
    def rewrite(root: etree._Element, ctx: Context) -> etree._Element:
        element = find(first_assertion(root), path) if path != "." else first_assertion(root)
        resolved = _value(new, ctx) or ""
        if name is None:
            element.text = resolved
        else:
            element.set(name, resolved)
        return root
    return rewrite


def _add_attribute_after(root: etree._Element, ctx: Context) -> etree._Element:
    statement = find(first_assertion(root), "saml:AttributeStatement")
    attribute = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name="PRO")
    etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = xsw.EVIL_PROFILE
    return root


def _remove_attribute_after(root: etree._Element, ctx: Context) -> etree._Element:
    statement = find(first_assertion(root), "saml:AttributeStatement")
    statement.remove(statement[-1])
    return root


def _comment_in_name_id(root: etree._Element, ctx: Context) -> etree._Element:
    name_id = find(first_assertion(root), "saml:Subject/saml:NameID")
    _inject_comment(name_id)
    return root


def _comment_in_value(code: str) -> Callable[[etree._Element, Context], etree._Element]:
    def rewrite(root: etree._Element, ctx: Context) -> etree._Element:
        for attribute in first_assertion(root).iter(f"{{{SAML}}}Attribute"):
            if attribute.get("Name") == code:
                _inject_comment(attribute[0])
        return root
    return rewrite


INJECTED_SUFFIX = ".evil"


def _inject_comment(element: etree._Element) -> None:
    """``value.evil`` becomes ``value<!---->.evil``: the signature still holds (canonical
    forms leave comments out) and ``.text`` stops at ``value``."""
    whole = element.text or ""
    head = whole.removesuffix(INJECTED_SUFFIX)
    element.text = head
    comment = etree.Comment("")
    comment.tail = INJECTED_SUFFIX
    element.insert(0, comment)


def _with_suffix(code: str) -> Callable[[Parts], None]:
    def edit(parts: Parts) -> None:
        for attribute in parts.assertion.iter(f"{{{SAML}}}Attribute"):
            if attribute.get("Name") == code:
                attribute[0].text = (attribute[0].text or "") + INJECTED_SUFFIX
    return edit


VICTIM_NAME_ID = "_victime4f2a9c"


def _name_id_suffix(parts: Parts) -> None:
    name_id = find(parts.assertion, "saml:Subject/saml:NameID")
    name_id.text = f"{VICTIM_NAME_ID}{INJECTED_SUFFIX}"


def _truncated_name_id(who: Persona) -> list[str]:
    return [re.escape(VICTIM_NAME_ID) + r"(?!" + re.escape(INJECTED_SUFFIX) + ")"]


def _second_signed_assertion(root: etree._Element, ctx: Context) -> etree._Element:
    """A second, correctly signed assertion for someone else, after the first."""
    original = first_assertion(root)
    clone = copy.deepcopy(original)
    for signature in clone.findall(f"{{{NS['ds']}}}Signature"):
        clone.remove(signature)
    xsw.make_evil(clone)
    root.append(signatures.sign(clone, ctx.key))
    return root


def _truncated(code: str) -> Callable[[Persona], list[str]]:
    """A value read up to the injected comment, and not followed by the rest."""
    def patterns(who: Persona) -> list[str]:
        head = who.attributes.get(code, [""])[0].removesuffix(INJECTED_SUFFIX)
        return [re.escape(head) + r"(?!" + re.escape(INJECTED_SUFFIX) + ")"]
    return patterns


def _evil_values(who: Persona) -> list[str]:
    return [re.escape(xsw.EVIL_IDO)]


# --------------------------------------------------------------------------- tables

BOTH = Recipe()
ASSERTION_ONLY = Recipe(response=UNSIGNED)
RESPONSE_ONLY = Recipe(assertion=UNSIGNED)
PLACEMENTS: tuple[tuple[str, str, Recipe], ...] = (
    ("both", "réponse et assertion signées", BOTH),
    ("assertion", "assertion seule signée", ASSERTION_ONLY),
)

FIX_SIGNATURE = ("Vérifiez la signature avec le seul certificat des métadonnées du GAR, sur "
                 "l'élément exact que vous lisez ; ignorez le certificat inclus dans KeyInfo.")
FIX_WRAPPING = ("Refusez toute réponse contenant plus d'une assertion, ou une assertion hors de "
                "sa place (fils direct de Response) ; lisez les valeurs dans l'élément que la "
                "vérification de signature a renvoyé, jamais par une recherche dans le document.")
FIX_ALGORITHMS = ("N'acceptez que RSA-SHA256 (ou plus fort), SHA-256 pour les empreintes, et "
                  "les seules transformations enveloped-signature et exc-c14n sans commentaires.")
FIX_AUDIENCE = ("Exigez, dans chaque AudienceRestriction, votre propre entityID parmi les "
                "Audience.")
FIX_DESTINATION = ("Comparez Destination à l'URL exacte de votre ACS (elle est obligatoire "
                   "quand la réponse est signée).")
FIX_RECIPIENT = ("Exigez une SubjectConfirmation bearer dont le Recipient est l'URL exacte de "
                 "votre ACS.")
FIX_ISSUER = "Exigez que l'Issuer soit l'entityID du GAR, dans l'assertion comme dans la réponse."
FIX_TIME = ("Contrôlez NotBefore / NotOnOrAfter (Conditions et SubjectConfirmationData) avec une "
            "tolérance d'horloge bornée (quelques minutes au plus).")
FIX_SKEW = ("Admettez une tolérance d'horloge de quelques minutes sur IssueInstant et "
            "NotBefore : les horloges du GAR et de votre serveur ne sont jamais exactement "
            "synchrones.")
FIX_IRT = ("Conservez l'ID de chaque AuthnRequest envoyée et exigez le même InResponseTo, dans "
           "la réponse et dans SubjectConfirmationData ; refusez un ID inconnu.")
FIX_REPLAY = ("Gardez les ID d'assertions déjà acceptées jusqu'à leur expiration et refusez "
              "toute assertion déjà utilisée, même depuis un autre navigateur.")
FIX_COMMENT = ("Lisez le texte complet des éléments (tous les nœuds texte, commentaires "
               "exclus), pas seulement le premier nœud texte.")
FIX_ACCEPT = ("Cette réponse est conforme à ce qu'envoie le GAR : votre service doit "
              "l'accepter. Vérifiez la confiance (métadonnées du bac à sable), l'URL de l'ACS "
              "et le marqueur de succès configuré.")


def _valid(options: Options) -> Iterable[Scenario]:
    for profile, label in (("student", "élève"), ("teacher", "enseignant"),
                           ("librarian", "documentaliste")):
        yield Scenario(f"valid.{profile}", "valides", f"Réponse valide, profil {label}",
                       "accept", FIX_ACCEPT, Recipe(profile=profile))
        yield Scenario(
            f"valid.unsolicited.{profile}", "valides",
            f"Réponse non sollicitée (médiacentre), profil {label}",
            "accept" if options.accepts_unsolicited else "reject",
            FIX_ACCEPT if options.accepts_unsolicited else FIX_IRT,
            Recipe(profile=profile), solicited=False)
    yield Scenario("valid.assertion_only_signed", "valides",
                   "Assertion signée, réponse non signée", "accept", FIX_ACCEPT, ASSERTION_ONLY)
    yield Scenario("valid.rsa_sha512", "valides", "Signatures RSA-SHA512", "accept", FIX_ACCEPT,
                   Recipe(assertion=Signer(algorithm=ALG_RSA_SHA512),
                          response=Signer(algorithm=ALG_RSA_SHA512)))
    yield Scenario("valid.no_keyinfo", "valides", "Signatures sans KeyInfo", "accept",
                   FIX_ACCEPT, Recipe(assertion=Signer(keyinfo="none"),
                                      response=Signer(keyinfo="none")))
    yield Scenario("valid.two_audiences", "valides",
                   "Deux Audience dans la même restriction, dont la vôtre", "accept",
                   FIX_AUDIENCE, Recipe(before=(_add_audience(OTHER_ENTITY),)))
    yield Scenario("valid.response_issuer_absent", "valides",
                   "Issuer absent de la réponse (facultatif)", "accept", FIX_ACCEPT,
                   Recipe(before=(set_text("response", "saml:Issuer", None),)))
    ahead = (set_attribute("assertion", ".", "IssueInstant", at(60)),
             set_attribute("assertion", "saml:Conditions", "NotBefore", at(60)),
             set_attribute("response", ".", "IssueInstant", at(60)))
    yield Scenario("valid.clock_ahead_within_skew", "valides",
                   "Horloge du GAR en avance d'une minute (dans la tolérance)", "accept",
                   FIX_SKEW, Recipe(before=ahead))
    yield Scenario("valid.not_before_absent", "valides",
                   "Conditions sans NotBefore (facultatif)", "accept", FIX_ACCEPT,
                   Recipe(before=(set_attribute("assertion", "saml:Conditions", "NotBefore",
                                                None),)))


def _signature(options: Options) -> Iterable[Scenario]:
    yield Scenario("signature.none", "signature", "Ni réponse ni assertion signées", "reject",
                   FIX_SIGNATURE, Recipe(assertion=UNSIGNED, response=UNSIGNED))
    yield Scenario(
        "signature.response_only", "signature",
        "Réponse seule signée (WantAssertionsSigned)",
        "reject" if options.want_assertions_signed else "accept",
        "Vos métadonnées demandent des assertions signées : exigez la signature de "
        "l'assertion elle-même." if options.want_assertions_signed else FIX_ACCEPT,
        RESPONSE_ONLY)
    keys = (
        ("foreign", "clé étrangère, son certificat dans KeyInfo", Signer(key="attacker")),
        ("foreign_trusted_cert", "clé étrangère, certificat du GAR dans KeyInfo",
         Signer(key="attacker", keyinfo="trusted")),
        ("foreign_no_keyinfo", "clé étrangère, sans KeyInfo",
         Signer(key="attacker", keyinfo="none")),
        ("cloned_certificate", "clé étrangère, clone du certificat du GAR (même sujet, même "
         "numéro de série, auto-signé) dans KeyInfo", Signer(key="attacker", keyinfo="clone")),
        ("rsa_key_value", "clé étrangère, KeyInfo réduit à RSAKeyValue (sans certificat)",
         Signer(key="attacker", after=(lambda el, ctx: signatures.rsa_key_value_only(
             el, ctx.attacker),))),
    )
    placements: Sequence[tuple[str, str, Callable[[Signer], Recipe]]] = (
        ("assertion", "sur l'assertion", lambda s: Recipe(assertion=s, response=UNSIGNED)),
        ("response", "sur la réponse", lambda s: Recipe(assertion=UNSIGNED, response=s)),
        ("both", "sur les deux", lambda s: Recipe(assertion=s, response=s)),
    )
    for key_id, key_label, signer in keys:
        for where_id, where_label, make in placements:
            yield Scenario(f"signature.{key_id}.{where_id}", "signature",
                           f"Signature par une {key_label}, {where_label}", "reject",
                           FIX_SIGNATURE, make(signer))
    # The trusted key signs the assertion, a foreign key the response (and the reverse).
    yield Scenario("signature.foreign_response_trusted_assertion", "signature",
                   "Assertion signée par le GAR, réponse par une clé étrangère", "reject",
                   FIX_SIGNATURE, Recipe(response=Signer(key="attacker")))
    yield Scenario("signature.trusted_response_foreign_assertion", "signature",
                   "Réponse signée par le GAR, assertion par une clé étrangère", "reject",
                   FIX_SIGNATURE, Recipe(assertion=Signer(key="attacker")))
    tampered = (
        ("attribute", "valeur d'attribut (IDO)", _rewrite_value("IDO", xsw.EVIL_IDO)),
        ("profile", "profil (PRO)", _rewrite_value("PRO", xsw.EVIL_PROFILE)),
        ("added_attribute", "attribut ajouté", _add_attribute_after),
        ("removed_attribute", "attribut retiré", _remove_attribute_after),
        ("name_id", "NameID", _rewrite_path("saml:Subject/saml:NameID", None, "admin")),
        ("audience", "Audience", _rewrite_path(AUDIENCE, None, OTHER_ENTITY)),
        ("not_on_or_after", "NotOnOrAfter",
         _rewrite_path("saml:Conditions", "NotOnOrAfter", at(86400))),
        ("issuer", "Issuer de l'assertion", _rewrite_path("saml:Issuer", None,
                                                          OTHER_ENTITY)),
    )
    for what, label, rewrite in tampered:
        for where_id, where_label, recipe in PLACEMENTS:
            yield Scenario(f"signature.modified.{what}.{where_id}", "signature",
                           f"{label} modifié(e) après signature ({where_label})", "reject",
                           FIX_SIGNATURE, recipe.but(after=(rewrite,)))
    structural: Sequence[tuple[str, str, Callable[[etree._Element, Context], None]]] = (
        ("signature_value", "SignatureValue altérée",
         lambda el, ctx: signatures.garble(el, "SignatureValue", ctx.key)),
        ("digest_value", "DigestValue altérée (SignedInfo signé de nouveau)",
         lambda el, ctx: signatures.garble(el, "DigestValue", ctx.key)),
        ("empty_reference", "Reference URI vide (document entier)",
         lambda el, ctx: _set_reference(el, "", ctx)),
        ("reference_elsewhere", "Reference vers un autre ID",
         lambda el, ctx: _set_reference(el, "#_ailleurs", ctx)),
        ("signed_info_removed", "SignedInfo retiré",
         lambda el, ctx: _remove_signed_info(el)),
        ("signature_value_empty", "SignatureValue vide",
         lambda el, ctx: signatures.blank(el, "SignatureValue", ctx.key)),
        ("signature_value_removed", "SignatureValue retirée",
         lambda el, ctx: signatures.remove_signature_value(el)),
        ("empty_signature", "élément ds:Signature vide",
         lambda el, ctx: signatures.empty_signature(el)),
        ("digest_value_empty", "DigestValue vide (SignedInfo signé de nouveau)",
         lambda el, ctx: signatures.blank(el, "DigestValue", ctx.key)),
        ("two_references", "deux Reference vers l'assertion (SignedInfo signé de nouveau)",
         lambda el, ctx: signatures.duplicate_reference(el, ctx.key)),
    )
    for what, label, edit in structural:
        yield Scenario(f"signature.structure.{what}", "signature", f"Signature : {label}",
                       "reject", FIX_SIGNATURE,
                       Recipe(response=UNSIGNED, assertion=Signer(after=(edit,))))


def _set_reference(element: etree._Element, uri: str, ctx: Context) -> None:
    signature = signatures.signature_of(element)
    reference = find(signature, "ds:SignedInfo/ds:Reference")
    reference.set("URI", uri)
    signatures.resign_signed_info(signature, ctx.key)


def _remove_signed_info(element: etree._Element) -> None:
    signature = signatures.signature_of(element)
    signature.remove(find(signature, "ds:SignedInfo"))


def _algorithms(options: Options) -> Iterable[Scenario]:
    cases: Sequence[tuple[str, str, Signer]] = (
        ("rsa_sha1", "signature RSA-SHA1", Signer(algorithm=ALG_RSA_SHA1)),
        ("digest_sha1", "empreinte SHA-1",
         Signer(after=(lambda el, ctx: signatures.sha1_digest(el, ctx.key),))),
        ("hmac_public_key", "HMAC-SHA1 avec le certificat public comme clé",
         Signer(after=(lambda el, ctx: signatures.hmac_with_public_certificate(el, ctx.key),))),
        ("transform_xslt", "transformation XSLT",
         Signer(after=(lambda el, ctx: signatures.add_transform(el, signatures.XSLT, ctx.key),))),
        ("transform_xpath", "transformation XPath",
         Signer(after=(lambda el, ctx: signatures.add_transform(el, signatures.XPATH,
                                                                ctx.key),))),
        ("transform_with_comments", "transformation exc-c14n avec commentaires",
         Signer(after=(lambda el, ctx: signatures.add_transform(
             el, signatures.EXC_C14N_WITH_COMMENTS, ctx.key),))),
        ("transform_unknown", "transformation inconnue",
         Signer(after=(lambda el, ctx: signatures.add_transform(
             el, signatures.UNKNOWN_TRANSFORM, ctx.key),))),
        ("c14n_with_comments", "canonicalisation de SignedInfo avec commentaires",
         Signer(after=(lambda el, ctx: signatures.set_canonicalization(
             el, signatures.EXC_C14N_WITH_COMMENTS, ctx.key),))),
    )
    for what, label, signer in cases:
        yield Scenario(f"algorithm.{what}", "algorithmes", f"Assertion signée avec {label}",
                       "reject", FIX_ALGORITHMS, Recipe(response=UNSIGNED, assertion=signer))


def _wrapping(options: Options) -> Iterable[Scenario]:
    for name, label, wrap in xsw.WRAPPINGS:
        recipe = (Recipe(assertion=UNSIGNED, after=(wrap,)) if name in ("xsw1", "xsw2")
                  else Recipe(response=UNSIGNED, after=(wrap,)))
        yield Scenario(f"wrapping.{name}", "enveloppement (XSW)", f"{name.upper()} : {label}",
                       "reject", FIX_WRAPPING, recipe, forbidden=_evil_values)
    yield Scenario("wrapping.two_signed_assertions", "enveloppement (XSW)",
                   "Deux assertions signées, pour deux personnes", "reject", FIX_WRAPPING,
                   Recipe(response=UNSIGNED, after=(_second_signed_assertion,)),
                   forbidden=_evil_values)


# Field variants: (id, French label, edit, expectation, how to fix). Signed, so only the
# service provider's own checks can catch them.
FieldCase = tuple[str, str, Callable[[Parts], None], Expect, str]
ASSERTION_FIELDS: tuple[FieldCase, ...] = (
    ("recipient.missing", "Recipient absent", set_attribute("assertion", SCD, "Recipient", None),
     "reject", FIX_RECIPIENT),
    ("recipient.wrong", "Recipient d'un autre service",
     set_attribute("assertion", SCD, "Recipient", OTHER_URL), "reject", FIX_RECIPIENT),
    ("recipient.suffixed", "Recipient = votre ACS suivi d'un suffixe",
     set_attribute("assertion", SCD, "Recipient", lambda ctx: ctx.acs_url + "/../autre"),
     "reject", FIX_RECIPIENT),
    ("audience.wrong", "Audience d'un autre fournisseur",
     set_text("assertion", AUDIENCE, OTHER_ENTITY), "reject", FIX_AUDIENCE),
    ("audience.empty", "Audience vide", set_text("assertion", AUDIENCE, ""), "reject",
     FIX_AUDIENCE),
    ("audience.missing", "AudienceRestriction absente",
     set_text("assertion", "saml:Conditions/saml:AudienceRestriction", None), "reject",
     FIX_AUDIENCE),
    ("audience.second_restriction", "Seconde AudienceRestriction pour un autre",
     _add_audience_restriction(OTHER_ENTITY), "reject", FIX_AUDIENCE),
    ("issuer.wrong", "Issuer de l'assertion inconnu",
     set_text("assertion", "saml:Issuer", OTHER_ENTITY), "reject", FIX_ISSUER),
    ("issuer.missing", "Issuer de l'assertion absent",
     set_text("assertion", "saml:Issuer", None), "reject", FIX_ISSUER),
    ("conditions.not_before.future", "Conditions NotBefore dans une heure",
     set_attribute("assertion", "saml:Conditions", "NotBefore", at(3600)), "reject", FIX_TIME),
    ("conditions.not_on_or_after.expired", "Conditions NotOnOrAfter passé d'une heure",
     set_attribute("assertion", "saml:Conditions", "NotOnOrAfter", at(-3600)), "reject",
     FIX_TIME),
    ("conditions.not_on_or_after.beyond_skew", "Conditions NotOnOrAfter passé de 10 minutes",
     set_attribute("assertion", "saml:Conditions", "NotOnOrAfter", at(-600)), "reject",
     FIX_TIME),
    ("conditions.missing", "Conditions absentes", set_text("assertion", "saml:Conditions", None),
     "reject", FIX_AUDIENCE),
    ("confirmation.not_on_or_after.expired", "SubjectConfirmationData NotOnOrAfter passé",
     set_attribute("assertion", SCD, "NotOnOrAfter", at(-3600)), "reject", FIX_TIME),
    ("confirmation.not_on_or_after.missing", "SubjectConfirmationData sans NotOnOrAfter",
     set_attribute("assertion", SCD, "NotOnOrAfter", None), "reject", FIX_TIME),
    ("confirmation.not_before.future", "SubjectConfirmationData NotBefore dans une heure",
     set_attribute("assertion", SCD, "NotBefore", at(3600)), "reject", FIX_TIME),
    ("confirmation.method", "SubjectConfirmation holder-of-key au lieu de bearer",
     set_attribute("assertion", "saml:Subject/saml:SubjectConfirmation", "Method",
                   "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"), "reject", FIX_RECIPIENT),
    ("confirmation.missing", "SubjectConfirmation absente",
     set_text("assertion", "saml:Subject/saml:SubjectConfirmation", None), "reject",
     FIX_RECIPIENT),
    ("issue_instant.future", "IssueInstant de l'assertion dans une heure",
     set_attribute("assertion", ".", "IssueInstant", at(3600)), "reject", FIX_TIME),
    ("session.expired", "SessionNotOnOrAfter passé",
     set_attribute("assertion", "saml:AuthnStatement", "SessionNotOnOrAfter", at(-3600)),
     "reject", FIX_TIME),
    ("in_response_to.confirmation_wrong", "InResponseTo de SubjectConfirmationData inconnu",
     set_attribute("assertion", SCD, "InResponseTo", "_requete_jamais_envoyee"), "reject",
     FIX_IRT),
    ("in_response_to.confirmation_missing",
     "InResponseTo absent de SubjectConfirmationData alors que vous avez demandé",
     set_attribute("assertion", SCD, "InResponseTo", None), "reject", FIX_IRT),
)
RESPONSE_FIELDS: tuple[FieldCase, ...] = (
    ("destination.wrong", "Destination d'un autre service",
     set_attribute("response", ".", "Destination", OTHER_URL), "reject", FIX_DESTINATION),
    ("destination.suffixed", "Destination = votre ACS suivi d'un suffixe",
     set_attribute("response", ".", "Destination", lambda ctx: ctx.acs_url + "?autre=1"),
     "reject", FIX_DESTINATION),
    ("issuer.response_wrong", "Issuer de la réponse différent de celui de l'assertion",
     set_text("response", "saml:Issuer", OTHER_ENTITY), "reject", FIX_ISSUER),
    ("in_response_to.response_wrong", "InResponseTo de la réponse inconnu",
     set_attribute("response", ".", "InResponseTo", "_requete_jamais_envoyee"), "reject",
     FIX_IRT),
    ("status.failure", "Statut d'échec (Responder) accompagné d'une assertion",
     lambda parts: find(parts.response, "samlp:Status/samlp:StatusCode").set(
         "Value", "urn:oasis:names:tc:SAML:2.0:status:Responder"), "reject",
     "Refusez toute réponse dont le StatusCode n'est pas Success."),
    ("version.wrong", "Version 1.1 annoncée",
     set_attribute("response", ".", "Version", "1.1"), "reject",
     "Refusez une réponse dont la Version n'est pas 2.0."),
)


def _fields(options: Options) -> Iterable[Scenario]:
    for case_id, label, edit, expect, fix in ASSERTION_FIELDS:
        for where_id, where_label, recipe in PLACEMENTS:
            yield Scenario(f"field.{case_id}.{where_id}", _family(case_id),
                           f"{label} ({where_label})", expect, fix, recipe.but(before=(edit,)))
    for case_id, label, edit, expect, fix in RESPONSE_FIELDS:
        yield Scenario(f"field.{case_id}", _family(case_id), f"{label} (réponse signée)",
                       expect, fix, BOTH.but(before=(edit,)))
    yield Scenario("field.destination.missing", "destination",
                   "Destination absente d'une réponse signée", "reject", FIX_DESTINATION,
                   BOTH.but(before=(set_attribute("response", ".", "Destination", None),)))
    both_irt_removed = (set_attribute("response", ".", "InResponseTo", None),
                        set_attribute("assertion", SCD, "InResponseTo", None))
    yield Scenario("field.in_response_to.both_missing", "InResponseTo",
                   "Réponse sans InResponseTo alors que vous avez demandé",
                   "accept" if options.accepts_unsolicited else "reject",
                   FIX_ACCEPT if options.accepts_unsolicited else FIX_IRT,
                   BOTH.but(before=both_irt_removed))
    unknown = (set_attribute("response", ".", "InResponseTo", "_requete_jamais_envoyee"),
               set_attribute("assertion", SCD, "InResponseTo", "_requete_jamais_envoyee"))
    yield Scenario("field.in_response_to.unsolicited_claims_request", "InResponseTo",
                   "Réponse non sollicitée prétendant répondre à une demande inconnue",
                   "reject", FIX_IRT, BOTH.but(before=unknown), solicited=False)


def _family(case_id: str) -> str:
    head = case_id.split(".")[0]
    return {"conditions": "validité", "confirmation": "confirmation du sujet",
            "issue_instant": "validité", "session": "validité", "recipient": "destinataire",
            "in_response_to": "InResponseTo", "status": "statut", "version": "version",
            "issuer": "émetteur"}.get(head, head)


def _replay(options: Options) -> Iterable[Scenario]:
    yield Scenario("replay.same_browser", "rejeu", "Rejeu d'une assertion acceptée, même "
                   "navigateur", "reject", FIX_REPLAY, replay="same-browser")
    yield Scenario("replay.other_browser", "rejeu", "Rejeu d'une assertion acceptée, autre "
                   "navigateur", "reject", FIX_REPLAY, replay="other-browser")
    if options.accepts_unsolicited:
        yield Scenario("replay.unsolicited", "rejeu", "Rejeu d'une réponse non sollicitée "
                       "acceptée, autre navigateur", "reject", FIX_REPLAY, solicited=False,
                       replay="other-browser")


def _comments(options: Options) -> Iterable[Scenario]:
    yield Scenario("comment.name_id", "injection de commentaire",
                   "NameID « valeur<!---->.evil » (commentaire injecté après signature)",
                   "safe", FIX_COMMENT,
                   Recipe(before=(_name_id_suffix,), response=UNSIGNED,
                          after=(_comment_in_name_id,)), forbidden=_truncated_name_id)
    for code, profile in (("IDO", "student"), ("UAI", "student"), ("PRE", "student"),
                          ("P_MEL", "teacher")):
        yield Scenario(f"comment.{code.lower()}", "injection de commentaire",
                       f"Valeur de {code} « valeur<!---->.evil » (commentaire injecté)",
                       "safe", FIX_COMMENT,
                       Recipe(profile=profile, before=(_with_suffix(code),), response=UNSIGNED,
                              after=(_comment_in_value(code),), always=(code,)),
                       forbidden=_truncated(code))


OTHER_RESOURCE = "ark:/99999/autre-ressource"
FIX_ACCOUNT = ("Identifiez la personne par IDO, jamais par le NameID (transitoire, différent à "
               "chaque connexion) ni par le nom : même IDO, même compte ; IDO différent, autre "
               "personne (l'IDO est propre à chaque fournisseur).")
FIX_LICENCE = ("Si vous recevez IDC, exigez qu'il vaille exactement <votre idRessource>_<IDO "
               "reçu> : un IDC d'une autre ressource ou d'une autre personne ne prouve aucune "
               "licence chez vous ; refusez l'accès.")
FIX_ESTABLISHMENT = ("À chaque connexion, remplacez UAI, DIV et GRO par les valeurs reçues : ils "
                     "décrivent l'établissement de cet accès ; n'affichez pas les classes "
                     "d'un établissement précédent.")


def _add_idc(resource_id: str, *, other_person: bool = False) -> Callable[[Parts], None]:
    """Before signing: an IDC naming ``resource_id`` and the assertion's own IDO (or another
    person's)."""
    def edit(parts: Parts) -> None:
        statement = find(parts.assertion, "saml:AttributeStatement")
        model = find(statement, "saml:Attribute")
        person = next((a for a in statement if a.get("Name") == "IDO"), None)
        who = ido() if other_person or person is None else (person[0].text or "")
        idc = copy.deepcopy(model)
        idc.set("Name", "IDC")
        for value in list(idc)[1:]:
            idc.remove(value)
        idc[0].text = f"{resource_id}_{who}"
        statement.append(idc)
    return edit


def _drop_attribute(code: str) -> Callable[[Parts], None]:
    def edit(parts: Parts) -> None:
        for attribute in list(parts.assertion.iter(f"{{{SAML}}}Attribute")):
            if attribute.get("Name") == code:
                parent = attribute.getparent()
                assert parent is not None
                parent.remove(attribute)
    return edit


def _values(code: str) -> Callable[[Persona], list[str]]:
    return lambda who: who.attributes.get(code, [])


def _gar(options: Options) -> Iterable[Scenario]:
    several = (make_uai(650499), make_uai(310001), make_uai(130042))
    yield Scenario("gar.uai_several", "GAR", "UAI à plusieurs valeurs (plusieurs "
                   "établissements)", "accept",
                   "Lisez UAI comme un attribut multivalué : toutes les valeurs comptent.",
                   Recipe(profile="teacher", uai=several, always=("UAI",)),
                   shown=_values("UAI"))
    yield Scenario("gar.ido_shape", "GAR", "IDO de 128 caractères hexadécimaux", "accept",
                   "Stockez IDO en entier (128 caractères) : c'est l'identifiant de la personne "
                   "chez vous.", Recipe(always=("IDO",)), shown=_values("IDO"))
    yield Scenario("gar.div_code_label", "GAR", "DIV au format code##libellé, plusieurs "
                   "valeurs", "accept",
                   "Découpez DIV et GRO sur « ## » : code puis libellé ; plusieurs valeurs.",
                   Recipe(profile="teacher", always=("DIV",)), shown=_values("DIV"))
    yield from _accounts()
    yield from _licence(options)
    yield from _attributes(options)


def _accounts() -> Iterable[Scenario]:
    """IDO per provider: two logins, compared through the account the service opens."""
    same, first, second = ido(), ido(), ido()
    yield Scenario(
        "gar.ido.same_person", "GAR", "Deux connexions, même IDO, NameID différents : "
        "un seul compte", "accept", FIX_ACCOUNT,
        Recipe(extra_attributes={"IDO": [same]}, always=("IDO",)),
        then=Recipe(extra_attributes={"IDO": [same]}, always=("IDO",)), same_account=True,
        requires=frozenset({"account"}))
    name_id = "_session-partagee-" + ido()[:16]
    yield Scenario(
        "gar.ido.other_person", "GAR", "Deux connexions, même NameID et même nom, IDO "
        "différents (IDO propre à un autre fournisseur) : deux comptes", "accept", FIX_ACCOUNT,
        Recipe(extra_attributes={"IDO": [first]}, always=("IDO",), name_id=name_id),
        then=Recipe(extra_attributes={"IDO": [second]}, always=("IDO",), name_id=name_id),
        same_account=False, requires=frozenset({"account"}))
    teacher, here, there = ido(), make_uai(650499), make_uai(310001)
    old, new = "4A-ETAB1##4e A (premier établissement)", "5C-ETAB2##5e C (second établissement)"
    yield Scenario(
        "gar.establishment.switch", "GAR", "Même enseignant, connexion depuis un second "
        "établissement : ses classes du premier ne s'affichent plus", "accept",
        FIX_ESTABLISHMENT,
        Recipe(profile="teacher", uai=(here,), always=("IDO", "UAI", "DIV"),
               extra_attributes={"IDO": [teacher], "DIV": [old]}),
        then=Recipe(profile="teacher", uai=(there,), always=("IDO", "UAI", "DIV"),
                    extra_attributes={"IDO": [teacher], "DIV": [new]}),
        shown=lambda who: [new, there], forbidden=lambda who: [re.escape(old), here],
        requires=frozenset({"echo"}))


def _licence(options: Options) -> Iterable[Scenario]:
    yield Scenario("gar.licence.other_resource", "GAR",
                   "IDC désignant une autre ressource", "reject", FIX_LICENCE,
                   Recipe(before=(_add_idc(OTHER_RESOURCE),)))
    if options.resource_id is None:
        return  # the next two need the editor's own idRessource (--resource-id)
    yield Scenario("gar.licence.other_person", "GAR",
                   "IDC de votre ressource mais d'une autre personne (autre IDO)", "reject",
                   FIX_LICENCE, Recipe(before=(_add_idc(options.resource_id,
                                                        other_person=True),)))
    yield Scenario("gar.idc", "GAR", "IDC = <votre idRessource>_<IDO>", "accept", FIX_ACCEPT,
                   Recipe(before=(_add_idc(options.resource_id),)))


def _attributes(options: Options) -> Iterable[Scenario]:
    unrequested = [c for c in CATALOGUE if c != "IDC" and c not in options.requested]
    if not options.requested:
        unrequested = ["P_MS4"]  # nothing declared: a teacher's levels, sent to a student
    if unrequested:
        code = unrequested[0]
        yield Scenario("attributes.not_requested", "attributs",
                       f"Attribut du catalogue que vous n'avez pas demandé ({code})", "accept",
                       "Ignorez un attribut non demandé ; ne refusez pas la personne.",
                       Recipe(extra_attributes={code: _sample(code)}))
    elif options.resource_id is not None:
        yield Scenario("attributes.not_requested", "attributs",
                       "Attribut du catalogue que vous n'avez pas demandé (IDC, le seul)",
                       "accept", "Ignorez un attribut non demandé ; ne refusez pas la personne.",
                       Recipe(before=(_add_idc(options.resource_id),)))
    optional = [c for c in ("GRO", "DIV", "CIV", "PRE", "NOM")
                if not options.requested or c in options.requested]
    if optional:
        yield Scenario("attributes.requested_absent", "attributs",
                       f"Attribut demandé absent ({optional[0]}) : la personne n'en a pas",
                       "accept", "Un attribut demandé peut manquer (élève sans groupe, "
                       "valeur non renseignée) : traitez-le comme vide, ne refusez pas la "
                       "personne.", Recipe(before=(_drop_attribute(optional[0]),)))
    yield Scenario("attributes.outside_catalogue", "attributs",
                   "Attribut hors catalogue (dateNaissance)", "accept",
                   "Ignorez un attribut inconnu ; ne le stockez pas.",
                   Recipe(extra_attributes={"dateNaissance": ["2012-03-04"]}))


def _sample(code: str) -> list[str]:
    """A plausible value of ``code`` when a scenario sends it unasked."""
    return {"P_MS4": ["1004"], "P_MEL": ["camille.martin@ac-test.fr"],
            "P_MAT": ["L0100##MATHEMATIQUES"], "GRO": ["4A-G1##4e A groupe 1"],
            "DIV": ["4A##4e A"], "CIV": ["Mme"], "NOM": ["Martin"], "PRE": ["Camille"],
            "PRO": ["National_elv"], "UAI": [make_uai(650499)]}.get(code, ["valeur"])


def saml_scenarios(options: Options | None = None) -> list[Scenario]:
    """The whole SAML suite, in report order."""
    options = options or Options()
    found: list[Scenario] = []
    for table in (_valid, _signature, _algorithms, _wrapping, _fields, _replay, _comments,
                  _gar):
        found.extend(table(options))
    ids = [s.id for s in found]
    assert len(ids) == len(set(ids)), "scenario ids must be unique"
    return found


def playable(scenarios: Sequence[Scenario], *, login: bool, account: bool, echo: bool
             ) -> tuple[list[Scenario], list[str]]:
    """The scenarios this run can judge, and a French line for each kind left out."""
    kept, left = [], {}
    for scenario in scenarios:
        if scenario.solicited is True and scenario.protocol == "saml" and not login:
            left["login"] = "sans --login-url, seuls les scénarios non sollicités sont joués"
        elif "account" in scenario.requires and not account:
            left["account"] = ("sans --account-marker, les scénarios qui comparent les comptes "
                               "ouverts (gar.ido.*) ne sont pas joués")
        elif "echo" in scenario.requires and not echo:
            left["echo"] = ("sans --echo-values, les scénarios qui lisent les valeurs affichées "
                            "(gar.establishment.*) ne sont pas joués")
        else:
            kept.append(scenario)
    return kept, list(left.values())


def select(scenarios: Sequence[Scenario], patterns: Sequence[str]) -> list[Scenario]:
    """Scenarios whose id starts with one of ``patterns`` (all when none is given)."""
    if not patterns:
        return list(scenarios)
    return [s for s in scenarios if any(s.id.startswith(p) for p in patterns)]
