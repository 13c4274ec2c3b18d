"""Reading and writing instance and tour files as text, with one clear error per way it fails.

Every reader in this package goes through ``read_text`` so that a missing file, a directory, an
empty file or a binary file (an image, random bytes) is refused before any parsing starts, and
every writer goes through ``write_text`` so that nothing half-written is left behind.
"""

from __future__ import annotations

import gzip
import os
import re
import secrets
from pathlib import Path

from tsp_celery.errors import InstanceError, TspCeleryError

# C0 control characters other than tab, newline, vertical tab, form feed and carriage return,
# plus DEL: text never holds them, binary data almost always does (e.g. NUL in a PNG header).
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
_GZIP_MAGIC = b"\x1f\x8b"


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text; gzip-compressed files (``.tsp.gz``) are decompressed on the fly.

    UTF-8 is tried first, then Latin-1 (old TSPLIB comments hold umlauts in it).
    """
    p = Path(path)
    where = str(path)
    if not p.exists():
        raise InstanceError("no such file", where)
    if p.is_dir():
        raise InstanceError("is a directory, not a file", where)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InstanceError(f"cannot read: {exc.strerror or exc}", where) from exc
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InstanceError(f"corrupt gzip file: {exc}", where) from exc
    if not data.strip():
        raise InstanceError("file is empty", where)
    if _CONTROL.search(data):
        raise InstanceError("binary file, not a text instance or tour", where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` atomically: to a temporary file in the same folder, then renamed.

    A failure (missing folder, no permission, disk full) is one TspCeleryError naming the path.
    """
    target = Path(path)
    # A fresh name opened exclusively (not mkstemp) so the file gets the user's umask mode.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TspCeleryError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
