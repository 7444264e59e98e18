"""What moto does for every request, done with less CPU and the same outcome.

Every request moto answers goes through `BaseResponse.setup_class` (read the request) and
`call_action` (run the action, then `_enrich_response`). Three steps there cost more than
their work needs; each is replaced by one that gives what moto's gives, field for field.

**The caller's access key** (`BaseResponse.get_access_key`). moto finds it in the
Authorization header with `access_key_regex`, `AWS.*(?P<access_key>...[A-Z0-9]{20}...)[:/]`,
whose greedy `.*` backtracks over the whole header from its end: 16 us per search here, and
`setup_class` searches twice per request (`get_access_key`, then `get_current_account` asks
again). A match ends in a `:` or `/`, so nothing after the header's last `, Signature=` can
take part in one when that signature holds neither character (SigV4's is hex): the search
over the header without it finds the same key, and that part (credential scope and signed
headers) is the same for every request of a client on a day. Its answer is kept per
(pattern, header without signature), at most 4,096; any other header is searched whole, as
moto does.

**The request id** (`gen_amzn_requestid_long`, called by `_enrich_response` for every
answer). moto draws 52 characters one `random.choice` at a time from `mock_random` (moto's
seedable generator): 52 calls into random.py per request. Here 64 random bytes are drawn from
the same generator in one call (`getrandbits`, which CPython runs whole under the GIL, so
threads never share bits) and mapped to the same 62 letters and digits by `bytes.translate`,
dropping the bytes 248-255 (248 = 4 x 62, so every character stays equally likely, as with
`choice`), drawing again in the rare case fewer than 52 are left. Same shape
(`[A-Za-z0-9]{52}`, in the `x-amzn-requestid` header as moto puts it), same uniqueness (~309
random bits), still reproducible when moto's generator is seeded; the characters differ from
those moto would have drawn, as they would on any other run.
`_enrich_response` then runs `re.sub` for `<RequestId>...</RequestId>` over every body; a body
that is not text, or has no `<RequestId>`, is left as it is (the substitution could change
nothing there), so JSON answers skip the scan.

**A JSON-protocol request's parameters** (`BaseResponse.parse_parameters`, for services with
automated parameter parsing: SQS, EventBridge, Step Functions, Logs, ...). moto walks the
operation's input shape over the parsed JSON (moto.core.parse.JSONParser), choosing each
node's handler by name (`getattr(self, f"_parse_{shape.type_name}")`) and building the parser,
its request dict and `request.values` per request: 15-40 us for an SQS or EventBridge call.
Here the walk is compiled once per operation into nested functions that do what JSONParser's
handlers do (members read by their JSON name, `None` values dropped, unknown members ignored,
integers `int()`, floats `float()`, blobs and timestamps by moto's own parsers, documents kept
as they are). Wherever the JSON does not have the type the shape expects (a string where a
structure is, a number where a list is, ...), the compiled walk gives up and moto's parser
runs, so a bad request fails exactly as it does with moto. Only protocol `json` with moto's
`JSONParser` and plain `dict` maps is compiled; everything else is moto's.

**A body that is not a form** (`request.data`, read first by `setup_class`). werkzeug's
`data` parses the form first: it builds a FormDataParser (reading Flask's limits, which look
for an app context), which for any content type but `multipart/form-data` and
`application/x-www-form-urlencoded` hands the stream back with two empty
`parameter_storage_class` dicts, and Flask then checks for a debug app. For moto's request
class (`BackendRequest`) outside an app context (localcloud.endpoint.dispatch answers without
one), `_load_form_data` now sets those three at once for such a body: ~12 us less per request.
A form, a request without a content type, another parser class or an app context still goes
through werkzeug's and Flask's code.

**The URL and the headers** (moto's `Request.raw_url` and `EnvironHeaders.__iter__`, read
for every request by localcloud.endpoint.dispatch). `raw_url` starts from werkzeug's
`url_root`, `get_current_url(scheme, host, root_path)`, which quotes and unquotes the parts
(`uri_to_iri`): ~6 us for a string that is the same for every request to a host. It is kept
per (scheme, host, root path), at most 256; the rest of `raw_url` is moto's. moto's headers
rename each header through a dict of preserved S3 metadata names, computing each header's
environ key even when that dict is empty (every request but S3 metadata puts); then the names
are werkzeug's own, so they are taken from werkzeug's iteration directly: `dict(headers)`
10 -> 5 us.

**The action's method name** (`camelcase_to_underscores`, in `call_action`). moto turns the
action name into its method's name a character at a time (`istitle()` per character and its
neighbour) for every request; the answer is a function of the name alone, so `call_action`
uses one kept per name (at most 1,024; responses.py imported it by name, its other users keep
moto's).

tests/localcloud/test_moto_requests.py compares each with moto's own on the same requests,
good and bad. `install()` is reached from localcloud.moto_actions.install().
"""

