"""``gar-testbed import`` and ``seed``: progress, a summary line, exit codes (SQLite)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from services.cli import app
from services.uai import make_uai


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A testbed seeded once by the command itself (its people written as feed files)."""
    path = tmp_path_factory.mktemp("feed-cli")
    result = CliRunner().invoke(app, ["--data-dir", str(path), "seed"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path


def run(data_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_seed_writes_its_people_as_gar_named_feed_files(data_dir: Path) -> None:
    names = sorted(p.name for p in (data_dir / "feed").iterdir())
    assert all(n.startswith("ENT-TESTBED_GAR-ENT_Complet_") and n.endswith("_0000.xml")
               for n in names)
    # Secondary schools in the 2D feed, the primary school (école) in the 1d variant.
    assert sum("_2D_" in n for n in names) == sum("_1D_" in n for n in names) == 5


def test_importing_the_seeded_files_again_reports_no_change(data_dir: Path) -> None:
    files = sorted(str(p) for p in (data_dir / "feed").iterdir())
    result = run(data_dir, "import", *files)
    assert result.exit_code == 0, result.output
    assert "_2D_Etab_0000.xml (Etab) : 20 éléments, 0 ajoutés, 0 modifiés, 0 supprimés" in (
        result.output)
    assert "_1D_Etab_0000.xml (Etab) : 1 éléments, 0 ajoutés, 0 modifiés, 0 supprimés" in (
        result.output)
    assert result.output.strip().splitlines()[-1] == (
        "Import terminé : 10 fichiers, 0 ajoutés, 0 modifiés, 0 supprimés.")


def _terminal_frames(data_dir: Path, *files: Path) -> list[str]:
    """Run ``import`` as in a terminal (rich sees a TTY, without colours); what it drew,
    one frame (line or redraw) at a time, cursor controls removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAR_")} | {
        "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "NO_COLOR": "1", "COLUMNS": "140"}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "--data-dir", str(data_dir), "import",
         *map(str, files)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stdout)
    return [frame.strip() for frame in re.split(r"[\r\n]+", drawn) if frame.strip()]


def test_each_file_shows_a_progress_bar_that_ends_full_at_its_size(data_dir: Path) -> None:
    files = [next((data_dir / "feed").glob(f"*_2D_{kind}_*.xml")) for kind in ("Etab", "Eleve")]
    frames = _terminal_frames(data_dir, *files)

    for path in files:
        size = path.stat().st_size
        assert 1000 <= size < 1_000_000  # shown in kB with one decimal, as below
        total = f"{size / 1000:.1f}"
        bars = [f for f in frames if f.startswith(path.name) and f.endswith(" kB")]
        assert re.fullmatch(rf"{re.escape(path.name)}\s+━{{30,}}\s+{total}/{total} kB", bars[-1])
        assert any(f.startswith(f"{path.name} ({path.name.split('_')[-2]}) : ")
                   for f in frames)  # its summary line
    assert frames[-1].startswith("Import terminé : 2 fichiers")


def test_an_export_archive_is_unpacked_and_imported_in_order(data_dir: Path,
                                                             tmp_path: Path) -> None:
    archive = tmp_path / "export.tar.gz"
    with tarfile.open(archive, "w:gz") as packed:
        for path in sorted((data_dir / "feed").iterdir(), reverse=True):  # Etab last on purpose
            packed.add(path, arcname=f"export/{path.name}")
    result = run(data_dir, "import", str(archive))
    assert result.exit_code == 0, result.output
    assert result.output.index("(Etab)") < result.output.index("(RespAff)")


def test_a_refused_file_exits_1_with_its_line_and_writes_nothing(data_dir: Path,
                                                                  tmp_path: Path) -> None:
    source = next((data_dir / "feed").glob("*_2D_Eleve_*.xml"))
    broken = tmp_path / source.name
    content = source.read_bytes().replace(b"<GARPersonNom>Martin</GARPersonNom>",
                                          b"<GARPersonNom>Martin</GARPersonNom><X/>", 1)
    broken.write_bytes(content)
    line = content[: content.index(b"<X/>")].count(b"\n") + 1
    result = run(data_dir, "import", str(broken))
    assert result.exit_code == 1
    assert f"refusé, ligne {line} :" in result.output
    assert "rien n'a été écrit" in result.output


def test_a_failed_reader_process_exits_1_in_one_line_and_writes_nothing(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from broker import feed, feed_parse

    source = next((data_dir / "feed").glob("*_2D_Eleve_*.xml"))
    content = source.read_bytes()
    first = re.search(rb"<GAREleve[ >].*?</GAREleve>", content, re.S)
    assert first is not None
    # One pupil more than the store holds: an import that kept anything would add her.
    newcomer = first.group(0).replace(b"<GARPersonIdentifiant>", b"<GARPersonIdentifiant>new-")
    newcomer = newcomer.replace(b"<GARPersonIdSecondaire>", b"<GARPersonIdSecondaire>9")
    changed = tmp_path / source.name
    changed.write_bytes(content[:first.end()] + b"\n" + newcomer + content[first.end():])
    receive = feed_parse._Parallel._receive
    calls: list[str] = []

    def damaged_after_the_records(self: feed_parse._Parallel) -> tuple[object, ...]:
        if len(calls) < 2:  # the head, then the records: applied, not yet committed
            calls.append("frame")
            return receive(self)
        return ("damaged", "trame de 58800 octets")

    monkeypatch.setattr(feed, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(feed, "_cpus", lambda: 2)
    monkeypatch.setattr(feed_parse._Parallel, "_receive", damaged_after_the_records)
    failed = run(data_dir, "import", str(changed))
    assert failed.exit_code == 1
    assert failed.output.strip().splitlines()[-1] == (
        "erreur : feed.reader_failed sortie du processus de lecture endommagée (trame de 58800"
        " octets) ;"
        " rien n'a été écrit, relancez l'import")
    assert "Traceback" not in failed.output
    monkeypatch.undo()
    again = run(data_dir, "import", str(changed))
    assert again.exit_code == 0, again.output
    # The newcomer and her profile are added now: the failed import kept neither.
    assert "(Eleve) : 70 éléments, 2 ajoutés, 0 modifiés, 0 supprimés" in again.output


def test_a_file_without_an_ent_in_its_name_needs_the_ent_option(data_dir: Path,
                                                                 tmp_path: Path) -> None:
    source = next((data_dir / "feed").glob("*_2D_Groupe_*.xml"))
    plain = tmp_path / "groupes.xml"
    plain.write_bytes(source.read_bytes())
    refused = run(data_dir, "import", str(plain))
    assert refused.exit_code == 1 and "feed.unknown_ent" in refused.output
    accepted = run(data_dir, "import", "--ent", "ENT-TESTBED", str(plain))
    assert accepted.exit_code == 0, accepted.output


def test_seed_at_national_size_is_deterministic(tmp_path: Path) -> None:
    args = ["seed", "--establishments", "3", "--students-per-establishment", "40", "--seed", "7"]
    first = run(tmp_path / "a", *args)
    second = run(tmp_path / "b", *args)
    assert first.exit_code == second.exit_code == 0, first.output
    assert "Banc d'essai prêt" in first.output.splitlines()[-1]
    contents = [sorted(p.read_bytes() for p in (d / "feed").iterdir())
                for d in (tmp_path / "a", tmp_path / "b")]
    assert contents[0] == contents[1]


def _export(data_dir: Path, folder: Path, *, md5: str | None) -> Path:
    """The seeded files packed as an ENT exporter does, with ``md5`` written beside it."""
    archive = folder / "ENT-TESTBED_GAR-ENT_Complet_20260901_080000.tar.gz"
    with tarfile.open(archive, "w:gz") as packed:
        for path in sorted((data_dir / "feed").iterdir()):
            packed.add(path, arcname=path.name)
    if md5 is not None:
        (folder / f"{archive.name}.md5").write_text(md5)
    return archive


def test_seed_takes_the_number_of_teachers_per_extra_college(tmp_path: Path) -> None:
    result = run(tmp_path, "seed", "--establishments", "1", "--students-per-establishment", "30",
                 "--teachers-per-establishment", "4")
    assert result.exit_code == 0, result.output
    feed = etree.parse(next((tmp_path / "feed").glob("*_2D_Enseignant_*.xml")))
    ns = {"g": "http://data.education.fr/ns/gar"}
    profiles = feed.xpath("//g:GAREnseignant/g:GARPersonProfils[g:GARStructureUAI = $uai]"
                          "/g:GARPersonProfil/text()", namespaces=ns, uai=make_uai(3_600_000))
    assert profiles == ["National_ens"] * 4


def test_an_export_whose_md5_matches_is_imported(data_dir: Path, tmp_path: Path) -> None:
    archive = _export(data_dir, tmp_path, md5="")
    digest = hashlib.md5(archive.read_bytes(), usedforsecurity=False).hexdigest()
    (tmp_path / f"{archive.name}.md5").write_text(f"{digest}  {archive.name}\n")
    result = run(data_dir, "import", "--require-md5", str(archive))
    assert result.exit_code == 0, result.output
    assert "Import terminé : 10 fichiers" in result.output


def test_an_export_whose_md5_differs_is_refused_whole(data_dir: Path, tmp_path: Path) -> None:
    archive = _export(data_dir, tmp_path, md5="0" * 32 + "\n")
    result = run(data_dir, "import", str(archive))
    assert result.exit_code == 1
    assert "somme MD5 différente" in result.output and "rien n'a été importé" in result.output
    assert "Import terminé" not in result.output and "(Etab)" not in result.output


def test_a_truncated_export_is_refused_by_its_md5(data_dir: Path, tmp_path: Path) -> None:
    archive = _export(data_dir, tmp_path, md5=None)
    digest = hashlib.md5(archive.read_bytes(), usedforsecurity=False).hexdigest()
    (tmp_path / f"{archive.name}.md5").write_text(digest)
    archive.write_bytes(archive.read_bytes()[:-100])
    result = run(data_dir, "import", str(archive))
    assert result.exit_code == 1 and "somme MD5 différente" in result.output


def test_an_md5_file_without_a_digest_is_refused(data_dir: Path, tmp_path: Path) -> None:
    archive = _export(data_dir, tmp_path, md5="pas une somme\n")
    result = run(data_dir, "import", str(archive))
    assert result.exit_code == 1 and "ne contient pas de somme MD5" in result.output


def test_an_export_without_md5_is_refused_when_one_is_required(data_dir: Path,
                                                                tmp_path: Path) -> None:
    archive = _export(data_dir, tmp_path, md5=None)
    refused = run(data_dir, "import", "--require-md5", str(archive))
    assert refused.exit_code == 1 and "pas de fichier .md5" in refused.output
    accepted = run(data_dir, "import", str(archive))
    assert accepted.exit_code == 0, accepted.output


def test_a_corrupt_archive_is_refused_with_a_message(data_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "export.tar.gz"
    archive.write_bytes(b"\x1f\x8b pas une archive")
    result = run(data_dir, "import", str(archive))
    assert result.exit_code == 1 and "archive illisible" in result.output
