"""The broker's database: directory, catalogue, subscriptions, trust, flow state, audit.

Portable to SQLite and PostgreSQL. Every timestamp is timezone-aware and stored as UTC
(:class:`UTCDateTime`), because SQLite drops the offset and a naive datetime compared with an
aware one is a crash in a security check. The audit tables carry no foreign keys on purpose:
a directory snapshot that removes a person must not rewrite (and so break) the hash chain.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

UAI = String(45)
PERSON_ID = String(64)
ENTITY_ID = String(1024)
RESOURCE_ID = String(255)
SUBSCRIPTION_ID = String(64)  # 45 on the wire; room for the "_" kept on deletion
NAME = String(500)
CODE = String(255)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is a programming error."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Named constraints, so later migrations (and SQLite batch mode) can address them.
    metadata = MetaData(naming_convention=NAMING)


def table(model: type[Base]) -> Table:
    """A model's table, to build the statements of hot paths on.

    A statement built from the mapped class's attributes runs through the ORM's execution
    layer even when it selects plain columns: about 120 µs of CPU more per execution than the
    same SQL built from the table (bench/README.md, fourth pass), a dozen times per login.
    """
    return cast(Table, model.__table__)


# --- directory -----------------------------------------------------------------------------


class Establishment(Base):
    __tablename__ = "establishments"

    uai: Mapped[str] = mapped_column(UAI, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    kind: Mapped[str | None] = mapped_column(String(32))  # ecole | college | lycee
    academy: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(255))
    ent_id: Mapped[str | None] = mapped_column(String(64))


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(PERSON_ID, unique=True)
    ent_id: Mapped[str] = mapped_column(String(64), index=True)
    join_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_name: Mapped[str] = mapped_column(NAME)
    first_name: Mapped[str] = mapped_column(NAME)
    civility: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[date | None] = mapped_column(Date)
    ine: Mapped[str | None] = mapped_column(String(16))
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)


class PersonProfile(Base):
    __tablename__ = "person_profiles"
    __table_args__ = (UniqueConstraint("person_pk", "uai"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai", ondelete="CASCADE"),
                                     index=True)
    profile: Mapped[str] = mapped_column(String(32))


class Group(Base):
    """A class (status ``DIVISION``) or a group (``GROUPE``) of one establishment."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("uai", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(CODE)
    label: Mapped[str] = mapped_column(NAME)
    status: Mapped[str] = mapped_column(String(16))
    divisions: Mapped[list[str]] = mapped_column(JSON, default=list)  # GARGroupeDivAppartenance


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "person_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"),
                                           index=True)


