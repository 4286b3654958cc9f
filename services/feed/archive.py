"""An ENT exporter's package: a ``.tar.gz`` of feed files, with an ``.md5`` beside it.

GAR_REFERENCE §1: the exporter packs its files as ``.tar.gz`` and writes the archive's MD5
next to it. The checksum file's name and format are unverified: ``<archive>.md5`` or the
archive's name without ``.tar.gz``/``.tgz`` plus ``.md5``, holding the 32 hex digits first
(``md5sum`` output or the bare digest). A mismatch refuses the whole archive before any of
its files is imported; a missing checksum is accepted unless required.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
from pathlib import Path

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
_DIGEST = re.compile(rb"\s*([0-9A-Fa-f]{32})(?:\s|$)")


class ArchiveError(ValueError):
    """An archive refused whole (French message)."""


def is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def checksum_file(archive: Path) -> Path | None:
    """The ``.md5`` beside an archive, if there is one."""
    stem = next(archive.name[: -len(s)] for s in ARCHIVE_SUFFIXES if archive.name.endswith(s))
    for candidate in (archive.with_name(archive.name + ".md5"), archive.with_name(stem + ".md5")):
        if candidate.is_file():
            return candidate
    return None


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(archive: Path, *, required: bool) -> str | None:
    """Check the archive against its ``.md5``; the digest checked, None when there is none."""
    found = checksum_file(archive)
    if found is None:
        if required:
            raise ArchiveError(f"{archive.name} refusée : pas de fichier .md5 à côté "
                               "(--require-md5) ; rien n'a été importé")
        return None
    match = _DIGEST.match(found.read_bytes()[:4096])
    if match is None:
        raise ArchiveError(f"{archive.name} refusée : {found.name} ne contient pas de somme MD5 "
                           "(32 chiffres hexadécimaux) ; rien n'a été importé")
    expected, actual = match.group(1).decode().lower(), md5_of(archive)
    if expected != actual:
        raise ArchiveError(f"{archive.name} refusée : somme MD5 différente de {found.name} "
                           f"(attendue {expected}, calculée {actual}) ; archive incomplète ou "
                           "altérée, rien n'a été importé")
    return actual


def unpack(archive: Path, work: Path) -> list[Path]:
    """The archive's XML members, written flat into ``work`` (no paths, nothing else)."""
    files: list[Path] = []
    try:
        with tarfile.open(archive, "r:gz") as packed:
            for member in packed.getmembers():
                name = Path(member.name).name
                if not (member.isfile() and name.endswith(".xml")):
                    continue
                if (work / name).exists():
                    raise ArchiveError(f"{archive.name} refusée : deux fichiers {name}")
                source = packed.extractfile(member)
                if source is not None:
                    with (work / name).open("wb") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
                    files.append(work / name)
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ArchiveError(f"{archive.name} refusée : archive illisible ({exc})") from None
    return files
