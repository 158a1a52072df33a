from __future__ import annotations

import sysconfig
import zlib
from pathlib import Path

from swisscheese.common.packages import source_files_by_hash


def test_installed_source_files_come_in_the_order_of_their_paths_hashes() -> None:
    # A prefix of this order is a sample that installing a package changes only by its own
    # files (the benches and `real-words` read one).
    root = Path(sysconfig.get_paths()["purelib"])
    files = source_files_by_hash()
    assert len(files) > 1000
    hashes = [crc for crc, _ in files]
    assert hashes == sorted(hashes)
    for crc, path in files[:50]:
        assert crc == zlib.crc32(path.relative_to(root).as_posix().encode())
    without_pip = source_files_by_hash({"PIP"})
    assert [p for _, p in without_pip] == [
        p for _, p in files if "pip" not in {part.lower() for part in p.relative_to(root).parts}
    ]
    assert len(without_pip) < len(files)
