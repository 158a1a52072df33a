"""The text-watermark key in the key store: 32 random bytes, hex, readable by its owner only;
its identifier (never the key) is recorded when it is adopted."""

from __future__ import annotations

import os
from pathlib import Path

from swisscheese.provenance.watermark import KEY_BYTES, Watermark, WatermarkConfig, WatermarkError
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import WatermarkKey
from swisscheese.recorder.sealing import write_private

DEFAULT_WATERMARK_KEY = Path(".swisscheese") / "watermark.key"


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def write_watermark_key(key: bytes, path: Path | None = None, *, force: bool = False) -> Path:
    location = path or DEFAULT_WATERMARK_KEY
    try:
        write_private(location, key.hex() + "\n", force=force)
    except FileExistsError:
        raise WatermarkError(
            f"{location} exists; refusing to replace a watermark key (text it marked could "
            "no longer be detected)"
        ) from None
    return location


def load_watermark_key(path: Path | None = None) -> bytes:
    location = path or DEFAULT_WATERMARK_KEY
    try:
        text = location.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except OSError as exc:
        raise WatermarkError(
            f"{location}: cannot read the watermark key ({exc.strerror or exc}; create one "
            "with `swisscheese keys init-watermark`)"
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise WatermarkError(f"{location}: not a hex watermark key") from None
    if len(key) != KEY_BYTES:
        raise WatermarkError(f"{location}: a watermark key is {KEY_BYTES} bytes, not {len(key)}")
    return key


def load_watermark(path: Path | None, config: WatermarkConfig) -> Watermark:
    return Watermark(load_watermark_key(path), config)


def adopt(recorder: Recorder, key: bytes) -> int:
    key_id = Watermark(key).key_id
    return recorder.record(WatermarkKey(key_id=key_id)).index
