"""ENT side, mediacentre: the list call a connector makes and the list answer's shape."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from broker.mediacentre_list import Openable
from broker.mediacentre_wire import liste
from services.cli import app
from services.conformance import mediacentre_checks
from services.keys import generate
from services.saml import metadata

GOOD_CALL = (b"GET /ressources/ENT-TEST/0650499P/p123 HTTP/1.1\r\nAccept: application/json\r\n"
             b"Accept-Encoding: gzip, deflate\r\nDate: Tue, 15 Nov 1994 08:12:31 GMT\r\n\r\n")


def _levels(found: list) -> dict[str, str]:
    return {c.id: c.level for c in found}


def test_a_sound_call_passes() -> None:
    assert set(_levels(mediacentre_checks.call(GOOD_CALL)).values()) == {"ok"}


def test_a_uai_with_a_wrong_check_letter_is_a_warning_as_sample_uais_fail_it() -> None:
    found = mediacentre_checks.call(GOOD_CALL.replace(b"0650499P", b"0650499A"))
    assert _levels(found)["mediacentre.call.uai"] == "warning"


def test_a_uai_with_a_wrong_check_letter_is_an_error_in_strict_mode() -> None:
    found = mediacentre_checks.call(GOOD_CALL.replace(b"0650499P", b"0650499A"),
                                    mediacentre_checks.CallExpected(strict=True))
    assert _levels(found)["mediacentre.call.uai"] == "error"


def test_a_uai_not_shaped_like_one_is_an_error() -> None:
    found = mediacentre_checks.call(GOOD_CALL.replace(b"0650499P", b"650499P"))
    assert _levels(found)["mediacentre.call.uai"] == "error"


def test_an_ent_id_the_gar_does_not_know_is_an_error() -> None:
    expected = mediacentre_checks.CallExpected(ent_ids=("ENT-AUTRE",))
    assert _levels(mediacentre_checks.call(GOOD_CALL, expected))["mediacentre.call.ent"] == "error"
    expected = mediacentre_checks.CallExpected(ent_ids=("ENT-TEST",))
    assert _levels(mediacentre_checks.call(GOOD_CALL, expected))["mediacentre.call.ent"] == "ok"


def test_the_english_spelling_of_the_path_is_a_warning() -> None:
    found = mediacentre_checks.call(GOOD_CALL.replace(b"/ressources/", b"/resources/"))
    assert _levels(found)["mediacentre.call.spelling"] == "warning"
    assert _levels(found)["mediacentre.call.path"] == "ok"


def test_a_person_id_longer_than_the_feed_allows_is_an_error() -> None:
    found = mediacentre_checks.call(GOOD_CALL.replace(b"/p123 ", b"/" + b"p" * 65 + b" "))
    assert _levels(found)["mediacentre.call.user"] == "error"


def test_a_missing_date_is_a_warning_and_an_unreadable_one_an_error() -> None:
    without = GOOD_CALL.replace(b"Date: Tue, 15 Nov 1994 08:12:31 GMT\r\n", b"")
    assert _levels(mediacentre_checks.call(without))["mediacentre.call.date"] == "warning"
    garbled = GOOD_CALL.replace(b"Tue, 15 Nov 1994 08:12:31 GMT", b"hier soir")
    assert _levels(mediacentre_checks.call(garbled))["mediacentre.call.date"] == "error"


def test_a_stale_date_is_a_warning_only_on_a_call_received_live() -> None:
    live = mediacentre_checks.CallExpected(live=True)
    assert _levels(mediacentre_checks.call(GOOD_CALL))["mediacentre.call.date"] == "ok"
    assert _levels(mediacentre_checks.call(GOOD_CALL, live))["mediacentre.call.date"] == "warning"


def test_a_call_outside_the_list_path_is_an_error() -> None:
    found = mediacentre_checks.call(b"GET /liste?uai=0650499P HTTP/1.1\r\n\r\n")
    assert _levels(found)["mediacentre.call.path"] == "error"


def test_not_asking_for_gzip_is_a_warning() -> None:
    found = mediacentre_checks.call(GOOD_CALL.replace(b"gzip, deflate", b"identity"))
    assert _levels(found)["mediacentre.call.gzip"] == "warning"


def _item() -> Openable:
    return Openable(id="ark:/99999/r1", title="Manuel", editor_id="123456789_0000000000000001",
                    editor_name="Éditeur", distributor_id="123456789_0000000000000001",
                    thumbnail_url=None, presentation="MAN", pedagogical_types=(),
                    document_types=(), levels=(), subjects=())


def test_the_brokers_own_list_answer_passes() -> None:
    body = liste([_item()], broker_base="https://gar.example.org", ent_id="E", uai="0650499P")
    raw = gzip.compress(json.dumps(body).encode())
    assert set(_levels(mediacentre_checks.answer(raw)).values()) == {"ok"}


def test_a_resource_missing_fields_is_an_error() -> None:
    raw = json.dumps({"listeRessources": {"ressource": [{"idRessource": "x", "idType": "DOI"}]}})
    check = mediacentre_checks.answer(raw.encode())[1]
    assert check.level == "error" and "idType doit valoir ARK" in check.seen


def test_the_command_checks_the_call_beside_the_metadata(tmp_path: Path) -> None:
    meta = tmp_path / "idp.xml"
    meta.write_bytes(metadata.idp_metadata(entity_id="https://ent.example.org/idp",
                                           sso_url="https://ent.example.org/sso",
                                           keypairs=[generate("ent")]))
    call = tmp_path / "appel.txt"
    call.write_bytes(GOOD_CALL)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "conformance", "idp",
                                      "--metadata", str(meta), "--mediacentre-call", str(call)])
    assert result.exit_code == 0, result.output
