"""Python grader source of the format_compliance preset: 0 when the answer is not JSON, 0.5
when it is JSON that breaks the schema, 1 when it matches (or is JSON and no schema is set).

The schema is the preset's ``SCHEMA`` or, when that is None, the item's ``json_schema`` field.
"""

import json
from typing import Any

import jsonschema

SCHEMA: Any = None


def grade(sample: dict[str, Any], item: dict[str, Any]) -> float:
    text = sample.get("output_text") or ""
    try:
        value = json.loads(text)
    except ValueError:
        return 0.0
    schema = SCHEMA if SCHEMA is not None else item.get("json_schema")
    if isinstance(schema, str):
        schema = json.loads(schema)
    if not schema:
        return 1.0
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError:
        return 0.5
    return 1.0
