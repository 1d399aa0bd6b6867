"""Unpacking .zip and .tar(.gz) archives without letting any member escape the target folder."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from repro.errors import UnsafeArchive



def check_member_name(name: str, archive: Path) -> None:
    """Refuse absolute paths, drive letters and any '..' component."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchive(f"{archive.name}: member {name!r} would be written outside the target folder; refused")


def extract_archive(archive: Path, target: Path) -> None:
    """Extract into a temp folder beside `target`, checking every member first, then rename."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):  # by name: a tar whose last member is a zip looks like one
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    check_member_name(info.filename, archive)
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for member in members:
                    check_member_name(member.name, archive)
                    if not (member.isfile() or member.isdir()):
                        raise UnsafeArchive(f"{archive.name}: member {member.name!r} is a link or device; refused")
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: the stdlib checks too
                    tf.extractall(tmp, members=members, filter="data")
                else:
                    tf.extractall(tmp, members=members)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
