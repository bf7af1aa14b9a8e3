import hashlib
import os

import pytest

from services.export.domain import files
from services.export.domain.files import write_atomically


def test_writes_content_and_returns_its_sha256(tmp_path):
    target = tmp_path / "20240603_resultats_3A.csv"
    digest = write_atomically(target, b"\xef\xbb\xbfhello")
    assert target.read_bytes() == b"\xef\xbb\xbfhello"
    assert digest == hashlib.sha256(b"\xef\xbb\xbfhello").hexdigest()
    assert os.listdir(tmp_path) == [target.name]
    assert target.stat().st_mode & 0o777 == 0o644


def test_replaces_an_existing_file(tmp_path):
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"


def test_no_partial_file_is_visible_while_writing(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    seen = []
    real_fsync = os.fsync

    def spying_fsync(fd):
        seen.append(target.read_bytes())  # what a reader would see at this moment
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", spying_fsync)
    write_atomically(target, b"new content " * 1000)
    assert seen[0] == b"old"  # the data fsync happens before the swap
    assert len(seen) == 2  # file, then directory
    assert target.read_bytes() == b"new content " * 1000


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    target.write_bytes(b"old")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.json"]


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomically(tmp_path / "nope" / "f.json", b"x")
