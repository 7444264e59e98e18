"""Free text at the API's edge (names, address lines): one line of printable characters.

Length limits belong to each field; this is what every one-line text field refuses on top:
control characters (NUL, escape sequences, line breaks, which would break the e-mails and logs
the text ends up in) and unpaired surrogates (a JSON `"\\ud800"` decodes to a Python string
that cannot be encoded as UTF-8, so DynamoDB could not store it).

    CustomerName = Annotated[str, Field(min_length=1, max_length=100), OneLine]
"""

from __future__ import annotations

import re

from pydantic import AfterValidator

# C0 and C1 controls, DEL, the Unicode line/paragraph separators, lone surrogates.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(value: str) -> str:
    if _NOT_ONE_LINE.search(value):
        raise ValueError("must be one line of printable characters (no control characters)")
    return value


OneLine = AfterValidator(one_line)