class Mef(Base):
    __tablename__ = "mefs"
    __table_args__ = (UniqueConstraint("uai", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(11))
    label: Mapped[str] = mapped_column(NAME)
    mefstat4: Mapped[str | None] = mapped_column(String(4))


class PersonMef(Base):
    __tablename__ = "person_mefs"
    __table_args__ = (UniqueConstraint("person_pk", "mef_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    mef_id: Mapped[int] = mapped_column(ForeignKey("mefs.id", ondelete="CASCADE"), index=True)


class Subject(Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("uai", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(CODE)
    label: Mapped[str] = mapped_column(NAME)


class PersonSubject(Base):
    """A subject a student studies or a teacher teaches, in one establishment."""

    __tablename__ = "person_subjects"
    __table_args__ = (UniqueConstraint("person_pk", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"),
                                            index=True)


class PersonLevel(Base):
    """A teacher's level (MEFSTAT4) in one establishment, released as ``P_MS4``."""

    __tablename__ = "person_levels"
    __table_args__ = (UniqueConstraint("person_pk", "uai", "mefstat4"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai", ondelete="CASCADE"),
                                     index=True)
    mefstat4: Mapped[str] = mapped_column(String(4))


class PersonDiscipline(Base):
    """A teacher's post discipline (``GAREnsDisciplinePosteCode``) in one establishment."""

    __tablename__ = "person_disciplines"
    __table_args__ = (UniqueConstraint("person_pk", "uai", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai", ondelete="CASCADE"),
                                     index=True)
    code: Mapped[str] = mapped_column(CODE)


class RespAff(Base):
    """An assignment officer (``RA``) or delegate (``RAD``) of one establishment."""

    __tablename__ = "respaff"
    __table_args__ = (UniqueConstraint("person_pk", "uai"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai", ondelete="CASCADE"),
                                     index=True)
    role: Mapped[str] = mapped_column(String(8), default="RA")


# --- catalogue and subscriptions -------------------------------------------------------------


class Provider(Base):
    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ENTITY_ID, unique=True)
    name: Mapped[str] = mapped_column(NAME)
    distributor_id: Mapped[str | None] = mapped_column(String(26), index=True)


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(RESOURCE_ID, primary_key=True)  # ARK
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    title: Mapped[str] = mapped_column(NAME)
    editor_id: Mapped[str] = mapped_column(String(26))
    editor_name: Mapped[str] = mapped_column(NAME)
    access_url: Mapped[str] = mapped_column(String(2048))
    protocol: Mapped[str] = mapped_column(String(16))  # saml | oidc | cas
    delivery: Mapped[str] = mapped_column(String(16))  # assigned | automatic
    presentation: Mapped[str | None] = mapped_column(String(8))  # MAN, DIC, MUL, PRO
    # Mediacentre presentation (services.scolomfr): a thumbnail URL (a path is one this
    # broker serves) and ScoLOMFR term ids; NULL means not described.
    thumbnail_url: Mapped[str | None] = mapped_column(String(2048))
    levels: Mapped[list[str] | None] = mapped_column(JSON)  # ScoLOMFR 022
    subjects: Mapped[list[str] | None] = mapped_column(JSON)  # ScoLOMFR 015
    pedagogical_types: Mapped[list[str] | None] = mapped_column(JSON)  # ScoLOMFR 010
    document_types: Mapped[list[str] | None] = mapped_column(JSON)  # ScoLOMFR 005
    # Diffusables flags and families (issue 3, migration 0010): ``affichable`` (listed in the
    # mediacentre), ``diffusable`` (may be subscribed to), ``family_id`` a member's mother.
    displayable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    distributable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    family_id: Mapped[str | None] = mapped_column(RESOURCE_ID, index=True)


class ResourceAttribute(Base):
    """One declared attribute code of a resource, with the purpose the editor gave."""

    __tablename__ = "resource_attributes"
    __table_args__ = (UniqueConstraint("resource_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(1000))


class Subscription(Base):
    """An ``abonnement`` (GAR_REFERENCE §3); ``licences_*`` NULL means not given."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_resource_uai", "resource_id", "uai"),)

    id: Mapped[str] = mapped_column(SUBSCRIPTION_ID, primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id"))
    # NULL only on a codeNatureUAI subscription (see the subscriptions-by-nature section).
    uai: Mapped[str | None] = mapped_column(ForeignKey("establishments.uai"), index=True)
    distributor_id: Mapped[str] = mapped_column(String(26))
    comment: Mapped[str | None] = mapped_column(String(255))
    resource_label: Mapped[str | None] = mapped_column(NAME)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(8))  # INDIV | ETABL
    category: Mapped[str] = mapped_column(String(32))  # transferable | non transferable
    audience: Mapped[list[str]] = mapped_column(JSON)  # publicCible values
    licences_global: Mapped[int | None] = mapped_column(Integer)
    licences_unlimited: Mapped[bool] = mapped_column(Boolean, default=False,
                                                     server_default=false())
    licences_student: Mapped[int | None] = mapped_column(Integer)
    licences_teacher: Mapped[int | None] = mapped_column(Integer)
    licences_librarian: Mapped[int | None] = mapped_column(Integer)
    licences_other: Mapped[int | None] = mapped_column(Integer)
    project_code: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # codeNatureUAI (issue 3, migration 0010): the distributor's subscription has ``uai`` NULL
    # and ``nature_uai`` set; each establishment of that nature gets a "share" row (``uai``
    # set, ``parent_id`` = the distributor's id) that access, licences and the console use.
    nature_uai: Mapped[str | None] = mapped_column(String(8))
    parent_id: Mapped[str | None] = mapped_column(SUBSCRIPTION_ID, index=True)


class Assignment(Base):
    """Licences of a subscription given to a person, a division, a group or a profile.

    ``target_value`` is a ``GARPersonIdentifiant``, a group code of the subscription's
    establishment, or a canonical profile code.
    """

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("subscription_id", "target_kind", "target_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE", onupdate="CASCADE"))
    target_kind: Mapped[str] = mapped_column(String(16))  # person | division | group | profile
    target_value: Mapped[str] = mapped_column(CODE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(Integer)  # officer's person pk; no FK


class LicenceAllocation(Base):
    """One licence of a subscription held by one person: the ledger behind every count.

    A row is written per person an assignment covers, at assignment time; ``released_at`` is
    set when a transferable licence comes back. A held row (``released_at`` NULL) counts
    against ``audience`` whether or not an assignment still covers the person (a withdrawn
    non-transferable licence stays consumed). ``person_pk`` becomes NULL when the directory
    drops the person: the licence is then locked, still counted, until recovered.
    ``allocated_by`` / ``released_by`` are officers' person pks (None: the system), without a
    foreign key so the history survives the officer leaving.
    """

    __tablename__ = "licence_allocations"
    __table_args__ = (
        Index("ix_licence_allocations_subscription_person", "subscription_id", "person_pk"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE", onupdate="CASCADE"))
    person_pk: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    audience: Mapped[str] = mapped_column(String(32))  # publicCible the licence counts in
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="SET NULL"), index=True)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allocated_by: Mapped[int | None] = mapped_column(Integer)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[int | None] = mapped_column(Integer)


# --- trust registry and flow state -----------------------------------------------------------


class Peer(Base):
    __tablename__ = "peers"

    entity_id: Mapped[str] = mapped_column(ENTITY_ID, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # idp | sp | idp+sp
    metadata_xml: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(2048))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allow_sha1: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LoginState(Base):
    """One browser flow through the broker, so any instance can finish it."""

    __tablename__ = "login_states"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(16))  # sp | mediacentre | console
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sp_entity_id: Mapped[str | None] = mapped_column(ENTITY_ID)
    sp_request_id: Mapped[str | None] = mapped_column(String(256))
    # Where the answer goes: the SAML ACS, the OIDC redirect_uri or the CAS service URL.
    acs_url: Mapped[str] = mapped_column(String(2048))
    relay_state: Mapped[str | None] = mapped_column(String(2048))
    resource_id: Mapped[str | None] = mapped_column(RESOURCE_ID)
    uai: Mapped[str | None] = mapped_column(UAI)
    idp_entity_id: Mapped[str | None] = mapped_column(ENTITY_ID)
    upstream_request_id: Mapped[str | None] = mapped_column(String(256), unique=True)
    # The protocol on each side and what it alone needs (OIDC nonce and PKCE verifier upstream;
    # the client's state, nonce and code challenge, or the CAS service, downstream).
    upstream: Mapped[str] = mapped_column(String(8), server_default="saml")  # saml | oidc
    upstream_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    downstream: Mapped[str] = mapped_column(String(8), server_default="saml")  # saml|oidc|cas
    downstream_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ConsumedAssertion(Base):
    """The replay cache: an assertion id seen from an issuer, kept until it expires."""

    __tablename__ = "consumed_assertions"
    __table_args__ = (UniqueConstraint("issuer", "assertion_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(ENTITY_ID)
    assertion_id: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# --- audit -----------------------------------------------------------------------------------


class AuditRecord(Base):
    """One decision. Only codes and a digest of values, never the values themselves.

    ``upstream_*`` name the path in (the identity provider's protocol, issuer and assertion
    or token id), ``protocol`` and ``assertion_id`` the path out. ``ido_digest`` is a keyed
    digest of the ``IDO`` released (the linkability check compares them; only the broker can
    compute it, so it matches nothing a provider holds). The four came with migration 0014:
    a record older than that has them NULL, and the hash leaves NULL ones out.
    Rows are append-only in the database too (migration 0014's triggers).
    """

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    person_pk: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: see module doc
    provider_entity_id: Mapped[str | None] = mapped_column(ENTITY_ID)
    resource_id: Mapped[str | None] = mapped_column(RESOURCE_ID)
    uai: Mapped[str | None] = mapped_column(String(255))
    profile: Mapped[str | None] = mapped_column(String(32))
    protocol: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(8))  # granted | refused
    code: Mapped[str] = mapped_column(String(64))
    basis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    released_codes: Mapped[list[str]] = mapped_column(JSON)
    values_digest: Mapped[str | None] = mapped_column(String(64))
    assertion_id: Mapped[str | None] = mapped_column(String(256))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    upstream_protocol: Mapped[str | None] = mapped_column(String(16))
    upstream_issuer: Mapped[str | None] = mapped_column(ENTITY_ID)
    upstream_assertion_id: Mapped[str | None] = mapped_column(String(256))
    ido_digest: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The single row that serialises appends and remembers where the chain stands.

    ``anchor_hash`` is the ``prev_hash`` the oldest kept record must carry: the genesis value
    at first, then the hash a retention purge cut at.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int | None] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    anchor_hash: Mapped[str] = mapped_column(String(64))


# --- API clients -----------------------------------------------------------------------------


class ApiClientRecord(Base):
    """A machine client of the broker's APIs: a distributor or an ENT.

    Only digests are kept: the SHA-256 of the bearer token (shown once, at creation) and the
    SHA-256 fingerprint of the client certificate a TLS-terminating proxy may forward.
    """

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # distributor | ent
    ident: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(NAME)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    cert_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- assignment console ----------------------------------------------------------------------


class ConsoleSession(Base):
    """A signed-in assignment officer's console session, in the store so any instance sees it.

    Only the SHA-256 of the cookie's token is kept: a read of the table does not yield a
    usable session. ``csrf_token`` is the synchroniser token every form and API call echoes.
    """

    __tablename__ = "console_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_pk: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"),
                                           index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# --- directory feed --------------------------------------------------------------------------


class FeedImport(Base):
    """One directory-feed file applied: which, from which ENT, what it changed, when."""

    __tablename__ = "feed_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # Etab | Eleve | Enseignant | Groupe | RespAff
    ent_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    records: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# --- audit trail: retention checkpoints and reviewers' sessions (issue 5) --------------------


class AuditCheckpoint(Base):
    """What one retention purge removed, signed with the broker's key.

    ``from_hash`` is the anchor before the purge, ``to_hash`` the hash of the last record
    purged (the new anchor): checkpoints chain from the genesis value to the head's
    ``anchor_hash``, so a deleted prefix is accounted for only by a checkpoint the broker's
    key signed. ``signature`` is base64 RSASSA-PKCS1-v1_5/SHA-256 over the canonical JSON of
    every other field but ``id``.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    from_hash: Mapped[str] = mapped_column(String(64))
    to_hash: Mapped[str] = mapped_column(String(64))
    key_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)


class AuditSeal(Base):
    """The chain's newest record as ``audit verify``, ``audit seal`` or a purge saw it, signed.

    A tamperer who rewrites records *and* the head leaves a chain that verifies on its own;
    it cannot also sign a seal (the key is on the broker's disk, not in the database), so the
    sealed record must still be there with the sealed hash, or purged under a checkpoint.
    ``signature`` covers every field but ``id``, as for checkpoints.
    """

    __tablename__ = "audit_seals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(16))  # verify | seal | purge
    last_id: Mapped[int | None] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    anchor_hash: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    key_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)


class AuditPurgePermit(Base):
    """Present only inside a purge's own transaction: the triggers of migration 0014 let
    audit records be deleted while a row is here, and refuse it otherwise."""

    __tablename__ = "audit_purge_permits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class AuditSession(Base):
    """A reviewer signed in to the audit pages: an auditor or provider client, or an officer.

    Exactly one of ``client_id`` and ``person_pk`` is set; what they may see is re-read from
    the client or the directory on every request. Only the cookie token's SHA-256 is kept.
    """

    __tablename__ = "audit_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), index=True)
    person_pk: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
# --- scale (issue 7) -------------------------------------------------------------------------

# The mediacentre list reads the automatically delivered resources on every call (migration 0013).
Index("ix_resources_delivery", Resource.delivery)
# --- CAS 3.0 toward publishers ---------------------------------------------------------------


class CasTicket(Base):
    """A service ticket: bound to one exact service URL, valid a few seconds, validated once.

    ``attributes`` holds what validation answers, until the publisher validates the ticket:
    ``{"release": {code: [values]}, "primary_credentials": bool}``, the release the pipeline
    decided (and audited) at login and whether that login was a fresh authentication (CAS
    ``renew``). Validation clears it, so no personal data outlives the delivery.
    ``delivery_id`` is what the audit record names, never the ticket itself.
    """

    __tablename__ = "cas_tickets"

    ticket: Mapped[str] = mapped_column(String(256), primary_key=True)
    service: Mapped[str] = mapped_column(String(2048))
    provider_entity_id: Mapped[str] = mapped_column(ENTITY_ID)
    resource_id: Mapped[str] = mapped_column(RESOURCE_ID)
    delivery_id: Mapped[str] = mapped_column(String(256))
    user: Mapped[str] = mapped_column(String(256))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
# --- OpenID Connect (issue 4) ----------------------------------------------------------------


class OidcClient(Base):
    """A resource's OpenID Connect client (the broker is its OpenID Provider).

    A client belongs to a provider, and names one of that provider's resources at each
    authorisation, as a SAML provider does in its RelayState. Only the SHA-256 of a client
    secret is kept. Redirect and post-logout URIs are compared exactly, never by prefix.
    """

    __tablename__ = "oidc_clients"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    name: Mapped[str] = mapped_column(NAME)
    auth_method: Mapped[str] = mapped_column(String(32))  # client_secret_basic | none
    secret_sha256: Mapped[str | None] = mapped_column(String(64))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    initiate_login_uri: Mapped[str | None] = mapped_column(String(2048))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OidcGrant(Base):
    """An authorisation code and, once exchanged, the tokens it issued (all as digests).

    The code is consumed by one conditional UPDATE; a second exchange of the same code finds
    it consumed and revokes the access token it issued (RFC 6749 §4.1.2). ``claims`` is the
    release of the access, exactly what the ID token, userinfo and the profile carry.
    """

    __tablename__ = "oidc_grants"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    resource_id: Mapped[str] = mapped_column(RESOURCE_ID)
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    code_challenge: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)  # the ID token's jti
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    code_expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    access_token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcProvider(Base):
    """An upstream OpenID Provider (an ENT or ÉduConnect speaking OIDC), from its discovery.

    The discovery document and the JWKS are stored as fetched at registration, so a login
    never waits on the provider's metadata; ``algorithms`` pins what its ID tokens may use.
    """

    __tablename__ = "oidc_providers"

    issuer: Mapped[str] = mapped_column(String(1024), primary_key=True)
    discovery: Mapped[dict[str, Any]] = mapped_column(JSON)
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str | None] = mapped_column(String(255))
    algorithms: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(2048))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
