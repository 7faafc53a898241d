"""Per-user directories come from the environment (the test home), and writes are atomic and private."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from console import paths


def test_directories_live_in_the_test_home(test_home):
    for folder in (paths.config_dir(), paths.data_dir(), paths.log_dir()):
        assert folder.is_relative_to(test_home)
        assert "powerstore-console" in folder.parts
    assert paths.connections_file().parent == paths.config_dir()
    assert paths.settings_file().parent == paths.config_dir()
    assert paths.log_file().parent == paths.log_dir()


def test_the_demo_shares_the_simulators_certificate_directory():
    from console.simulator.tls import default_cert_dir

    assert paths.demo_cert_dir() == default_cert_dir()
    assert paths.demo_cert_dir().is_relative_to(paths.data_dir())


def test_write_atomic_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "file.json"
    paths.write_atomic(target, "first")
    paths.write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_written_files_and_created_folders_are_private(tmp_path):
    target = tmp_path / "private" / "file.json"
    paths.write_atomic(target, "{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) & 0o077 == 0


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "file.json"
    paths.write_atomic(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        paths.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]
