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


MAX_RATIO = 100  # unpacked bytes per archive byte, unless the manifest says extracted_size
MAX_BYTES = 10 * 1024**3
MAX_MEMBERS = 100_000


def check_totals(archive: Path, sizes: list[int], extracted_size: int | None) -> None:
    """Refuse an archive that would unpack to more than it may (a decompression bomb: 200 MB
    of zeros from a 200 KB file). Members' declared sizes are what extraction writes."""
    limit = extracted_size or min(MAX_BYTES, MAX_RATIO * archive.stat().st_size)
    if len(sizes) > MAX_MEMBERS:
        raise UnsafeArchive(f"{archive.name}: {len(sizes):,} members, more than {MAX_MEMBERS:,}; refused")
    if sum(sizes) > limit:
        raise UnsafeArchive(f"{archive.name}: would unpack to {sum(sizes):,} bytes, more than its limit of {limit:,} "
                            "(100x the archive, or the manifest's extracted_size); refused. If that is right, "
                            "set extracted_size in the data entry")


def extract_archive(archive: Path, target: Path, extracted_size: int | None = None) -> None:
    """Extract into a temp folder beside `target`, checking every member first, then rename."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):  # by name: a tar whose last member is a zip looks like one
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    check_member_name(info.filename, archive)
                check_totals(archive, [info.file_size for info in infos], extracted_size)
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for member in members:
                    check_member_name(member.name, archive)
                    if not (member.isfile() or member.isdir()):
                        raise UnsafeArchive(f"{archive.name}: member {member.name!r} is a link or device; refused")
                check_totals(archive, [member.size for member in members], extracted_size)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: the stdlib checks too
                    tf.extractall(tmp, members=members, filter="data")
                else:
                    tf.extractall(tmp, members=members)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
