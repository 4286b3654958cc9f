"""Settings shared by the three services, read from the environment (prefix ``GAR_``).

One object describes the whole testbed so that each service can compute the others' URLs
(the mocks and the broker point at each other by default) while a real peer can replace
either mock by registering its metadata instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GAR_", env_file=None, extra="ignore")

    @field_validator("provider_naive", mode="before")
    @classmethod
    def _naive_level(cls, value: object) -> object:
        """``GAR_PROVIDER_NAIVE=true`` (the historical switch) is the ``reader`` level."""
        if isinstance(value, bool) or str(value).lower() in ("true", "false", "1", "0", "yes",
                                                               "no", "on", "off"):
            return "reader" if str(value).lower() in ("true", "1", "yes", "on") else ""
        return value

    data_dir: Path = Field(default=Path("var"), description="keys, SQLite file, generated files")
    host: str = "127.0.0.1"
    broker_port: int = 8000
    idp_port: int = 8001
    provider_port: int = 8002
    # Public base URLs; default to loopback with the ports above.
    broker_url: str | None = None
    idp_url: str | None = None
    provider_url: str | None = None
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; SQLite by default",
    )
    database_read_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_READ_URL",
        description="a read replica for the audit trail's pages, exports and statistics: what "
                    "tolerates replication lag; the flows never read it",
    )
    clock_skew_seconds: int = Field(default=120, ge=0, le=600)
    assertion_lifetime_seconds: int = Field(default=300, ge=30, le=3600)
    login_state_lifetime_seconds: int = Field(default=900, ge=60, le=86400)
    max_xml_bytes: int = Field(default=256 * 1024, ge=4096, le=10 * 1024 * 1024)
    ido_scope: str = Field(default="provider", pattern="^(provider|global)$")
    # Extra trusted peers: metadata files or URLs, registered at start-up.
    idp_metadata: list[str] = Field(default_factory=list)
    sp_metadata: list[str] = Field(default_factory=list)
    # Service providers the identity-provider mock trusts besides the broker (files or URLs).
    idp_mock_sp_metadata: list[str] = Field(default_factory=list)
    want_authn_requests_signed: bool = True
    # Upstream identity-provider shape spoken by the mock: "ent" or "educonnect".
    idp_shape: str = Field(default="ent", pattern="^(ent|educonnect)$")
    idp_talkative: bool = False
    # Also register the identity-provider mock as an OpenID Provider upstream of the broker
    # (its discovery page then offers the SAML and the OIDC one).
    idp_oidc: bool = False
    # Provider mock: naive levels for testing the conformity harness ("" = careful; "true"
    # means "reader"; see provider_mock/naive.py), whether it accepts unsolicited Responses,
    # and whether its ACS answers with a redirect to its session page (post/redirect/get).
    provider_naive: str = Field(
        default="", pattern="^(|reader|signature|digest|signed-info|accounts)$")
    provider_unsolicited: bool = True
    provider_acs_redirect: bool = False
    # Trust the client certificate a TLS-terminating proxy forwards in X-SSL-Client-Cert
    # (nginx's $ssl_client_escaped_cert). Only behind such a proxy: anyone can send the header.
    api_trust_proxy_cert_header: bool = False
    # Mutual TLS served by `gar-testbed up` itself: the machine APIs also on this port, where
    # the handshake requires a client certificate trusted by api_tls_client_ca_file (CAs, or
    # the clients' certificates themselves). The server's certificate and key default to
    # keys/api-tls.crt and .key, generated on first start.
    api_tls_port: int | None = Field(default=None, ge=0, le=65535)
    api_tls_client_ca_file: Path | None = None
    api_tls_cert_file: Path | None = None
    api_tls_key_file: Path | None = None
    # Audit records older than this are removed by `gar-testbed audit purge` (issue 5).
    audit_retention_days: int = Field(default=365, ge=1, le=3650)
    # Statistics an officer or a provider reads show no count below this (1: show all):
    # in a small school, one access of one profile to one resource on one day is a person.
    audit_stats_min_count: int = Field(default=5, ge=1, le=1000)
    # CAS service tickets: the real GAR's live about 5 seconds (GAR_REFERENCE §4b).
    cas_ticket_lifetime_seconds: int = Field(default=5, ge=1, le=300)
    # After a key rollover, how long the previous signing key stays published (hours).
    key_overlap_hours: int = Field(default=168, ge=0, le=24 * 365)

    @property
    def broker_base(self) -> str:
        return (self.broker_url or f"http://{self.host}:{self.broker_port}").rstrip("/")

    @property
    def idp_base(self) -> str:
        return (self.idp_url or f"http://{self.host}:{self.idp_port}").rstrip("/")

    @property
    def provider_base(self) -> str:
        return (self.provider_url or f"http://{self.host}:{self.provider_port}").rstrip("/")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'broker.sqlite3').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
