"""The one way a request body is read: JSON, strictly.

- `Content-Type` must name JSON (`application/json`, or `application/<something>+json`); a wildcard
  such as `*/*` or a missing type is 415, not parsed as JSON on a guess.
- A key given twice in one object is refused (JSON parsers disagree on which wins).
- `NaN`, `Infinity` and `-Infinity` are not JSON and are refused.
- Nesting deeper than `MAX_DEPTH` is refused before it can exhaust the interpreter's stack.
Each refusal is a 400 `malformed_request` (or 415) in the error envelope.
"""

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} is given twice")
        result[key] = value
    return result


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(text: str) -> int:
    """The deepest nesting of objects and arrays, counted outside strings, in one pass."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def strict_json_loads(text: str) -> Any:
    """TEXT as JSON, strictly (see the module); raises `ParseError` for anything else."""
    # The character scan only when there are enough brackets to nest that deep (counted in C):
    # an ordinary body costs two counts, not a Python loop over every character.
    brackets = text.count("[") + text.count("{")
    if brackets > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise exceptions.ParseError(f"JSON nested deeper than {MAX_DEPTH} levels is not accepted.")
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_not_a_number)
    except ValueError as exc:
        raise exceptions.ParseError(f"Malformed JSON: {exc}") from exc


class StrictJSONParser(JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        request = (parser_context or {}).get("request")
        content_type = getattr(request, "content_type", "") or ""
        if not is_json(content_type):
            raise exceptions.UnsupportedMediaType(content_type or "none")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError("The body is not valid UTF-8.") from exc
        return strict_json_loads(text)
