"""Reading and writing instance and tour files as text, with one clear error per way it fails.

Every reader in this package goes through ``read_text`` so that a missing file, a directory, an
empty file or a binary file (an image, random bytes) is refused before any parsing starts, and
every writer goes through ``write_text`` so that nothing half-written is left behind. Text comes
back with LF line ends whatever the file used (CRLF, CR) and without a byte-order mark.
"""

from __future__ import annotations

import gzip
import os
import re
import secrets
import zlib
from pathlib import Path

from tsp_celery.errors import InstanceError, TspCeleryError

# C0 control characters other than tab, newline, vertical tab, form feed and carriage return,
# plus DEL: text never holds them, binary data almost always does (e.g. NUL in a PNG header).
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
_GZIP_MAGIC = b"\x1f\x8b"
# The largest instance text read, counted after decompression; settings may pass another limit.
MAX_INSTANCE_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 20


def read_text(path: str | os.PathLike[str], max_bytes: int = MAX_INSTANCE_BYTES) -> str:
    """The file's text; gzip-compressed files (``.tsp.gz``) are decompressed on the fly.

    At most ``max_bytes`` are read, after decompression, so a gzip bomb stops at the limit.
    UTF-8 is tried first, then Latin-1 (old TSPLIB comments hold umlauts in it).
    """
    p = Path(path)
    where = str(path)
    if not p.exists():
        raise InstanceError("no such file", where)
    if p.is_dir():
        raise InstanceError("is a directory, not a file", where)
    try:
        data = _read_capped(p, max_bytes)
    except OSError as exc:
        raise InstanceError(f"cannot read: {exc.strerror or exc}", where) from exc
    if not data.strip():
        raise InstanceError("file is empty", where)
    if _CONTROL.search(data):
        raise InstanceError("binary file, not a text instance or tour", where)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return normalize_text(text)


def normalize_text(text: str) -> str:
    """``text`` with CRLF and CR line ends as LF, and no leading byte-order mark."""
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _read_capped(p: Path, max_bytes: int) -> bytes:
    """The file's bytes, gunzipped chunk by chunk when compressed; InstanceError past the cap."""
    with open(p, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        try:
            stream = gzip.GzipFile(fileobj=raw) if compressed else raw
            chunks, size = [], 0
            while chunk := stream.read(min(_CHUNK, max_bytes + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    after = " once decompressed" if compressed else ""
                    raise InstanceError(f"larger than {max_bytes:,} bytes{after}: the limit for "
                                        "an instance file", str(p))
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise InstanceError(f"corrupt gzip file: {exc}", str(p)) from exc
    return b"".join(chunks)


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
