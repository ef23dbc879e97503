"""The conversion is pure like gitberth.core: only the CLI verb reads and writes files."""

from __future__ import annotations

from pathlib import Path

import gitberth.convert
from tests.unit.test_core_purity import FORBIDDEN, imported_modules

CONVERT = Path(gitberth.convert.__file__).parent


def test_convert_imports_no_io_library() -> None:
    offenders = {
        path.name: sorted(
            name
            for name in imported_modules(path)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        )
        for path in sorted(CONVERT.glob("*.py"))
    }

    assert {name: bad for name, bad in offenders.items() if bad} == {}
