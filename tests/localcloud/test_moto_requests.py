"""moto's per-request steps as localcloud does them (localcloud.endpoint.moto_requests) give
what moto's own give: the same access key for every Authorization header, request ids of
moto's shape that never repeat across threads, the same answer bodies, and the same parameters
(or the same error) for JSON-protocol requests, good and bad."""

from __future__ import annotations

import base64
import collections
import json
import re
import string
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core import request as moto_request_module
from moto.core import responses as moto_responses
from moto.events.responses import EventsHandler
from moto.logs.responses import LogsResponse
from moto.moto_api._internal import mock_random
from moto.moto_server.werkzeug_app import (
    BackendRequest,
    DomainDispatcherApplication,
    create_backend_app,
)
from moto.sqs.responses import SQSResponse
from moto.stepfunctions.responses import StepFunctionResponse
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.test import EnvironBuilder, run_wsgi_app

from localcloud import moto_actions
from localcloud.endpoint import dispatch, moto_requests
from tests.support.values import typed

PATTERN = moto_responses.BaseResponse.access_key_regex
KEY = "AKIAIOSFODNN7EXAMPLE"
SCOPE = "20261202/us-east-1/sqs/aws4_request"


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    moto_actions.install()


# ------------------------------------------------------------------ the caller's access key
def _moto_finds(authorization: str) -> str | None:
    match = PATTERN.search(authorization)
    return match.group(1) if match else None


HEADERS = [
    f"AWS4-HMAC-SHA256 Credential={KEY}/{SCOPE}, SignedHeaders=host;x-amz-date, Signature=ab12",
    f"AWS4-HMAC-SHA256 Credential=ASIAY34FZKBOKMUTVV7A/{SCOPE}, SignedHeaders=host, Signature=0",
    f"AWS4-HMAC-SHA256 Credential=localcloud/{SCOPE}, SignedHeaders=host, Signature=ff00",
    f"AWS {KEY}:c2lnbmF0dXJl",  # SigV2: the key before a colon
    f"AWS4-HMAC-SHA256 Credential={KEY}/{SCOPE}",  # no signature at all
    # a "signature" that holds the only key followed by a slash or colon: searched whole
    f"AWS4-HMAC-SHA256 Credential=x/{SCOPE}, Signature=ABCDEFGHIJKLMNOPQRST/x",
    f"AWS4-HMAC-SHA256 Credential=x/{SCOPE}, Signature=ABCDEFGHIJKLMNOPQRST:",
    f"AWS4 Credential={KEY}/{SCOPE}, Signature=1, Signature=AKIAIOSFODNN7EXAMPL2/",
    "Bearer token",
    "",
]

header_text = st.text(alphabet=string.ascii_uppercase[:6] + "AWS0123456789:/ ,=", max_size=60)


@pytest.mark.parametrize("authorization", HEADERS)
def test_each_authorization_header_gives_the_key_moto_finds(authorization: str) -> None:
    # Given an Authorization header, When localcloud looks for the key (twice: once kept)
    # Then it finds what moto's search over the whole header finds
    for _ in range(2):
        assert moto_requests.access_key_in(PATTERN, authorization) == _moto_finds(authorization)


@settings(max_examples=400, deadline=None)
@given(header_text, header_text, header_text)
def test_any_header_with_a_signature_gives_the_key_moto_finds(
    before: str, scope: str, signature: str
) -> None:
    # Given a header made of key-like text around a ", Signature=" (or several)
    authorization = f"AWS{before}{KEY[: len(before) % 21]}/{scope}, Signature={signature}"
    # When localcloud looks for the key, twice
    # Then it is the key (or none) moto's search finds
    for _ in range(2):
        assert moto_requests.access_key_in(PATTERN, authorization) == _moto_finds(authorization)


