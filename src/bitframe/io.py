"""File output helpers: atomic writes, no silent overwrites, content hashes."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bitframe.errors import BitframeError, OutputExistsError, Problem


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ensure_writable(paths: list[Path], *, force: bool) -> None:
    """Refuse, before any work is done, to overwrite existing outputs without ``force``, or a
    directory at all."""
    folders = [p for p in paths if p.is_dir()]
    if folders:
        raise BitframeError([Problem("BF902", "the output path is a directory", file=str(p),
                                   hint="give a file name inside it, e.g. " + str(p / "results.json"))
                           for p in folders])
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise OutputExistsError(
            [
                Problem(
                    code="BF901",
                    message="output file already exists",
                    file=str(p),
                    hint="choose another path or pass --force to overwrite it",
                )
                for p in existing
            ]
        )


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.

    A crash or exception leaves no partial file behind: the temp file is removed. A failure
    of the file system (a directory in the way, no permission, a full disk) is an
    located error naming ``target``.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise _write_failed(target, exc) from None
    tmp = Path(tmp_name)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would, under the umask.
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        # only failures writing this output; an error reading some other file passes through
        if isinstance(exc, OSError) and exc.filename in (None, str(tmp), str(target)):
            raise _write_failed(target, exc) from None
        raise


def _write_failed(target: Path, exc: OSError) -> BitframeError:
    if target.is_dir():
        reason, hint = "the output path is a directory", "give a file name inside it"
    elif exc.errno in (errno.EEXIST, errno.ENOTDIR):
        reason, hint = "a folder on its path is a file", "give a path whose folders are folders"
    elif exc.errno == errno.ENOSPC:
        reason, hint = "no space left on the device", "free some space, or write to another disk"
    elif isinstance(exc, PermissionError):
        reason, hint = "permission denied", "choose a folder you can write to, or ask for write access"
    else:
        reason, hint = exc.strerror or str(exc), "check that the folder exists and can be written to"
    return BitframeError(Problem("BF902", f"cannot write the output file: {reason}", file=str(target), hint=hint))


@functools.cache
def _umask() -> int:
    # Reading the umask means setting it; do that once, not on every write (threads share it).
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
