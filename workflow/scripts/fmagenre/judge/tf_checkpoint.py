"""Read a TensorFlow (V2 "tensor bundle") checkpoint without TensorFlow.

A checkpoint ``prefix`` is two files: ``prefix.index``, a LevelDB-format table mapping each variable
name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size, crc32c), and
``prefix.data-00000-of-00001``, the raw little-endian tensors. musicnn's wheel stores its weights
this way and TensorFlow is not a dependency of this project, so the format is decoded here; every
block and every tensor is checked against its crc32c, so a damaged file fails loudly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
BLOCK_TRAILER_BYTES = 5  # compression type (1 byte) + masked crc32c (4 bytes)
_CRC_MASK_DELTA = 0xA282EAD8

# TensorFlow DataType enum values (types.proto) of the tensors a trained model holds.
DTYPES = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    19: np.dtype("<f2"),
}


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated or corrupted (the message names the file)."""


@dataclass(frozen=True)
class TensorEntry:
    """One variable's ``BundleEntryProto``: where its bytes are and what they hold."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int


def mask_crc(crc: int) -> int:
    """LevelDB/TensorFlow masked crc: rotate right by 15 bits and add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _varint(buf: bytes, pos: int, path: Path) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise CheckpointError(f"{path}: malformed varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf: bytes, path: Path) -> list[tuple[int, int | bytes]]:
    """Decode a protobuf message into (field number, value) pairs (varint, fixed32/64, bytes)."""
    fields, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos, path)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos, path)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos, path)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise CheckpointError(f"{path}: unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise CheckpointError(f"{path}: truncated protobuf message")
        fields.append((number, value))
    return fields


def _read_block(data: bytes, offset: int, size: int, path: Path) -> bytes:
    """Return a table block's contents after checking its trailer (uncompressed, masked crc32c)."""
    end = offset + size + BLOCK_TRAILER_BYTES
    if offset < 0 or end > len(data):
        raise CheckpointError(f"{path}: block at {offset} (+{size}) runs past the end: truncated")
    block = data[offset : offset + size]
    kind = data[offset + size]
    stored = struct.unpack_from("<I", data, offset + size + 1)[0]
    if mask_crc(google_crc32c.value(block + bytes([kind]))) != stored:
        raise CheckpointError(f"{path}: block at byte {offset} fails its crc32c check: corrupted")
    if kind != 0:
        raise CheckpointError(f"{path}: block compression type {kind} is not supported")
    return block


def _block_entries(block: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """Decode a block's prefix-compressed (key, value) entries, stopping at the restart array."""
    if len(block) < 4:
        raise CheckpointError(f"{path}: block shorter than its restart count")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise CheckpointError(f"{path}: block restart array larger than the block")
    entries, pos, key = [], 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos, path)
        unshared, pos = _varint(block, pos, path)
        value_len, pos = _varint(block, pos, path)
        if shared > len(key) or pos + unshared + value_len > limit:
            raise CheckpointError(f"{path}: malformed block entry at byte {pos}")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _block_handle(buf: bytes, pos: int, path: Path) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos, path)
    size, pos = _varint(buf, pos, path)
    return offset, size, pos


def _entry(name: str, value: bytes, path: Path) -> TensorEntry:
    dtype, shape, shard, offset, size, crc = 0, (), 0, 0, 0, 0
    for number, field in _proto_fields(value, path):
        if number == 1:
            dtype = field
        elif number == 2:
            dims = [f for n, f in _proto_fields(field, path) if n == 2]
            shape = tuple(next((s for n, s in _proto_fields(d, path) if n == 1), 0) for d in dims)
        elif number == 3:
            shard = field
        elif number == 4:
            offset = field
        elif number == 5:
            size = field
        elif number == 6:
            crc = field
        elif number == 7:
            raise CheckpointError(f"{path}: variable {name!r} is stored in slices (unsupported)")
    if dtype not in DTYPES:
        raise CheckpointError(f"{path}: variable {name!r} has unsupported TensorFlow dtype {dtype}")
    return TensorEntry(name, DTYPES[dtype], shape, shard, offset, size, crc)


def read_index(prefix: str | Path) -> dict[str, TensorEntry]:
    """Parse ``prefix.index``: every variable's entry, keyed by name (the bundle header skipped)."""
    path = Path(f"{prefix}.index")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint index not found")
    data = path.read_bytes()
    if len(data) < FOOTER_BYTES:
        raise CheckpointError(
            f"{path}: {len(data)} bytes, shorter than the table footer: truncated"
        )
    footer = data[-FOOTER_BYTES:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise CheckpointError(
            f"{path}: no LevelDB table magic at the end: truncated or not an index"
        )
    _, _, pos = _block_handle(footer, 0, path)  # metaindex block: unused by tensor bundles
    index_offset, index_size, _ = _block_handle(footer, pos, path)
    entries = {}
    for _, handle in _block_entries(_read_block(data, index_offset, index_size, path), path):
        offset, size, _ = _block_handle(handle, 0, path)
        for key, value in _block_entries(_read_block(data, offset, size, path), path):
            if key:  # the empty key holds the BundleHeaderProto
                name = key.decode()
                entries[name] = _entry(name, value, path)
    return entries


def read_checkpoint(prefix: str | Path, skip_optimizer: bool = True) -> dict[str, np.ndarray]:
    """Load every variable of a checkpoint as numpy arrays (Adam slots left out by default)."""
    entries = read_index(prefix)
    shards: dict[int, bytes] = {}
    n_shards = 1 + max((e.shard_id for e in entries.values()), default=0)
    tensors = {}
    for name, entry in sorted(entries.items()):
        if skip_optimizer and name.endswith(("/Adam", "/Adam_1")):
            continue
        if entry.shard_id not in shards:
            shard_path = Path(f"{prefix}.data-{entry.shard_id:05d}-of-{n_shards:05d}")
            if not shard_path.is_file():
                raise CheckpointError(f"{shard_path}: checkpoint data file not found")
            shards[entry.shard_id] = shard_path.read_bytes()
        data = shards[entry.shard_id]
        shard_name = f"{prefix}.data-{entry.shard_id:05d}-of-{n_shards:05d}"
        if entry.offset + entry.size > len(data):
            raise CheckpointError(
                f"{shard_name}: variable {name!r} needs bytes up to {entry.offset + entry.size}, "
                f"file has {len(data)}: truncated"
            )
        raw = data[entry.offset : entry.offset + entry.size]
        if mask_crc(google_crc32c.value(raw)) != entry.crc32c:
            raise CheckpointError(
                f"{shard_name}: variable {name!r} fails its crc32c check: corrupted"
            )
        expected = int(np.prod(entry.shape, dtype=np.int64)) * entry.dtype.itemsize
        if expected != entry.size:
            raise CheckpointError(
                f"{shard_name}: variable {name!r} size {entry.size} != {expected}"
            )
        tensors[name] = np.frombuffer(raw, dtype=entry.dtype).reshape(entry.shape).copy()
    return tensors
