"""What each stable error code means to the person who sees it, in French.

Codes are the contract (tests and integrators match on them); the sentences may change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    title: str
    reason: str
    action: str


_PEER = "Vérifiez la configuration de votre fournisseur et ses métadonnées enregistrées au GAR."
_IDP = "Recommencez la connexion depuis votre ENT ; si l'erreur persiste, transmettez ce code à l'équipe de l'ENT."

MESSAGES: dict[str, Message] = {
    "saml.xml.too_large": Message("Message trop volumineux", "Le message SAML dépasse la taille autorisée.", _PEER),
    "saml.xml.malformed": Message("Message illisible", "Le message SAML n'est pas un XML bien formé.", _PEER),
    "saml.xml.dtd_forbidden": Message("Message refusé", "Le message SAML contient une DTD, une entité ou une instruction interdite.", _PEER),
    "saml.binding.invalid": Message("Requête incorrecte", "Les paramètres SAML de la requête sont absents ou mal encodés.", _PEER),
    "saml.signature.missing": Message("Signature absente", "Le message SAML n'est pas signé.", _PEER),
    "saml.signature.invalid": Message("Signature invalide", "La signature du message SAML ne correspond à aucun certificat de confiance.", _PEER),
    "saml.signature.algorithm": Message("Algorithme refusé", "Le message est signé avec un algorithme non autorisé (SHA-1).", _PEER),
    "saml.message.unexpected": Message("Message inattendu", "La structure du message SAML n'est pas celle attendue.", _PEER),
    "saml.issuer.unknown": Message("Émetteur inconnu", "L'émetteur du message n'est pas enregistré dans le registre de confiance du GAR.", _PEER),
    "saml.issuer.mismatch": Message("Émetteur inattendu", "Le message ne provient pas du fournisseur d'identité sollicité.", _IDP),
    "saml.destination.mismatch": Message("Destination incorrecte", "Le message est adressé à un autre point d'accès que celui du GAR.", _PEER),
    "saml.recipient.mismatch": Message("Destinataire incorrect", "L'assertion est destinée à un autre point d'accès.", _PEER),
    "saml.audience.mismatch": Message("Audience incorrecte", "L'assertion est destinée à un autre service.", _PEER),
    "saml.time.expired": Message("Assertion expirée", "L'assertion n'est plus valide.", _IDP),
    "saml.time.not_yet_valid": Message("Assertion pas encore valide", "L'assertion n'est pas encore valide (horloges désynchronisées ?).", _IDP),
    "saml.in_response_to.mismatch": Message("Réponse inattendue", "La réponse ne correspond pas à la demande d'authentification envoyée.", _IDP),
    "saml.in_response_to.unsolicited": Message("Réponse non sollicitée", "Le GAR n'accepte pas de réponse sans demande préalable.", _IDP),
    "saml.status.failure": Message("Authentification échouée", "Le fournisseur d'identité a répondu par un échec.", _IDP),
    "saml.encrypted.unsupported": Message("Assertion chiffrée", "Les assertions chiffrées ne sont pas prises en charge par ce banc d'essai.", _PEER),
    "saml.subject.confirmation": Message("Confirmation absente", "L'assertion ne contient pas de confirmation de type « bearer » valide.", _PEER),
    "saml.metadata.invalid": Message("Métadonnées invalides", "Les métadonnées du partenaire sont invalides ou expirées.", _PEER),
    "saml.replay": Message("Assertion déjà utilisée", "Cette assertion a déjà été présentée : une assertion ne sert qu'une fois.", _IDP),
    "sso.protocol_unsupported": Message("Protocole non pris en charge", "Cette ressource est déclarée avec un protocole de connexion que ce GAR ne sait pas encore parler.", "Signalez-le à l'éditeur de la ressource ou à l'administrateur du GAR."),
    "sso.unknown_sp": Message("Fournisseur inconnu", "Le fournisseur de ressources qui vous envoie n'est pas enregistré au GAR.", "Contactez l'éditeur de la ressource."),
    "saml.acs.unregistered": Message("Adresse de retour refusée", "L'adresse de retour demandée ne figure pas dans les métadonnées du fournisseur.", _PEER),
    "sso.unknown_resource": Message("Ressource inconnue", "Le RelayState ne désigne aucune ressource de ce fournisseur enregistrée au GAR.", "Le RelayState doit porter l'URL de la ressource telle qu'enregistrée au GAR."),
    "sso.relay_state_invalid": Message("RelayState invalide", "Le RelayState est trop long ou n'est pas une URL valide.", "Le RelayState doit porter l'URL de la ressource telle qu'enregistrée au GAR."),
    "sso.no_identity_provider": Message("Aucun fournisseur d'identité", "Aucun fournisseur d'identité n'est enregistré au GAR.", "Enregistrez les métadonnées de votre ENT (gar-testbed trust add)."),
    "sso.unknown_identity_provider": Message("Fournisseur d'identité inconnu", "Le fournisseur d'identité choisi n'est pas enregistré.", "Choisissez un fournisseur dans la liste."),
    "sso.authn_not_fresh": Message("Authentification non renouvelée", "La ressource a demandé que vous saisissiez à nouveau vos identifiants, et le fournisseur d'identité n'a pas prouvé une authentification faite à l'instant.", _IDP),
    "sso.state_unknown": Message("Session de connexion introuvable", "La demande de connexion est inconnue, expirée ou déjà utilisée.", "Recommencez depuis la ressource ou le médiacentre."),
    "cas.service_missing": Message("Adresse de la ressource absente", "La demande de connexion CAS ne précise pas le service (paramètre service) auquel remettre le ticket.", "Ouvrez la ressource depuis le médiacentre de votre ENT ; éditeur : appelez /cas/login?service=<URL de votre ressource>."),
    "cas.service_invalid": Message("Adresse de la ressource invalide", "L'adresse du service CAS est trop longue, mal formée ou contient un fragment, des identifiants ou des segments « .. ».", "L'éditeur doit passer l'URL exacte de sa ressource, encodée, dans le paramètre service."),
    "cas.service_unregistered": Message("Service CAS non enregistré", "L'adresse du service ne correspond à aucune ressource enregistrée au GAR pour le protocole CAS : le GAR n'y remet pas de ticket.", "L'adresse doit avoir l'origine exacte et le chemin de l'URL d'accès enregistrée de la ressource."),
    "cas.request_invalid": Message("Requête CAS incorrecte", "Un paramètre de la requête CAS est répété.", "L'éditeur doit passer chaque paramètre une seule fois."),
    "cas.no_identifier": Message("Identifiant non transmissible", "La ressource ne déclare pas l'attribut IDO, sans lequel le GAR ne peut pas émettre de ticket CAS.", "L'éditeur doit déclarer l'attribut IDO lors de l'enregistrement de la ressource."),
    "mediacentre.bad_request": Message("Lien du médiacentre invalide", "Les paramètres idENT, idEtab et idSrc (en Base64) sont absents ou mal encodés.", "Recommencez depuis le médiacentre de votre ENT."),
    "oidc.client.unknown": Message("Client OpenID Connect inconnu", "La ressource qui vous envoie n'est pas enregistrée au GAR comme client OpenID Connect.", "Contactez l'éditeur de la ressource."),
    "oidc.redirect_uri.unregistered": Message("Adresse de retour refusée", "L'adresse de retour (redirect_uri) ne figure pas exactement parmi celles que la ressource a enregistrées au GAR.", _PEER),
    "oidc.logout.invalid": Message("Déconnexion refusée", "Le jeton d'identité présenté pour la déconnexion n'a pas été émis par ce GAR pour ce client.", _PEER),
    "oidc.logout.redirect_unregistered": Message("Adresse de retour refusée", "L'adresse de retour après déconnexion ne figure pas exactement parmi celles que la ressource a enregistrées.", _PEER),
    "oidc.upstream.error": Message("Authentification échouée", "Le fournisseur d'identité a répondu par une erreur.", _IDP),
    "oidc.upstream.unreachable": Message("Fournisseur d'identité injoignable", "Le GAR n'a pas pu échanger le code d'autorisation auprès du fournisseur d'identité.", _IDP),
    "oidc.upstream.token": Message("Réponse inattendue", "Le fournisseur d'identité n'a pas remis de jeton d'identité.", _IDP),
    "oidc.upstream.userinfo": Message("Réponse incohérente", "Les informations de l'utilisateur ne correspondent pas au jeton d'identité.", _IDP),
    "oidc.code.invalid": Message("Code d'autorisation absent", "Le fournisseur d'identité n'a pas transmis de code d'autorisation utilisable.", _IDP),
    "oidc.token.too_large": Message("Jeton trop volumineux", "Le jeton d'identité dépasse la taille autorisée.", _PEER),
    "oidc.token.malformed": Message("Jeton illisible", "Le jeton d'identité n'est pas un JWT signé bien formé.", _PEER),
    "oidc.token.algorithm": Message("Algorithme refusé", "Le jeton d'identité est signé avec un algorithme non autorisé pour ce fournisseur (par exemple « none » ou HS256).", _PEER),
    "oidc.token.signature": Message("Signature invalide", "La signature du jeton d'identité ne correspond à aucune clé publiée par le fournisseur.", _PEER),
    "oidc.token.issuer": Message("Émetteur inattendu", "Le jeton d'identité ne provient pas du fournisseur d'identité sollicité.", _IDP),
    "oidc.token.audience": Message("Audience incorrecte", "Le jeton d'identité est destiné à un autre client.", _PEER),
    "oidc.token.expired": Message("Jeton expiré", "Le jeton d'identité n'est plus valide.", _IDP),
    "oidc.token.not_yet_valid": Message("Jeton pas encore valide", "Le jeton d'identité est daté dans le futur (horloges désynchronisées ?).", _IDP),
    "oidc.token.nonce": Message("Jeton rejoué", "Le jeton d'identité ne répond pas à cette demande de connexion (nonce différent).", _IDP),
    "oidc.token.replay": Message("Jeton déjà utilisé", "Ce jeton d'identité a déjà été présenté : il ne sert qu'une fois.", _IDP),
}


def message_for(code: str) -> Message:
    return MESSAGES.get(code, Message("Erreur", "La demande n'a pas pu aboutir.", _PEER))
