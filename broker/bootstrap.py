"""Getting a broker ready: database schema, keys, synthetic academy, trusted peers.

`prepare` is what `gar-testbed up` and `seed` run, and what the end-to-end tests run: it is
idempotent, so running it on every start is safe and a restart keeps keys and data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from broker import oidc_clients, oidc_providers, trust
from broker.db import make_engine, migrate, session_factory
from broker.feed import import_file
from broker.models import OidcProvider
from broker.seed import SeedSummary, add_report, seed_catalogue, validate
from services import dataset
from services.feed import writer as feed_writer
from services.keys import load_or_create, load_ring, load_secret
from services.peers import read_metadata
from services.settings import Settings

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def mock_metadata(settings: Settings) -> dict[str, bytes]:
    """The two mocks' metadata, computed from their keys (no server needs to be up)."""
    from idp_mock.app import metadata_xml as idp_metadata
    from provider_mock.app import metadata_xml as provider_metadata

    return {"idp_mock": idp_metadata(settings), "provider_mock": provider_metadata(settings)}


def prepare(settings: Settings, *, progress: Progress | None = None, establishments: int = 0,
            students_per_establishment: int = 0, teachers_per_establishment: int | None = None,
            seed: int = 0) -> dict[str, int]:
    """Keys, schema, the academy (people through the feed), trusted peers; idempotent.

    ``establishments`` / ``students_per_establishment`` / ``teachers_per_establishment`` /
    ``seed`` ask for a national-size academy (deterministic); the identity-provider mock
    knows only the fixed personas.
    """
    say = progress or _quiet
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    say("clés : génération ou lecture (broker, idp, provider)")
    load_ring(settings.keys_dir, "broker", "gar-testbed broker")  # the broker's keys rotate
    for name in ("idp", "provider"):
        load_or_create(settings.keys_dir, name, f"gar-testbed {name}")
    load_secret(settings.keys_dir, "ido")
    say("base de données : migrations")
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    sessions = session_factory(engine)
    say("annuaire et catalogue : académie synthétique")
    data = dataset.build(provider_base=settings.provider_base, seed=seed,
                         establishments=establishments,
                         students_per_establishment=students_per_establishment,
                         teachers_per_establishment=teachers_per_establishment)
    summary = seed_feed(settings, sessions, data, say)
    with sessions.begin() as session:
        seed_catalogue(session, data, summary)
    say("registre de confiance : métadonnées des services simulés")
    metadata_dir = settings.data_dir / "metadata"
    metadata_dir.mkdir(exist_ok=True)
    sources: list[tuple[str, bytes]] = []
    for name, xml in mock_metadata(settings).items():
        path = metadata_dir / f"{name}.xml"
        path.write_bytes(xml)
        sources.append((str(path), xml))
    for source in [*settings.idp_metadata, *settings.sp_metadata]:
        sources.append((source, _fetch(source, settings)))
    with sessions.begin() as session:
        for source, xml in sources:
            trust.register(session, xml, source=source)
    say("registre de confiance : clients et fournisseurs OpenID Connect simulés")
    with sessions.begin() as session:
        register_mock_oidc(session, settings)
    engine.dispose()
    counts = dict(_counts(summary))
    counts["peers"] = len(sources)
    return counts


IDP_MOCK_OIDC_SOURCE = "idp_mock (OpenID Connect)"


def register_mock_oidc(session: Session, settings: Settings) -> None:
    """The provider mock's OIDC client; the IdP mock's OpenID Provider when asked for.

    Both from what the mocks compute (no server needs to be up); the secrets come from the
    shared keys folder, as the mocks read them.
    """
    from idp_mock import oidc_op as idp_oidc
    from provider_mock import oidc_rp as provider_oidc
    from services.oidc import jose

    oidc_clients.register(session, provider_oidc.registration(settings),
                          provider_id=dataset.PROVIDER_MOCK_ID,
                          secret=provider_oidc.client_secret(settings))
    if not settings.idp_oidc:
        session.execute(delete(OidcProvider).where(OidcProvider.source == IDP_MOCK_OIDC_SOURCE))
        return
    client = idp_oidc.broker_client(settings)
    oidc_providers.register(
        session, idp_oidc.metadata(settings),
        jose.jwks([load_or_create(settings.keys_dir, "idp")]),
        client_id=client.client_id, client_secret=client.secret, source=IDP_MOCK_OIDC_SOURCE,
    )


def seed_feed(settings: Settings, sessions: sessionmaker[Session], data: dataset.Dataset,
              say: Progress) -> SeedSummary:
    """Write the academy's people as feed files in ``data_dir/feed`` and import them.

    The feed is the one way people enter the broker: the seed goes through it like an ENT.
    Files of an earlier run are replaced (a ``Complet`` export supersedes the previous one).
    """
    validate(data)
    folder = settings.data_dir / "feed"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*_GAR-ENT_Complet_*.xml"):
        old.unlink()
    summary = SeedSummary()
    for path in feed_writer.write(data, folder, at=datetime.now(UTC)):
        report = import_file(sessions, path)
        say(f"annuaire : {report.summary()}")
        add_report(summary, report)
    return summary


def _counts(summary: object) -> dict[str, int]:
    if isinstance(summary, dict):
        return {str(k): int(v) for k, v in summary.items()}
    fields = getattr(summary, "__dataclass_fields__", {})
    return {name: int(getattr(summary, name)) for name in fields}


def _fetch(source: str, settings: Settings) -> bytes:
    return read_metadata(source, max_bytes=trust.MAX_METADATA_BYTES)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def trust_add(settings: Settings, source: str, *, allow_sha1: bool | None = None) -> str:
    """Register a real peer (its metadata file or URL); returns its entity id."""
    xml = _fetch(source, settings)
    with _session(settings) as session:
        return trust.register(session, xml, source=source, allow_sha1=allow_sha1).entity_id


def trust_list(settings: Settings) -> list[tuple[str, str, str]]:
    with _session(settings) as session:
        return trust.peers(session)
