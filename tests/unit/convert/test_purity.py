"""The conversion is pure like gitberth.core: only the CLI verb reads and writes files.

The same allowlist as the core's, plus the conversion's own modules.
"""

from __future__ import annotations

from pathlib import Path

import gitberth.convert
from tests.unit.test_core_purity import ALLOWED, imported_modules, is_allowed

CONVERT = Path(gitberth.convert.__file__).parent


def test_convert_imports_only_pure_modules() -> None:
    allowed = ALLOWED | {"gitberth.convert"}
    offenders = {
        path.name: sorted(
            name for name in imported_modules(path) if not is_allowed(name, allowed=allowed)
        )
        for path in sorted(CONVERT.glob("*.py"))
    }

    assert {name: bad for name, bad in offenders.items() if bad} == {}
