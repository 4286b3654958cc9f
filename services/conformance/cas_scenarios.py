"""The CAS publisher's scenario table: issue 6's "for a publisher that uses CAS".

A CAS publisher must validate every ticket with the broker (a forged or reused ``ticket``, one
issued for another service or expired, must log nobody in), follow ``grain`` deep links only
within its own site, read ``UAI`` as several values, key accounts on ``IDO`` (not ``cas:user``),
scope classes to the establishment of each access and refuse an ``IDC`` of another resource.
One row per case, as the SAML tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Literal

from services.conformance.forge import Persona, Recipe, ido
from services.conformance.scenarios import (
    FIX_ESTABLISHMENT,
    FIX_LICENCE,
    OTHER_RESOURCE,
    CasCase,
    Expect,
    Scenario,
)
from services.uai import make_uai

OTHER_SERVICE = "https://autre-editeur.example.org/ressource?sso_id=GAR"
#: Deep links that leave the publisher's site, and what a page must not send the person to.
OFFSITE_GRAINS: tuple[tuple[str, str, str], ...] = (
    ("other_host", "vers un autre hôte", "https://autre-site.example.org/chapitre-3"),
    ("scheme_relative", "« //evil.example » (relatif au schéma)", "//evil.example/chapitre-3"),
    ("javascript", "« javascript: »", "javascript:alert(document.domain)"),
)

FIX_ACCEPT = ("Ce ticket est conforme à ce qu'émet le GAR : votre service doit l'accepter. "
              "Vérifiez qu'il valide auprès du serveur CAS du bac à sable (--sandbox-url + "
              "/cas), avec pour service son URL exacte sans « ticket », et le marqueur de "
              "succès configuré.")
FIX_VALIDATE = ("Validez chaque ticket auprès du GAR (p3/serviceValidate) avant toute "
                "connexion, avec pour service l'URL exacte de votre page sans « ticket », et "
                "refusez l'accès sur toute cas:authenticationFailure ; n'associez jamais une "
                "session à un ticket déjà vu.")
FIX_GRAIN = ("Ne suivez « grain » que s'il désigne une page de votre propre site (chemin "
             "absolu commençant par un seul « / », ou votre schéma et votre hôte exacts) ; "
             "refusez ou ignorez tout autre schéma, hôte ou « // ».")
FIX_CAS_ACCOUNT = ("Identifiez la personne par l'attribut IDO, jamais par cas:user : même IDO, "
                   "même compte ; IDO différent, autre personne.")
FIX_UAI = ("Lisez UAI comme un attribut multivalué : un cas:UAI par établissement, toutes les "
           "valeurs comptent.")


def cas_scenarios() -> list[Scenario]:
    """The whole CAS suite, in report order."""
    found = [*_valid(), *_tickets(), *_grain(), *_gar()]
    ids = [s.id for s in found]
    assert len(ids) == len(set(ids)), "scenario ids must be unique"
    return found


def _cas(case_id: str, family: str, title: str, expect: Expect, fix: str, *,
         recipe: Recipe | None = None, case: CasCase | None = None,
         shown: Callable[[Persona], list[str]] | None = None,
         replay: Literal["other-browser"] | None = None, then: Recipe | None = None,
         same_account: bool | None = None,
         forbidden: Callable[[Persona], list[str]] | None = None,
         requires: frozenset[str] = frozenset()) -> Scenario:
    return Scenario(f"cas.{case_id}", family, title, expect, fix, recipe or Recipe(),
                    replay=replay, shown=shown, protocol="cas", cas=case or CasCase(),
                    then=then, same_account=same_account, forbidden=forbidden,
                    requires=requires)


def _valid() -> Iterable[Scenario]:
    for profile, label in (("student", "élève"), ("teacher", "enseignant"),
                           ("librarian", "documentaliste")):
        yield _cas(f"valid.{profile}", "CAS valides", f"Ticket valide, profil {label}",
                   "accept", FIX_ACCEPT, recipe=Recipe(profile=profile),
                   shown=lambda who: who.attributes["IDO"])
    yield _cas("valid.grain_own_site", "CAS valides",
               "Ticket valide, « grain » vers une page de votre site", "accept", FIX_ACCEPT,
               case=CasCase(grain_own_path=True))


def _tickets() -> Iterable[Scenario]:
    yield _cas("ticket.forged", "CAS tickets", "Ticket jamais émis (forgé)", "reject",
               FIX_VALIDATE, case=CasCase(ticket="forged"))
    yield _cas("ticket.reused", "CAS tickets",
               "Ticket déjà accepté, présenté de nouveau par un autre navigateur", "reject",
               FIX_VALIDATE, replay="other-browser")
    yield _cas("ticket.other_service", "CAS tickets",
               "Ticket émis pour un autre service", "reject", FIX_VALIDATE,
               case=CasCase(ticket="other-service"))
    yield _cas("ticket.expired", "CAS tickets", "Ticket expiré", "reject", FIX_VALIDATE,
               case=CasCase(ticket="expired"))


def _grain() -> Iterable[Scenario]:
    for case_id, label, grain in OFFSITE_GRAINS:
        yield _cas(f"grain.{case_id}", "CAS grain", f"« grain » hors du site : {label}",
                   "safe", FIX_GRAIN, case=CasCase(grain=grain))


def _gar() -> Iterable[Scenario]:
    several = (make_uai(650499), make_uai(310001), make_uai(130042))
    yield _cas("uai_several", "CAS GAR", "UAI à plusieurs valeurs (plusieurs établissements)",
               "accept", FIX_UAI, recipe=Recipe(profile="teacher", uai=several),
               shown=lambda who: who.attributes["UAI"])
    same, first, second, teacher = ido(), ido(), ido(), ido()
    yield _cas("gar.ido.same_person", "CAS GAR", "Deux connexions, même IDO, cas:user "
               "différents : un seul compte", "accept", FIX_CAS_ACCOUNT,
               recipe=Recipe(extra_attributes={"IDO": [same]}),
               then=Recipe(extra_attributes={"IDO": [same]}), same_account=True,
               requires=frozenset({"account"}))
    user = "utilisateur-partage-" + ido()[:12]
    yield _cas("gar.ido.other_person", "CAS GAR", "Deux connexions, même cas:user, IDO "
               "différents (IDO propre à un autre fournisseur) : deux comptes", "accept",
               FIX_CAS_ACCOUNT, recipe=Recipe(extra_attributes={"IDO": [first]}, name_id=user),
               then=Recipe(extra_attributes={"IDO": [second]}, name_id=user),
               same_account=False, requires=frozenset({"account"}))
    here, there = make_uai(650499), make_uai(310001)
    old, new = "4A-ETAB1##4e A (premier établissement)", "5C-ETAB2##5e C (second établissement)"
    yield _cas("gar.establishment.switch", "CAS GAR", "Même enseignant, connexion depuis un "
               "second établissement : ses classes du premier ne s'affichent plus", "accept",
               FIX_ESTABLISHMENT,
               recipe=Recipe(profile="teacher", uai=(here,),
                             extra_attributes={"IDO": [teacher], "DIV": [old]}),
               then=Recipe(profile="teacher", uai=(there,),
                           extra_attributes={"IDO": [teacher], "DIV": [new]}),
               shown=lambda who: [new, there], forbidden=lambda who: [re.escape(old), here],
               requires=frozenset({"echo"}))
    licensed = ido()
    yield _cas("gar.licence.other_resource", "CAS GAR", "IDC désignant une autre ressource",
               "reject", FIX_LICENCE,
               recipe=Recipe(extra_attributes={"IDO": [licensed],
                                               "IDC": [f"{OTHER_RESOURCE}_{licensed}"]}))
