"""The 422 for a request that fails validation: what is wrong and where, not the input back.

FastAPI's own handler answers every error with its ``input``: for a list too long that is the
whole list (a 20,000-item request was answered with its 389 KB body), and a list of 20,000 bad
items gets 20,000 errors. Here an error keeps its input only when it is a short scalar, and at
most ``MAX_ERRORS`` errors are listed (``errors_total`` counts them all).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MAX_ERRORS = 20
MAX_INPUT_CHARS = 200


async def validation_error_response(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    return JSONResponse(
        status_code=422,
        content={
            "detail": [_summary(error) for error in errors[:MAX_ERRORS]],
            "errors_total": len(errors),
        },
    )


def _summary(error: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "type": error.get("type"),
        "loc": list(error.get("loc", ())),
        "msg": error.get("msg"),
    }
    value = error.get("input")
    short_text = isinstance(value, str) and len(value) <= MAX_INPUT_CHARS
    if value is None or short_text or isinstance(value, bool | int | float):
        summary["input"] = value
    if error.get("ctx"):
        # ctx holds the constraint (max_length, pattern...), and for a custom check its error
        summary["ctx"] = {key: _short(val) for key, val in error["ctx"].items()}
    return summary


def _short(value: Any) -> Any:
    encoded = jsonable_encoder(value) if not isinstance(value, BaseException) else str(value)
    if isinstance(encoded, str | int | float | bool) or encoded is None:
        return encoded[:MAX_INPUT_CHARS] if isinstance(encoded, str) else encoded
    return str(encoded)[:MAX_INPUT_CHARS]
