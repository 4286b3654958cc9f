"""The GAR rules a careful publisher applies whatever the protocol brought the person (SAML
or CAS): the person is their IDO, and an IDC, when sent, must name this resource and them."""

from __future__ import annotations

import re

from provider_mock.display import Refusal
from services import dataset as dataset_module

_IDO = re.compile(r"[0-9a-f]{128}")


def ido_of(attributes: dict[str, list[str]]) -> str:
    """The person's key here: their IDO, never the NameID (a transient, per-login value)."""
    values = attributes.get("IDO", [])
    if len(values) != 1 or not _IDO.fullmatch(values[0]):
        raise Refusal("provider.no_ido",
                       "Le gestionnaire d'accès n'a pas transmis un identifiant IDO unique de "
                       "128 caractères hexadécimaux : sans lui, l'utilisateur ne peut être "
                       "reconnu.")
    return values[0]


def check_licence(attributes: dict[str, list[str]], resource: dataset_module.Resource,
                   ido: str) -> None:
    """IDC, when sent, names the licence: this resource, this person (``<idRessource>_<IDO>``)."""
    if "IDC" in attributes and attributes["IDC"] != [f"{resource.id}_{ido}"]:
        raise Refusal("provider.licence.other_resource",
                       "L'identifiant de connexion (IDC) reçu désigne une autre ressource ou "
                       "une autre personne : l'accès à cette ressource n'est pas prouvé.",
                       403, ", ".join(attributes["IDC"])[:200])