from __future__ import annotations

import functools
import json
import re
import string
import threading
from collections.abc import Callable
from typing import Any

from moto.core import parse as moto_parse
from moto.core import request as moto_request
from moto.core import responses as moto_responses
from moto.core.request import determine_request_protocol
from werkzeug.datastructures import EnvironHeaders as WerkzeugEnvironHeaders
from werkzeug.formparser import FormDataParser
from werkzeug.sansio.utils import get_current_url

_install_lock = threading.Lock()
_installed = False

# moto's own, kept for comparison (tests) and for the cases handed back to it
moto_get_access_key: Any = None
moto_gen_amzn_requestid_long: Any = None
moto_enrich_response: Any = None
moto_parse_parameters: Any = None
moto_load_form_data: Any = None
moto_raw_url: Any = None
moto_camelcase_to_underscores: Any = None
moto_headers_iter: Any = None


# ------------------------------------------------------------------ the caller's access key
_SIGNATURE = ", Signature="


@functools.lru_cache(maxsize=4096)
def _access_key_in(pattern: re.Pattern[str], authorization: str) -> str | None:
    match = pattern.search(authorization)
    return match.group(1) if match else None


def access_key_in(pattern: re.Pattern[str], authorization: str) -> str | None:
    """What `pattern.search(authorization).group(1)` finds (None for no match)."""
    head, separator, signature = authorization.rpartition(_SIGNATURE)
    if separator and ":" not in signature and "/" not in signature:
        return _access_key_in(pattern, head)  # see the docstring: the same match
    match = pattern.search(authorization)
    return match.group(1) if match else None


def get_access_key(self: Any) -> str:
    """moto's `BaseResponse.get_access_key`, the header's search kept (see the docstring)."""
    if "Authorization" in self.headers:
        found = access_key_in(self.access_key_regex, self.headers["Authorization"])
        if found:
            return found
    if self.querystring.get("AWSAccessKeyId"):
        return self.querystring["AWSAccessKeyId"][0]
    return "AKIAEXAMPLE"


# ------------------------------------------------------------------ the request id
_REQUEST_ID_LENGTH = 52
_CHARACTERS = string.ascii_letters + string.digits  # moto's get_random_string pool
_USABLE = 256 - 256 % len(_CHARACTERS)  # 248: bytes below map evenly onto 62 characters
_TO_CHARACTER = bytes(ord(_CHARACTERS[byte % len(_CHARACTERS)]) for byte in range(256))
_UNUSABLE = bytes(range(_USABLE, 256))
_REQUEST_ID_IN_XML = re.compile(r"(?<=<RequestId>).*(?=<\/RequestId>)")  # moto's


def request_id() -> str:
    """52 letters and digits, each equally likely, from moto's random generator."""
    from moto.moto_api._internal import mock_random

    drawn = b""
    while len(drawn) < _REQUEST_ID_LENGTH:
        raw = mock_random.getrandbits(64 * 8).to_bytes(64, "little")
        drawn += raw.translate(_TO_CHARACTER, _UNUSABLE)
    return drawn[:_REQUEST_ID_LENGTH].decode("ascii")


def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
    """moto's `moto.utilities.aws_headers.gen_amzn_requestid_long`, drawn at once."""
    req_id = request_id()
    if headerdict is not None and isinstance(headerdict, dict):
        headerdict.update({"x-amzn-requestid": req_id})
    return req_id