def _handler(headers: list[tuple[str, str]], query: str = "") -> SQSResponse:
    request = BackendRequest(
        EnvironBuilder(
            method="POST",
            base_url="http://127.0.0.1:4566",
            path="/",
            query_string=query,
            headers=[("Content-Type", "application/x-www-form-urlencoded"), *headers],
            data="",
        ).get_environ()
    )
    handler = SQSResponse()
    handler.setup_class(request)
    return handler


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([("Authorization", HEADERS[0])], ""),
        ([("Authorization", HEADERS[2])], ""),
        ([], f"AWSAccessKeyId={KEY}&Action=ListQueues"),
        ([], "Action=ListQueues"),
    ],
)
def test_a_handler_reads_the_access_key_moto_reads(
    headers: list[tuple[str, str]], query: str
) -> None:
    # Given a request signed with a header, presigned in its query, or not signed
    handler = _handler(headers, query)
    # When localcloud's get_access_key and moto's read it
    # Then both give the same key (or moto's AKIAEXAMPLE)
    assert moto_requests.get_access_key(handler) == moto_requests.moto_get_access_key(handler)


# ------------------------------------------------------------------ the request id
REQUEST_ID = re.compile(r"[A-Za-z0-9]{52}")


def test_request_ids_have_moto_shape_and_never_repeat_across_threads() -> None:
    # Given eight threads drawing request ids at once, as the endpoint's threads do
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(into: list[str]) -> None:
        for _ in range(2_000):
            into.append(moto_requests.gen_amzn_requestid_long({}))

    threads = [threading.Thread(target=draw, args=(each,)) for each in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [each for batch in drawn for each in batch]
    # Then each is 52 letters and digits, like moto's, and no two are the same
    assert all(REQUEST_ID.fullmatch(each) for each in ids)
    assert REQUEST_ID.fullmatch(moto_requests.moto_gen_amzn_requestid_long({}))
    assert len(set(ids)) == len(ids)


def test_every_letter_and_digit_is_as_likely() -> None:
    # Given 2,000 request ids (104,000 characters; 1,677 of each expected)
    counts = collections.Counter("".join(moto_requests.request_id() for _ in range(2_000)))
    # Then all 62 characters appear, each within 6 standard deviations (about 245) of its
    # share: a byte mapped without dropping 248-255 gives 8 characters 1,258 more each
    assert set(counts) == set(string.ascii_letters + string.digits)
    expected = 104_000 / 62
    assert all(abs(count - expected) < 245 for count in counts.values()), counts


def test_a_seeded_generator_gives_the_same_ids_again() -> None:
    # Given moto's generator seeded twice alike (moto's /moto-api/seed)
    mock_random.seed(8)
    first = [moto_requests.request_id() for _ in range(3)]
    mock_random.seed(8)
    again = [moto_requests.request_id() for _ in range(3)]
    mock_random.seed()
    # Then the ids repeat, as moto's do
    assert first == again
    assert len(set(first)) == 3


def test_the_header_is_set_as_moto_sets_it() -> None:
    # Given a response's headers
    ours: dict[str, Any] = {"status": 200}
    motos: dict[str, Any] = {"status": 200}
    # When each function draws an id into them
    our_id = moto_requests.gen_amzn_requestid_long(ours)
    moto_id = moto_requests.moto_gen_amzn_requestid_long(motos)
    # Then the same header (and nothing else) is set, to the id returned
    assert ours == {"status": 200, "x-amzn-requestid": our_id}
    assert motos == {"status": 200, "x-amzn-requestid": moto_id}
    assert moto_requests.gen_amzn_requestid_long(None) != our_id


BODIES: list[Any] = [
    '{"QueueUrls": []}',
    "<X><RequestId>request-id</RequestId></X>",
    "<A><RequestId>one</RequestId><B/><RequestId>two</RequestId></A>",  # greedy: one span
    "<A><RequestId>\n</RequestId></A>",  # '.' does not cross a newline: left
    "<RequestId></RequestId>",
    b"<RequestId>bytes</RequestId>",
    None,
    "",
]


@pytest.mark.parametrize("body", BODIES)
def test_enriched_answers_are_moto_answers(body: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an answer's headers and body, and one request id for both
    monkeypatch.setattr(moto_responses, "gen_amzn_requestid_long", _fixed_id)
    # When localcloud's _enrich_response and moto's enrich them
    ours = moto_requests.enrich_response({"status": "400"}, body)
    motos = moto_requests.moto_enrich_response.__func__({"status": "400"}, body)
    # Then the headers and the body are the same
    assert ours == motos
    assert type(ours[1]) is type(motos[1])


def _fixed_id(headers: dict[str, Any] | None = None) -> str:
    if headers is not None:
        headers["x-amzn-requestid"] = "R" * 52
    return "R" * 52


def test_an_xml_answer_carries_its_header_request_id() -> None:
    # Given moto's STS (query protocol, XML) answered through localcloud's dispatch
    app = DomainDispatcherApplication(create_backend_app)

    def environ() -> dict[str, Any]:
        return EnvironBuilder(
            method="POST",
            base_url="http://127.0.0.1:4566",
            path="/",
            headers=[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Authorization", HEADERS[0].replace("/sqs/", "/sts/")),
            ],
            data="Action=GetCallerIdentity&Version=2011-06-15",
        ).get_environ()

    # When it is asked twice
    answers = []
    for _ in range(2):
        app_iter, status, headers = run_wsgi_app(
            lambda e, s: dispatch.answer(app.get_application(e), e, s), environ()
        )
        answers.append((status, headers.get("x-amzn-requestid"), b"".join(app_iter).decode()))
    # Then each carries a request id of moto's shape, the same in header and body, and new
    for status, request_id, body in answers:
        assert status.startswith("200")
        assert REQUEST_ID.fullmatch(request_id or "")
        assert f"<RequestId>{request_id}</RequestId>" in body
    assert answers[0][1] != answers[1][1]


# ------------------------------------------------------------------ JSON-protocol parameters
def _request(target: str, body: bytes, version: str = "1.0") -> BackendRequest:
    return BackendRequest(
        EnvironBuilder(
            method="POST",
            base_url="http://127.0.0.1:4566",
            path="/",
            headers=[
                ("X-Amz-Target", target),
                ("Content-Type", f"application/x-amz-json-{version}"),
            ],
            data=body,
        ).get_environ()
    )


def _reads(parse: Any, handler_class: type, target: str, body: bytes, version: str) -> Any:
    """What a parse_parameters sets, or the error it raises (type and text)."""
    request = _request(target, body, version)
    handler = handler_class()
    handler.headers = request.headers
    handler.querystring = {}
    handler.normalized_request = request
    handler.uri_match = {}
    try:
        parse(handler, request)
    except Exception as error:  # the error is what is compared
        return ("raised", type(error).__name__, str(error))
    return typed(handler.params)


SERVICES = {  # handler class, target prefix, JSON version
    "sqs": (SQSResponse, "AmazonSQS", "1.0"),
    "events": (EventsHandler, "AWSEvents", "1.1"),
    "logs": (LogsResponse, "Logs_20140328", "1.1"),
    "stepfunctions": (StepFunctionResponse, "AWSStepFunctions", "1.0"),
}

GOOD_AND_BAD: list[tuple[str, str, Any]] = [
    (
        "sqs",
        "SendMessage",
        {
            "QueueUrl": "http://q",
            "MessageBody": "{}",
            "DelaySeconds": 3,
            "MessageAttributes": {"k": {"DataType": "Binary", "BinaryValue": "AAE="}},
        },
    ),
    ("sqs", "SendMessage", {"QueueUrl": "q", "MessageBody": None, "Unknown": 1}),
    ("sqs", "SendMessage", {"QueueUrl": "q", "DelaySeconds": "7"}),  # a string: int("7")
    ("sqs", "SendMessage", {"QueueUrl": "q", "DelaySeconds": 2.9}),  # int(2.9) == 2
    ("sqs", "SendMessage", {"QueueUrl": "q", "DelaySeconds": "soon"}),  # int() refuses
    ("sqs", "SendMessage", {"QueueUrl": "q", "MessageAttributes": "not a map"}),
    ("sqs", "SendMessage", {"QueueUrl": "q", "MessageAttributes": {"k": {"BinaryValue": "!"}}}),
    ("sqs", "ReceiveMessage", {"QueueUrl": "q", "MaxNumberOfMessages": 10}),
    ("sqs", "ReceiveMessage", {"QueueUrl": "q", "MessageAttributeNames": "All"}),  # str: chars
    ("sqs", "ReceiveMessage", {"QueueUrl": "q", "AttributeNames": {"All": 1}}),  # dict: keys
    ("sqs", "DeleteMessageBatch", {"QueueUrl": "q", "Entries": [{"Id": "1"}, None, 5]}),
    ("sqs", "ListQueues", {}),
    ("sqs", "ListQueues", []),
    ("sqs", "ListQueues", None),
    ("sqs", "ListQueues", "text"),
    (
        "events",
        "PutEvents",
        {"Entries": [{"Source": "s", "Detail": "{}", "Time": 1700000000, "Resources": ["r"]}]},
    ),
    ("events", "PutEvents", {"Entries": [{"Time": "2026-12-02T08:00:00Z"}]}),
    ("events", "PutEvents", {"Entries": [{"Time": "yesterday"}]}),  # the timestamp refused
    ("events", "PutEvents", {"Entries": {"Source": "s"}}),
    ("events", "PutRule", {"Name": "r", "EventPattern": "{}", "Tags": [{"Key": "k"}]}),
    (
        "logs",
        "PutLogEvents",
        {"logGroupName": "g", "logEvents": [{"timestamp": 1, "message": "m"}]},
    ),
    ("logs", "PutLogEvents", {"logGroupName": "g", "logEvents": [{"timestamp": 1.5}]}),
    ("logs", "FilterLogEvents", {"logGroupName": "g", "startTime": "12", "limit": 5.0}),
    ("stepfunctions", "StartExecution", {"stateMachineArn": "a", "input": "{}", "name": "n"}),
    ("stepfunctions", "SendTaskSuccess", {"taskToken": "t", "output": {"not": "a string"}}),
    ("stepfunctions", "ListExecutions", {"stateMachineArn": "a", "maxResults": True}),
]


@pytest.mark.parametrize(("service", "operation", "params"), GOOD_AND_BAD)
def test_json_requests_read_as_moto_reads_them(service: str, operation: str, params: Any) -> None:
    # Given a JSON-protocol request, well or badly formed
    handler_class, prefix, version = SERVICES[service]
    body = json.dumps(params).encode()
    # When localcloud's parse_parameters and moto's read it
    ours = _reads(
        moto_requests.parse_parameters, handler_class, f"{prefix}.{operation}", body, version
    )
    motos = _reads(
        moto_requests.moto_parse_parameters, handler_class, f"{prefix}.{operation}", body, version
    )
    # Then both read the same parameters, value types included, or raise the same error
    assert ours == motos


@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe", b"[1]", b"null", b"5"])
def test_bodies_that_are_not_objects_read_as_moto_reads_them(body: bytes) -> None:
    # Given an SQS request whose body is empty, not JSON, not UTF-8 or not an object
    # When both read it, Then the same parameters or the same error
    ours = _reads(moto_requests.parse_parameters, SQSResponse, "AmazonSQS.ListQueues", body, "1.0")
    motos = _reads(
        moto_requests.moto_parse_parameters, SQSResponse, "AmazonSQS.ListQueues", body, "1.0"
    )
    assert ours == motos


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 10**12),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
        st.sampled_from(["AAE=", "2026-12-02T08:00:00Z", "1700000000", "x"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "QueueUrl",
                    "MessageBody",
                    "DelaySeconds",
                    "MessageAttributes",
                    "DataType",
                    "StringValue",
                    "BinaryValue",
                    "Entries",
                    "Id",
                    "Source",
                    "Detail",
                    "Time",
                    "Resources",
                    "EventBusName",
                    "MaxNumberOfMessages",
                    "AttributeNames",
                    "ReceiptHandle",
                    "Tags",
                    "Key",
                    "Value",
                    "other",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(
        [
            ("sqs", "SendMessage"),
            ("sqs", "SendMessageBatch"),
            ("sqs", "ReceiveMessage"),
            ("sqs", "DeleteMessageBatch"),
            ("events", "PutEvents"),
            ("events", "TagResource"),
        ]
    ),
    json_values,
)
def test_any_json_reads_as_moto_reads_it(call: tuple[str, str], params: Any) -> None:
    # Given any JSON body (names the shapes know, values of any type) for an operation
    service, operation = call
    handler_class, prefix, version = SERVICES[service]
    body = json.dumps(params).encode()
    # When both read it, Then the same parameters, value types included, or the same error
    target = f"{prefix}.{operation}"
    assert _reads(moto_requests.parse_parameters, handler_class, target, body, version) == _reads(
        moto_requests.moto_parse_parameters, handler_class, target, body, version
    )


def test_a_shape_that_contains_itself_reads_as_moto_reads_it() -> None:
    # Given DynamoDB's AttributeValue (a map of AttributeValues) nested, with a blob inside
    model = moto_responses.get_service_model("dynamodb").operation_model("PutItem")
    blob = base64.b64encode(b"\x00\x01").decode()
    item = {"pk": {"M": {"a": {"L": [{"B": blob}, {"M": {"n": {"N": "1"}}}]}}}}
    body = json.dumps({"TableName": "t", "Item": item}).encode()
    # When the compiled walk reads it, Then it reads what moto's JSONParser reads
    parser = moto_requests.moto_parse.JSONParser(model, map_type=dict)
    motos = parser.parse({"body": body})  # type: ignore[typeddict-item]
    walk = moto_requests.walk_of(model)
    assert walk is not None
    assert walk(json.loads(body)) == motos
    assert motos["Item"]["pk"]["M"]["a"]["L"][0]["B"] == b"\x00\x01"


# ------------------------------------------------------------------ a body that is not a form
MULTIPART = (
    b'--b\r\nContent-Disposition: form-data; name="key"\r\n\r\nv\r\n'
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\nfile body\r\n--b--\r\n"
)
BODIES_BY_TYPE: list[tuple[str | None, bytes]] = [
    ("application/x-amz-json-1.0", b'{"TableName": "t"}'),
    ("application/x-amz-json-1.1; charset=utf-8", b'{"a": 1}'),
    ("application/json", b"[1, 2]"),
    ("text/plain", b"Action=NotAForm&x=1"),
    (None, b"Action=NoContentType"),
    ("application/x-www-form-urlencoded", b"Action=SendMessage&MessageBody=hi+there"),
    ("multipart/form-data; boundary=b", MULTIPART),
    ("application/x-amz-json-1.0", b""),
]


def _backend_request(content_type: str | None, body: bytes) -> BackendRequest:
    headers = [] if content_type is None else [("Content-Type", content_type)]
    environ = EnvironBuilder(method="POST", path="/", headers=headers, data=body).get_environ()
    if content_type is None:
        environ.pop("CONTENT_TYPE", None)
    return BackendRequest(environ)


def _read(request: BackendRequest) -> Any:
    """What moto's setup_class reads of a request, and what is left to read after it."""
    return (
        request.data,
        type(request.form).__name__,
        request.form.to_dict(flat=False),
        type(request.files) is ImmutableMultiDict,  # Flask's debug subclass keeps the name
        {name: each.read() for name, each in request.files.items()},
        request.get_data(),
        request.stream.read(),
    )


@pytest.mark.parametrize(("content_type", "body"), BODIES_BY_TYPE)
def test_a_body_reads_as_werkzeug_reads_it(
    content_type: str | None, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same request read with localcloud's _load_form_data and with Flask's
    ours = _read(_backend_request(content_type, body))
    monkeypatch.setattr(BackendRequest, "_load_form_data", moto_requests.moto_load_form_data)
    theirs = _read(_backend_request(content_type, body))
    # Then the data, the form, the files and what the stream still holds are the same
    assert ours == theirs


def test_a_body_read_in_a_debug_app_context_reads_as_flask_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a Flask app in debug mode, whose request context swaps in its debug files dict
    import flask

    app = flask.Flask("debug")
    app.debug = True
    with app.app_context():
        ours = _read(_backend_request("application/x-amz-json-1.0", b"{}"))
        monkeypatch.setattr(BackendRequest, "_load_form_data", moto_requests.moto_load_form_data)
        theirs = _read(_backend_request("application/x-amz-json-1.0", b"{}"))
    # Then localcloud's leaves it to Flask: the same files dict class
    assert ours == theirs
    assert ours[3] is False


@pytest.mark.parametrize(("content_type", "body"), BODIES_BY_TYPE[:3])
def test_a_body_read_before_reads_as_werkzeug_reads_it(
    content_type: str | None, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a request whose body was already read (and cached) before moto reads it
    ours_request = _backend_request(content_type, body)
    ours_request.get_data()
    ours = _read(ours_request)
    monkeypatch.setattr(BackendRequest, "_load_form_data", moto_requests.moto_load_form_data)
    theirs_request = _backend_request(content_type, body)
    theirs_request.get_data()
    theirs = _read(theirs_request)
    # Then moto reads the same, and the stream left holds the same (the cached body again)
    assert ours == theirs


# ------------------------------------------------------------------ the URL and the headers
URLS: list[tuple[str, str, str, str]] = [  # base URL, script root, path, query
    ("http://127.0.0.1:4566", "", "/", ""),
    ("http://localhost:4566", "", "/2015-03-31/functions/f/invocations", ""),
    ("https://sqs.us-east-1.amazonaws.com", "", "/123456789012/q", "Action=X&b=%20c"),
    ("http://127.0.0.1", "/mounted app", "/a%2Fb/c d", "x=ü"),
    ("http://[::1]:8080", "/%E2%82%AC", "//double", ""),
    ("http://xn--bcher-kva.example", "", "/", "empty="),
]


def _url_request(base: str, root: str, path: str, query: str, raw_uri: bool) -> BackendRequest:
    environ = EnvironBuilder(
        method="GET", base_url=base + root, path=path, query_string=query
    ).get_environ()
    if raw_uri:  # werkzeug's server sets it; in-process requests may not
        environ["RAW_URI"] = path + ("?" + query if query else "")
    return BackendRequest(environ)


@pytest.mark.parametrize("raw_uri", [True, False])
@pytest.mark.parametrize(("base", "root", "path", "query"), URLS)
def test_a_request_url_is_moto_raw_url(
    base: str, root: str, path: str, query: str, raw_uri: bool
) -> None:
    # Given requests to several hosts, roots, paths and queries; asked twice (once kept)
    for _ in range(2):
        request = _url_request(base, root, path, query, raw_uri)
        # When localcloud's raw_url and moto's are read
        ours = request.raw_url
        theirs = moto_requests.moto_raw_url.fget(_url_request(base, root, path, query, raw_uri))
        # Then both are the same URL
        assert ours == theirs


def test_a_url_after_werkzeug_read_its_root_is_moto_raw_url() -> None:
    # Given a request whose root URL werkzeug already computed
    request = _url_request(*URLS[2], raw_uri=True)
    assert request.url_root
    # Then localcloud's raw_url is still moto's
    assert request.raw_url == moto_requests.moto_raw_url.fget(request)


def test_headers_are_named_as_moto_names_them() -> None:
    # Given a request with ordinary headers, and one with S3 metadata whose names keep their
    # underscores (moto's preserved names)
    plain = _backend_request("application/x-amz-json-1.0", b"{}")
    metadata = moto_request_module.Request.from_primitives(
        "PUT",
        "http://127.0.0.1:4566/bucket/key",
        {"x-amz-meta-my_key": "v", "X-Amz-Target": "t", "Content-Type": "text/plain"},
        b"body",
    )
    for request in (plain, metadata):
        # When localcloud's iteration and moto's list them
        ours = list(request.headers)
        theirs = list(moto_requests.moto_headers_iter(request.headers))
        # Then the same names and values, in the same order
        assert ours == theirs
        assert dict(request.headers) == dict(theirs)
    assert ("x-amz-meta-my_key", "v") in list(metadata.headers)


# ------------------------------------------------------------------ the action's method name
@pytest.mark.parametrize(
    "name",
    ["PutItem", "ReceiveMessage", "GetID", "DescribeDBInstances", "putEvents", "A", "", None],
)
def test_an_action_name_becomes_moto_method_name(name: str | None) -> None:
    # Given an action name; When localcloud's kept conversion and moto's convert it (twice)
    # Then both give the same method name
    for _ in range(2):
        assert moto_requests.camelcase_to_underscores(
            name
        ) == moto_requests.moto_camelcase_to_underscores(name)
    assert moto_responses.camelcase_to_underscores is moto_requests.camelcase_to_underscores
