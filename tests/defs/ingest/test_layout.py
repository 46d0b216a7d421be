"""pipelines/defs/ingest/layout.py: an empty, missing or misfiled landing zone in one line."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.defs.ingest import layout
from pipelines.defs.ingest.sensor import landing_zone_sensor


def test_missing_and_empty_directories_are_errors_naming_the_directory(tmp_path: Path) -> None:
    missing = layout.check(layout.scan(tmp_path / "nope"))
    assert missing is not None and missing.level == "error"
    assert f"no files found in {tmp_path / 'nope'} (SEGMENTS_LANDING_DIR)" in missing.message
    assert "does not exist" in missing.message
    assert "shopify/, stripe/, paypal/, crm/, fx/, events/, support/ or generic/<name>/" in (
        missing.message
    )
    (tmp_path / "empty" / "shopify").mkdir(parents=True)  # a source folder with no file
    (tmp_path / "empty" / ".DS_Store").write_text("x")  # hidden files do not count
    empty = layout.check(layout.scan(tmp_path / "empty"))
    assert empty is not None and empty.level == "error" and "is empty" in empty.message
    assert "\n" not in missing.message + empty.message
    (tmp_path / "a_file").write_text("x")
    not_dir = layout.check(layout.scan(tmp_path / "a_file"))
    assert not_dir is not None and "is a file, not a directory" in not_dir.message


def test_empty_landing_after_earlier_loads_is_a_note_not_an_error(tmp_path: Path) -> None:
    # Files archived after loading: the run computes from what raw already holds.
    finding = layout.check(layout.scan(tmp_path), files_loaded_before=3)
    assert finding is not None and finding.level == "note"
    assert "from the 3 file(s) loaded before" in finding.message


def test_stray_files_are_an_error_alone_and_a_warning_next_to_source_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "shopfy" / "2024").mkdir(parents=True)
    (tmp_path / "shopfy" / "2024" / "a.csv").write_text("x")
    (tmp_path / "shopfy" / "b.csv").write_text("x")
    (tmp_path / "orders.csv").write_text("x")
    (tmp_path / "notes").mkdir()  # an empty folder is not worth a word
    alone = layout.check(layout.scan(tmp_path))
    assert alone is not None and alone.level == "error"
    assert "orders.csv, shopfy/ (2 files; did you mean shopify/?) lie where no source" in (
        alone.message
    )

    (tmp_path / "generic" / "pos").mkdir(parents=True)
    (tmp_path / "generic" / "pos" / "sales.csv").write_text("x")
    beside = layout.check(layout.scan(tmp_path))
    assert beside is not None and beside.level == "warning"
    assert beside.message.startswith(f"{tmp_path}: orders.csv, shopfy/ (2 files;")
    assert layout.scan(tmp_path).sources_with_files == ("generic",)

    for stray in (tmp_path / "orders.csv", tmp_path / "shopfy" / "b.csv"):
        stray.unlink()
    (tmp_path / "shopfy" / "2024" / "a.csv").unlink()
    assert layout.check(layout.scan(tmp_path)) is None


def test_sensor_stays_quiet_on_an_empty_or_missing_landing_zone(
    segments_env: dict[str, Path], monkeypatch
) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance)
        empty = landing_zone_sensor(context)
        assert isinstance(empty, dg.SkipReason)
        assert "the directory is empty" in (empty.skip_message or "")

        monkeypatch.setenv("SEGMENTS_LANDING_DIR", str(segments_env["root"] / "landnig"))
        missing = landing_zone_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(missing, dg.SkipReason)
        assert "does not exist" in (missing.skip_message or "")
    assert not (segments_env["warehouse"] / "build.duckdb").exists()