def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto's `BaseResponse._enrich_response`, scanning only a body that has a RequestId."""
    if "status" in headers:
        headers["status"] = str(headers["status"])
    req_id = moto_responses.gen_amzn_requestid_long(headers)
    if isinstance(body, str) and "<RequestId>" in body:
        body = _REQUEST_ID_IN_XML.sub(req_id, body)
    return headers, body


# ------------------------------------------------------------------ JSON-protocol parameters
class _NotPlain(Exception):
    """The JSON is not what the shape expects: moto's parser decides."""


Walk = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _integer(value: Any) -> Any:
    if value is moto_parse.UNDEFINED:
        return value
    return int(value)


def _float(value: Any) -> Any:
    if value is moto_parse.UNDEFINED:
        return value
    return float(value)


def _blob(value: Any) -> Any:
    return moto_parse.default_blob_parser(value)


def _timestamp(value: Any) -> Any:
    return moto_parse.default_timestamp_parser(value)


_SCALARS: dict[str, Walk] = {
    "blob": _blob,
    "timestamp": _timestamp,
    "float": _float,
    "double": _float,
    "integer": _integer,
    "byte": _integer,
    "short": _integer,
    "long": _integer,
}


def _compile(shape: Any, known: dict[str, Walk]) -> Walk:
    """JSONParser's `_parse_shape(shape, value)` for this shape, as a function of the value."""
    name = shape.name
    if name in known:
        return known[name]
    # A shape may contain itself (DynamoDB's AttributeValue): its walk is looked up late.
    slot: list[Walk] = []

    def late(value: Any) -> Any:
        return slot[0](value)

    known[name] = late
    walk = _compile_new(shape, known)
    slot.append(walk)
    known[name] = walk
    return walk


