"""Free text at the API's edge (names, address lines): one line of printable characters.

Length limits belong to each field; this is what every one-line text field refuses on top:
control characters (NUL, escape sequences, line breaks, which would break the e-mails and logs
the text ends up in) and unpaired surrogates (a JSON `"\\ud800"` decodes to a Python string
that cannot be encoded as UTF-8, so DynamoDB could not store it).

    CustomerName = Annotated[str, Field(min_length=1, max_length=100), OneLine]
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic_core import core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

# C0 and C1 controls, DEL, the Unicode line/paragraph separators, lone surrogates.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(value: str) -> str:
    if _NOT_ONE_LINE.search(value):
        raise ValueError("must be one line of printable characters (no control characters)")
    return value


# What the OpenAPI document says of a one-line field, for clients and generated tests: no control
# characters, and something besides white space (the models strip it, then want a character). A
# JSON Schema pattern can't name lone surrogates portably; `one_line` refuses them too.
_TEXT = r"[^\u0000-\u001f\u007f-\u009f\u2028\u2029]"
_NOT_SPACE = r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
ONE_LINE_PATTERN = rf"^{_TEXT}*{_NOT_SPACE}{_TEXT}*$"


class _OneLine:
    """`one_line` as the field's validator, and ONE_LINE_PATTERN in its JSON Schema (unless the
    field has a stricter pattern of its own)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(one_line, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", ONE_LINE_PATTERN)
        return json_schema


OneLine = _OneLine()
