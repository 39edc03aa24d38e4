"""Hand-written LevelDB-format tables for the TensorFlow checkpoint tests.

TensorFlow writes its bundle indexes as one kind of table only (uncompressed, 4 KiB
blocks, a restart point every 16 keys). To exercise what another writer may do
(Snappy blocks, tiny blocks, other restart intervals) and to forge damaged entries
for the robustness tests, these helpers rewrite the entries of a real index.
"""

from __future__ import annotations

import struct
from pathlib import Path

from forensics.readers import tf_checkpoint as tfc


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def write_table(
    entries: list[tuple[bytes, bytes]], compress: bool = False, per_block: int = 64, restart: int = 16
) -> bytes:
    """A LevelDB-format table of ``entries`` (keys in order)."""
    import google_crc32c

    out = bytearray()

    def block(body: bytes) -> bytes:
        kind = 0
        if compress:
            import cramjam

            body, kind = bytes(cramjam.snappy.compress_raw(body)), 1
        handle = varint(len(out)) + varint(len(body))
        crc = google_crc32c.value(body + bytes([kind]))
        out.extend(body + bytes([kind]) + struct.pack("<I", mask(crc)))
        return handle

    def encode(items: list[tuple[bytes, bytes]]) -> bytes:
        body, restarts, prev = bytearray(), [], b""
        for i, (k, v) in enumerate(items):
            shared = 0
            if i % restart:
                while shared < min(len(k), len(prev)) and k[shared] == prev[shared]:
                    shared += 1
            else:
                restarts.append(len(body))
            body += varint(shared) + varint(len(k) - shared) + varint(len(v)) + k[shared:] + v
            prev = k
        for r in restarts or [0]:
            body += struct.pack("<I", r)
        return bytes(body + struct.pack("<I", len(restarts or [0])))

    index = []
    for i in range(0, len(entries), per_block):
        chunk = entries[i : i + per_block]
        index.append((chunk[-1][0], block(encode(chunk))))
    meta = block(encode([]))
    idx = block(encode(index))
    footer = (meta + idx).ljust(40, b"\0") + struct.pack("<Q", tfc.TABLE_MAGIC)
    return bytes(out + footer)


def entries_of(index: Path) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs of a real index."""
    return [(k, bytes(v)) for k, v in tfc.read_table(index.read_bytes())]


def rewrite_entry(index: Path, key: str, **fields: int) -> None:
    """Change fields of one BundleEntryProto of ``index`` (offset, size, shard_id, dtype), in place."""
    entry_cls = tfc._protos()[1]
    out = []
    for k, v in entries_of(index):
        if k == key.encode():
            proto = entry_cls.FromString(v)
            for name, value in fields.items():
                setattr(proto, name, value)
            v = proto.SerializeToString()
        out.append((k, v))
    index.write_bytes(write_table(out))


def one_block_table(body: bytes, header: bytes = b"\x08\x01") -> bytes:
    """A table whose single data block holds ``body`` as it is (a forged block, CRC sealed),
    after a data block with a valid bundle header of one shard."""
    import google_crc32c

    out = bytearray()

    def seal(data: bytes) -> bytes:
        handle = varint(len(out)) + varint(len(data))
        out.extend(data + b"\0" + struct.pack("<I", mask(google_crc32c.value(data + b"\0"))))
        return handle

    first = varint(0) + varint(0) + varint(len(header)) + header + struct.pack("<II", 0, 1)
    h1 = seal(first)
    h2 = seal(body)
    index = varint(0) + varint(1) + varint(len(h1)) + b"\x00" + h1
    index += varint(0) + varint(1) + varint(len(h2)) + b"\xff" + h2 + struct.pack("<III", 0, len(index), 2)
    meta = seal(struct.pack("<II", 0, 1))
    idx = seal(index)
    return bytes(out + (meta + idx).ljust(40, b"\0") + struct.pack("<Q", tfc.TABLE_MAGIC))


def string_tensor_bytes(payload: bytes) -> tuple[bytes, int]:
    """A scalar string tensor as TensorFlow stores it, and its masked CRC32C for the entry."""
    import google_crc32c

    length_crc = google_crc32c.value(struct.pack("<I", len(payload)))
    masked = struct.pack("<I", mask(length_crc))
    crc = google_crc32c.extend(google_crc32c.extend(length_crc, masked), payload)
    return varint(len(payload)) + masked + payload, mask(crc)