def _compile_new(shape: Any, known: dict[str, Walk]) -> Walk:
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return _same
        members = [
            (member, shape_.serialization.get("name", member), _compile(shape_, known))
            for member, shape_ in shape.members.items()
        ]

        def structure(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not dict:
                raise _NotPlain
            parsed = {}
            for member, json_name, walk in members:
                raw = value.get(json_name)
                if raw is not None:
                    parsed[member] = walk(raw)
            return parsed

        return structure
    if kind == "list":
        item = _compile(shape.member, known)

        def list_(value: Any) -> Any:
            if type(value) is not list:
                raise _NotPlain
            return [item(each) for each in value]

        return list_
    if kind == "map":
        key = _compile(shape.key, known)
        entry = _compile(shape.value, known)

        def map_(value: Any) -> Any:
            if type(value) is not dict:
                raise _NotPlain
            parsed = {}
            for each, val in value.items():
                parsed[key(each)] = entry(val)
            return parsed

        return map_
    return _SCALARS.get(kind, _same)


@functools.lru_cache(maxsize=4096)
def walk_of(operation_model: Any) -> Walk | None:
    shape = operation_model.input_shape
    return None if shape is None else _compile(shape, {})


def body_as_json(body: Any) -> Any:
    """moto's `BaseJSONParser._parse_body_as_json`."""
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except (UnicodeDecodeError, AttributeError):
        text = body
    try:
        return json.loads(text)
    except ValueError:
        return {"message": text}


def parse_parameters(self: Any, request: Any) -> None:
    """moto's `BaseResponse.parse_parameters`, a JSON-protocol walk compiled per operation."""
    service_model = moto_responses.get_service_model(self.boto3_service_name)
    operation_model = service_model.operation_model(self._get_action())
    protocol = determine_request_protocol(service_model, request.content_type)
    if (
        protocol == "json"
        and moto_parse.PROTOCOL_PARSERS.get(protocol) is moto_parse.JSONParser
        and self.PROTOCOL_PARSER_MAP_TYPE is dict
    ):
        walk = walk_of(operation_model)
        if walk is None:  # no input shape: moto's parser answers {}
            self.params = {}
            return
        try:
            self.params = walk(body_as_json(request.data))
        except Exception:  # not plain (or bad): moto's parser decides, and raises as it does
            pass
        else:
            return
    moto_parse_parameters(self, request)


# ------------------------------------------------------------------ a body that is not a form
_FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def load_form_data(self: Any) -> None:
    """Flask's and werkzeug's `Request._load_form_data`, at once for a body that is not a
    form outside an app context (see the docstring)."""
    from flask.globals import _cv_app

    if (
        "form" not in self.__dict__
        and self.want_form_data_parsed
        and self.form_data_parser_class is FormDataParser
        and self.mimetype not in _FORMS
        and _cv_app.get(None) is None
    ):
        storage = self.parameter_storage_class
        d = self.__dict__
        d["stream"], d["form"], d["files"] = self._get_stream_for_parsing(), storage(), storage()
        return
    moto_load_form_data(self)


# ------------------------------------------------------------------ the URL and the headers
@functools.lru_cache(maxsize=256)
def _root_url(scheme: str, host: str, root_path: str) -> str:
    return get_current_url(scheme, host, root_path)


def raw_url(self: Any) -> str:
    """moto's `Request.raw_url`, its root URL (werkzeug's `url_root`) kept per host."""
    root = self.__dict__.get("url_root")  # werkzeug's, when something already read it
    if root is None:
        root = _root_url(self.scheme, self.host, self.root_path)
    url = f"{root.rstrip('/')}{self.raw_path}"
    if self.query_string:
        url += f"?{self.query_string.decode()}"
    return url


def headers_iter(self: Any) -> Any:
    """moto's `EnvironHeaders.__iter__`: werkzeug's names when none is preserved."""
    names = self.environ.get(moto_request.PRESERVED_HEADER_NAMES_ENVIRON_KEY) or {}
    if not names:
        return WerkzeugEnvironHeaders.__iter__(self)
    return moto_headers_iter(self)


# ------------------------------------------------------------------ the action's method name
def camelcase_to_underscores(argument: Any) -> Any:
    """moto's `camelcase_to_underscores`, kept per name (anything but a str: moto's)."""
    if type(argument) is str:
        return _method_name(argument)
    return moto_camelcase_to_underscores(argument)


@functools.lru_cache(maxsize=1024)
def _method_name(argument: str) -> Any:
    return moto_camelcase_to_underscores(argument)


def install() -> None:
    """Patch moto's BaseResponse (idempotent)."""
    global _installed, moto_get_access_key, moto_gen_amzn_requestid_long  # noqa: PLW0603
    global moto_enrich_response, moto_parse_parameters, moto_load_form_data  # noqa: PLW0603
    global moto_raw_url, moto_headers_iter, moto_camelcase_to_underscores  # noqa: PLW0603
    from moto.moto_server.werkzeug_app import BackendRequest

    base = moto_responses.BaseResponse
    with _install_lock:
        if _installed:
            return
        moto_get_access_key = base.get_access_key
        moto_gen_amzn_requestid_long = moto_responses.gen_amzn_requestid_long
        moto_enrich_response = base.__dict__["_enrich_response"]
        moto_parse_parameters = base.parse_parameters
        base.get_access_key = get_access_key  # type: ignore[method-assign]
        # responses.py imported the function by name; _enrich_response is its only caller
        moto_responses.gen_amzn_requestid_long = gen_amzn_requestid_long
        base._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]
        base.parse_parameters = parse_parameters  # type: ignore[method-assign]
        moto_load_form_data = BackendRequest._load_form_data
        BackendRequest._load_form_data = load_form_data  # type: ignore[method-assign]
        moto_raw_url = moto_request.Request.__dict__["raw_url"]
        moto_headers_iter = moto_request.EnvironHeaders.__iter__
        moto_request.Request.raw_url = property(raw_url)  # type: ignore[method-assign,assignment]
        moto_request.EnvironHeaders.__iter__ = headers_iter  # type: ignore[method-assign]
        moto_camelcase_to_underscores = moto_responses.camelcase_to_underscores
        moto_responses.camelcase_to_underscores = camelcase_to_underscores
        _installed = True
