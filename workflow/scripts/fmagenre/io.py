"""Small I/O helpers shared by every stage: atomic writes, tables, JSON, logging.

Every file the pipeline produces is written through :func:`atomic_path` so that a killed job never
leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

PACKAGE_ROOT = Path(__file__).resolve().parent
TMP_SUFFIX = ".tmp"
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name ends in ``.tmp`` so that readers (and clean-up) can recognise leftovers of a
    killed writer; ``os.replace`` makes the final rename atomic on POSIX file systems.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON with numpy scalars and arrays converted, keys in insertion order."""
    write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def write_tsv(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write a tab-separated table without the pandas index (name the columns you want kept)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)


def read_tsv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""], **kwargs)


def setup_logging(log_path: str | os.PathLike | None = None) -> logging.Logger:
    """Route the ``fmagenre`` logger (and stderr, so tqdm and warnings land there too) to ``log_path``."""
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_path, "a", buffering=1)
        sys.stderr = stream
    else:
        stream = sys.stderr
    logger = logging.getLogger("fmagenre")
    logger.handlers.clear()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


def genre_slug(name: str) -> str:
    """File-name-safe form of a genre title: ``"Old-Time / Historic"`` -> ``"Old-Time_Historic"``."""
    slug = "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in name)
    slug = "_".join(piece for piece in slug.split("_") if piece)
    if not slug:
        raise ValueError(f"genre name {name!r} has no letters or digits to build a file name from")
    return slug
