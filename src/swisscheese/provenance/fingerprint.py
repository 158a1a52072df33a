"""Model fingerprints: a Merkle tree over a model's tensors, by name and content.

A leaf per tensor is the canonical JSON of its name, dtype, shape and the SHA-256 of its bytes;
leaves are ordered by tensor name and folded as RFC 9162 (the flight recorder's tree). Byte
offsets, padding, the order of tensors in a file, how they are split into shards and the
file's metadata are not part of it, so repacking or resharding the same weights gives the same
fingerprint, and changing one weight changes it. Per-tensor digests are kept, so two
fingerprints can say which tensors differ (how much of a parent a fine-tune changed).

Files are read in a single pass in offset order with one fixed buffer: a model larger than
memory can be fingerprinted. Headers are checked before any data is read: a declared size that
does not match the dtype and shape, or data past the end of the file, is an error naming the
file and the tensor.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from swisscheese.core import canonical_json
from swisscheese.core.merkle import Frontier, leaf_hash

ALGORITHM = "swisscheese-tensor-merkle-v1"
MODEL_SUFFIXES = (".safetensors", ".gguf")
_CHUNK = 1 << 20
_MAX_SAFETENSORS_HEADER = 100 << 20  # the format's own reader refuses larger headers

# Bits per element (safetensors' dtypes; sub-byte types pack whole tensors).
_SAFETENSORS_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


class ModelFileError(ValueError):
    """A model file that cannot be fingerprinted (the message names the file and what)."""


@dataclass(frozen=True)
class TensorDigest:
    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    sha256: str

    def leaf(self) -> bytes:
        return canonical_json(
            {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
             "sha256": self.sha256}
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "nbytes": self.nbytes, "sha256": self.sha256}  # fmt: skip


@dataclass(frozen=True)
class TensorDiff:
    same: tuple[str, ...]
    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def identical_fraction(self) -> float:
        """Share of the other model's tensors kept bit for bit."""
        total = len(self.same) + len(self.changed) + len(self.removed)
        return len(self.same) / total if total else 1.0


@dataclass(frozen=True)
class Fingerprint:
    root: str
    """Hex Merkle root over the tensors."""
    format: str
    tensors: tuple[TensorDigest, ...]
    files: tuple[str, ...]
    metadata: str
    """SHA-256 of the files' metadata (not part of the root: informational)."""

    @property
    def digest(self) -> str:
        return f"sha256:{self.root}"

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def diff(self, other: Fingerprint) -> TensorDiff:
        """How this model's tensors relate to ``other``'s (e.g. a parent's)."""
        mine = {t.name: t for t in self.tensors}
        theirs = {t.name: t for t in other.tensors}
        same = [n for n in mine if n in theirs and mine[n].leaf() == theirs[n].leaf()]
        changed = [n for n in mine if n in theirs and mine[n].leaf() != theirs[n].leaf()]
        return TensorDiff(
            tuple(same),
            tuple(changed),
            tuple(n for n in mine if n not in theirs),
            tuple(n for n in theirs if n not in mine),
        )

    def as_dict(self, *, tensors: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "algorithm": ALGORITHM,
            "digest": self.digest,
            "format": self.format,
            "files": list(self.files),
            "tensor_count": len(self.tensors),
            "nbytes": self.nbytes,
            "metadata_sha256": self.metadata,
        }
        if tensors:
            data["tensors"] = [t.as_dict() for t in self.tensors]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        """Rebuild a fingerprint from ``as_dict`` output, checking its root against its
        tensors (a fingerprint file that lies about either is an error)."""
        try:
            if data["algorithm"] != ALGORITHM:
                raise ModelFileError(f"unknown fingerprint algorithm {data['algorithm']!r}")
            tensors = tuple(
                TensorDigest(t["name"], t["dtype"], tuple(t["shape"]), t["nbytes"], t["sha256"])
                for t in data["tensors"]
            )
            digest = str(data["digest"])
            fp = cls(digest.removeprefix("sha256:"), data["format"], tensors,
                     tuple(data["files"]), data["metadata_sha256"])  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"not a fingerprint: missing or wrong field {exc}") from None
        if merkle_root(tensors) != fp.root:
            raise ModelFileError("fingerprint's digest does not match its tensors")
        return fp


def merkle_root(tensors: Iterable[TensorDigest]) -> str:
    frontier = Frontier()
    for tensor in sorted(tensors, key=lambda t: t.name):
        frontier.append(leaf_hash(tensor.leaf()))
    return frontier.root().hex()


@dataclass(frozen=True)
class _Entry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


class _Reader:
    """Sequential reads of a header with bounds checks (a short file is an error, not a
    struct.error)."""

    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle = handle
        self.path = path
        self.offset = 0

    def take(self, n: int, what: str) -> bytes:
        data = self.handle.read(n)
        if len(data) != n:
            raise ModelFileError(f"{self.path}: truncated while reading {what}")
        self.offset += n
        return data

    def unpack(self, fmt: str, what: str) -> Any:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))[0]


