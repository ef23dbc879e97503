"""The JSON schema of an app manifest, generated from the pydantic model.

``schemas/app.schema.json`` is this output verbatim; a test fails when it is stale, so editors
using the ``yaml-language-server`` line in the examples always validate against the real model.
"""

from __future__ import annotations

from typing import Any

from gitberth.core.models import AppManifest

SCHEMA_ID = "https://gitberth.dev/schemas/app.schema.json"


def app_schema() -> dict[str, Any]:
    schema = AppManifest.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
