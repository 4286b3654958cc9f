"""The broker's key ring: current signs, next is published ahead, previous during the overlap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.keys import KeyRingError, load_or_create, load_ring, publish_next, rollover

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def fingerprints(pairs: tuple[object, ...]) -> list[bytes]:
    return [p.cert_pem for p in pairs]  # type: ignore[attr-defined]


def test_a_new_ring_adopts_the_existing_key_as_current(tmp_path: Path) -> None:
    existing = load_or_create(tmp_path, "broker")
    ring = load_ring(tmp_path, "broker")
    assert ring.current.cert_pem == existing.cert_pem
    assert ring.next is None and ring.previous == ()
    assert fingerprints(ring.published(NOW)) == [existing.cert_pem]


def test_the_next_key_is_published_but_does_not_sign(tmp_path: Path) -> None:
    before = load_ring(tmp_path, "broker")
    ring = publish_next(tmp_path, "broker", NOW)
    assert ring.next is not None
    assert ring.current.cert_pem == before.current.cert_pem  # still the signer
    assert fingerprints(ring.published(NOW)) == [before.current.cert_pem, ring.next.cert_pem]


def test_publishing_next_twice_keeps_the_same_next_key(tmp_path: Path) -> None:
    first = publish_next(tmp_path, "broker", NOW).next
    second = publish_next(tmp_path, "broker", NOW + timedelta(hours=1)).next
    assert first is not None and second is not None and first.cert_pem == second.cert_pem


def test_rollover_without_a_published_next_key_is_refused(tmp_path: Path) -> None:
    load_ring(tmp_path, "broker")
    with pytest.raises(KeyRingError, match="keys next"):
        rollover(tmp_path, "broker", NOW, WEEK)


def test_rollover_makes_next_current_and_keeps_previous_for_the_overlap(tmp_path: Path) -> None:
    old = load_ring(tmp_path, "broker").current
    upcoming = publish_next(tmp_path, "broker", NOW).next
    assert upcoming is not None
    ring = rollover(tmp_path, "broker", NOW, WEEK)
    assert ring.current.cert_pem == upcoming.cert_pem and ring.next is None
    assert fingerprints(ring.published(NOW + WEEK - timedelta(seconds=1))) == [
        upcoming.cert_pem, old.cert_pem]
    assert fingerprints(ring.published(NOW + WEEK)) == [upcoming.cert_pem]


def test_the_ring_survives_a_restart(tmp_path: Path) -> None:
    publish_next(tmp_path, "broker", NOW)
    rolled = rollover(tmp_path, "broker", NOW, WEEK)
    reread = load_ring(tmp_path, "broker")
    assert reread.current.cert_pem == rolled.current.cert_pem
    assert [r.until for r in reread.previous] == [NOW + WEEK]


def test_a_key_whose_overlap_ended_is_deleted_at_the_next_rollover(tmp_path: Path) -> None:
    first = load_ring(tmp_path, "broker").current_stem
    publish_next(tmp_path, "broker", NOW)
    rollover(tmp_path, "broker", NOW, WEEK)
    later = NOW + WEEK + timedelta(days=1)
    publish_next(tmp_path, "broker", later)
    ring = rollover(tmp_path, "broker", later, WEEK)
    assert [r.stem for r in ring.previous] != [first] and len(ring.previous) == 1
    assert not (tmp_path / f"{first}.key").exists()


def test_two_quick_rollovers_keep_both_previous_keys_in_their_overlap(tmp_path: Path) -> None:
    publish_next(tmp_path, "broker", NOW)
    rollover(tmp_path, "broker", NOW, WEEK)
    publish_next(tmp_path, "broker", NOW + timedelta(hours=1))
    ring = rollover(tmp_path, "broker", NOW + timedelta(hours=1), WEEK)
    assert len(ring.published(NOW + timedelta(hours=2))) == 3


def test_the_manifest_holds_no_key_material(tmp_path: Path) -> None:
    publish_next(tmp_path, "broker", NOW)
    manifest = (tmp_path / "broker.ring.json").read_text()
    assert "PRIVATE" not in manifest and "CERTIFICATE" not in manifest
    assert set(json.loads(manifest)) == {"current", "next", "previous"}


def test_private_keys_of_the_ring_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    ring = publish_next(tmp_path, "broker", NOW)
    assert ring.next_stem is not None
    assert (tmp_path / f"{ring.next_stem}.key").stat().st_mode & 0o077 == 0