def _numel(shape: Sequence[int]) -> int:
    return math.prod(shape) if shape else 1


def _safetensors_entries(handle: BinaryIO, path: Path, size: int) -> tuple[list[_Entry], bytes]:
    reader = _Reader(handle, path)
    header_len = reader.unpack("Q", "the header length")
    if header_len > min(size - 8, _MAX_SAFETENSORS_HEADER):
        raise ModelFileError(
            f"{path}: header length {header_len} is larger than the file ({size} bytes)"
        )
    try:
        header = json.loads(reader.take(header_len, "the header"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: the header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    base = 8 + header_len
    entries: list[_Entry] = []
    for name, info in header.items():
        try:
            dtype, shape = info["dtype"], tuple(info["shape"])
            begin, end = info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(
                f"{path}: tensor {name!r} lacks dtype, shape or data_offsets"
            ) from None
        if dtype not in _SAFETENSORS_BITS:
            raise ModelFileError(f"{path}: tensor {name!r} has unknown dtype {dtype!r}")
        if not all(isinstance(d, int) and d >= 0 for d in (*shape, begin, end)) or end < begin:
            raise ModelFileError(f"{path}: tensor {name!r} has a bad shape or offsets")
        expected = math.ceil(_numel(shape) * _SAFETENSORS_BITS[dtype] / 8)
        if end - begin != expected:
            raise ModelFileError(
                f"{path}: tensor {name!r} declares {end - begin} bytes, but {dtype} "
                f"{list(shape)} takes {expected}"
            )
        if base + end > size:
            raise ModelFileError(
                f"{path}: tensor {name!r} declares {end - begin} bytes at offset {begin}, past "
                f"the end of the file ({size} bytes)"
            )
        entries.append(_Entry(name, dtype, shape, base + begin, base + end))
    return entries, canonical_json(metadata)


_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q",
                 11: "q", 12: "d"}  # fmt: skip
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _gguf_string(reader: _Reader, size: int, what: str) -> bytes:
    length = reader.unpack("Q", what)
    if length > size - reader.offset:
        raise ModelFileError(f"{reader.path}: {what} declares {length} bytes past the file's end")
    return reader.take(length, what)


def _gguf_value(reader: _Reader, kind: int, size: int, key: str) -> Any:
    if kind in _GGUF_SCALARS:
        return reader.unpack(_GGUF_SCALARS[kind], f"metadata {key!r}")
    if kind == _GGUF_STRING:
        return _gguf_string(reader, size, f"metadata {key!r}")
    if kind == _GGUF_ARRAY:
        item_kind = reader.unpack("I", f"metadata {key!r}")
        count = reader.unpack("Q", f"metadata {key!r}")
        if count > size - reader.offset:
            raise ModelFileError(f"{reader.path}: metadata {key!r} declares {count} items")
        if item_kind in _GGUF_SCALARS:  # one read for the whole array
            width = struct.calcsize("<" + _GGUF_SCALARS[item_kind])
            return reader.take(width * count, f"metadata {key!r}")
        return [_gguf_value(reader, item_kind, size, key) for _ in range(count)]
    raise ModelFileError(f"{reader.path}: metadata {key!r} has unknown value type {kind}")


def _gguf_entries(handle: BinaryIO, path: Path, size: int) -> tuple[list[_Entry], bytes]:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    reader = _Reader(handle, path)
    if reader.take(4, "the magic") != b"GGUF":
        raise ModelFileError(f"{path}: not a GGUF file (bad magic)")
    version = reader.unpack("I", "the version")
    if version not in (2, 3):
        raise ModelFileError(f"{path}: GGUF version {version} is not supported (2 or 3)")
    n_tensors = reader.unpack("Q", "the tensor count")
    n_kv = reader.unpack("Q", "the metadata count")
    if n_tensors > size // 24 or n_kv > size // 12:  # smallest possible records
        raise ModelFileError(f"{path}: header declares more entries than the file can hold")
    metadata = hashlib.sha256()
    alignment = 32
    start = reader.offset
    for _ in range(n_kv):
        key = _gguf_string(reader, size, "a metadata key").decode("utf-8", "replace")
        kind = reader.unpack("I", f"metadata {key!r}")
        value = _gguf_value(reader, kind, size, key)
        if key == "general.alignment":
            if not isinstance(value, int) or value <= 0 or value & (value - 1):
                raise ModelFileError(f"{path}: general.alignment {value!r} is not a power of 2")
            alignment = value
    handle.seek(start)
    metadata.update(handle.read(reader.offset - start))
    infos = []
    for _ in range(n_tensors):
        name = _gguf_string(reader, size, "a tensor name").decode("utf-8", "replace")
        n_dims = reader.unpack("I", f"tensor {name!r}")
        if n_dims > 8:
            raise ModelFileError(f"{path}: tensor {name!r} declares {n_dims} dimensions")
        shape = tuple(reader.unpack("Q", f"tensor {name!r}") for _ in range(n_dims))
        kind = reader.unpack("I", f"tensor {name!r}")
        offset = reader.unpack("Q", f"tensor {name!r}")
        infos.append((name, shape, kind, offset))
    base = -(-reader.offset // alignment) * alignment
    entries = []
    for name, shape, kind, offset in infos:
        try:
            qtype = GGMLQuantizationType(kind)
            block, type_size = GGML_QUANT_SIZES[qtype]
        except (ValueError, KeyError):
            raise ModelFileError(f"{path}: tensor {name!r} has unknown type {kind}") from None
        numel = _numel(shape)
        if shape and shape[0] % block:
            raise ModelFileError(
                f"{path}: tensor {name!r}: {qtype.name} needs rows in blocks of {block}, "
                f"shape {list(shape)}"
            )
        nbytes = numel // block * type_size
        if offset % alignment:
            raise ModelFileError(f"{path}: tensor {name!r} is not aligned to {alignment}")
        if base + offset + nbytes > size:
            raise ModelFileError(
                f"{path}: tensor {name!r} declares {nbytes} bytes at offset {offset}, past "
                f"the end of the file ({size} bytes)"
            )
        entries.append(_Entry(name, qtype.name, shape, base + offset, base + offset + nbytes))
    return entries, metadata.digest()


def _check_overlaps(entries: list[_Entry], path: Path) -> None:
    previous: _Entry | None = None
    for entry in sorted(entries, key=lambda e: (e.start, e.end)):
        if previous is not None and entry.start < previous.end:
            raise ModelFileError(
                f"{path}: tensors {previous.name!r} and {entry.name!r} overlap in the file"
            )
        previous = entry


def _hash_range(handle: BinaryIO, buffer: memoryview, start: int, end: int) -> str:
    digest = hashlib.sha256()
    handle.seek(start)
    remaining = end - start
    while remaining:
        n = handle.readinto(buffer[: min(remaining, len(buffer))])  # type: ignore[attr-defined]
        if not n:
            raise ModelFileError("the file ended while it was read (did it change?)")
        digest.update(buffer[:n])
        remaining -= n
    return digest.hexdigest()


def model_files(path: Path) -> list[Path]:
    """The weight files of a model: ``path`` itself, or a directory's safetensors and GGUF
    files (recursively, sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MODEL_SUFFIXES)
        if files:
            return files
        raise ModelFileError(f"{path}: no .safetensors or .gguf files in it")
    raise ModelFileError(f"{path}: no such file or directory")


def _file_tensors(path: Path, buffer: memoryview) -> Iterator[TensorDigest | bytes]:
    """Each tensor's digest, then the file's metadata digest input."""
    with path.open("rb") as handle:
        size = path.stat().st_size
        if path.suffix == ".gguf":
            entries, metadata = _gguf_entries(handle, path, size)
        elif path.suffix == ".safetensors":
            if size < 8:
                raise ModelFileError(f"{path}: too short for a safetensors header")
            entries, metadata = _safetensors_entries(handle, path, size)
        else:
            raise ModelFileError(f"{path}: not a .safetensors or .gguf file")
        _check_overlaps(entries, path)
        for entry in sorted(entries, key=lambda e: e.start):  # sequential reads
            try:
                sha = _hash_range(handle, buffer, entry.start, entry.end)
            except ModelFileError as exc:
                raise ModelFileError(f"{path}: {exc}") from None
            yield TensorDigest(entry.name, entry.dtype, entry.shape, entry.end - entry.start, sha)
        yield metadata


def fingerprint(path: Path) -> Fingerprint:
    """The fingerprint of the model at ``path`` (a file, or a directory of shards)."""
    files = model_files(path)
    formats = {f.suffix.lstrip(".") for f in files}
    if len(formats) > 1:
        raise ModelFileError(f"{path}: mixes safetensors and GGUF files; fingerprint one")
    buffer = memoryview(bytearray(_CHUNK))
    tensors: dict[str, TensorDigest] = {}
    metadata = hashlib.sha256()
    for file in files:
        for item in _file_tensors(file, buffer):
            if isinstance(item, bytes):
                metadata.update(hashlib.sha256(item).digest())
            elif item.name in tensors:
                raise ModelFileError(f"{file}: tensor {item.name!r} appears in two files")
            else:
                tensors[item.name] = item
    ordered = tuple(sorted(tensors.values(), key=lambda t: t.name))
    names = tuple(str(f.relative_to(path)) if path.is_dir() else f.name for f in files)
    return Fingerprint(merkle_root(ordered), formats.pop(), ordered, names, metadata.hexdigest())
