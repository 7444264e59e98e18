"""The AWS endpoint (default 127.0.0.1:4566): moto's server app, with Lambda's Invoke API
routed to localcloud's workers, plus a small `/_localcloud/*` API for status and tests.

moto runs Lambda code only in Docker, so `POST /2015-03-31/functions/<name>/invocations`
(boto3's `lambda.invoke`, the aws CLI, and Step Functions' Lambda tasks) is answered here by
the worker processes instead. Everything else is moto's, once IAM's gate (`authorize`, set by
localcloud.iam) has let the request through and no fault rule (localcloud.faults) answered it
instead; which AWS call a request is, both ask localcloud.endpoint.calls. A service another
process serves (DynamoDB's, localcloud.dynamodb.process) is forwarded there before any of
that, and judged there the same way.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from localcloud import moto_actions
from localcloud.billing.meter import merge_snapshot
from localcloud.endpoint import dispatch as moto_dispatch
from localcloud.endpoint.answers import json_response
from localcloud.endpoint.calls import AwsCall, error_response, function_name, identify, peek_body
from localcloud.endpoint.inprocess import serve_in_process, stop_serving_in_process
from localcloud.endpoint.keepalive import KeepAliveRequestHandler, close_connections
from localcloud.faults import api as faults_api
from localcloud.faults.api import FAULT_DRAW_PATH
from localcloud.faults.rules import FaultRegistry
from localcloud.lambda_.concurrency import TooManyRequestsException
from localcloud.sns.delivery import CONFIRM_PATH, confirm_from_url, delivered_messages
from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from localcloud.billing.meter import Meter
    from localcloud.lambda_.runtime import LambdaRuntime

log = logging.getLogger("localcloud.aws")

StatusProvider = Callable[[], dict[str, Any]]
# More /_localcloud/* routes (localcloud.xray, localcloud.logs): a response, or None to pass.
LocalRoute = Callable[[Request], Response | None]


def sent_emails() -> list[dict[str, Any]]:
    """What SES (moto) has sent, like LocalStack's /_aws/ses: for tests and curious humans."""
    from moto.ses.models import ses_backends

    backend = ses_backends[ACCOUNT_ID][REGION]
    return [
        {
            "id": message.id,
            "source": message.source,
            "destinations": message.destinations,
            "subject": getattr(message, "subject", None),
            "body": getattr(message, "body", None),
        }
        for message in backend.sent_messages
    ]


class AwsEndpoint:
    """moto in server mode, in a thread of this process, with Step Functions execution on."""

    def __init__(
        self,
        runtime: LambdaRuntime | None,
        status: StatusProvider,
        faults: FaultRegistry | None = None,
    ) -> None:
        self.runtime = runtime
        self.status = status
        self.faults = faults or FaultRegistry()
        # IAM's gate (localcloud.iam): None to let the request on, or the refusal to answer.
        self.authorize: Callable[[dict[str, Any]], Response | None] | None = None
        self.local_routes: list[LocalRoute] = []
        # localcloud.billing's meter: counts what each call would be billed for on AWS.
        self.meter: Meter | None = None
        # Services another process serves (localcloud.dynamodb.process): endpoint prefix ->
        # the app that forwards the request there (localcloud.endpoint.proxy), and the
        # endpoints whose meters count those calls.
        self.forwarded: dict[str, Callable[..., Iterable[bytes]]] = {}
        self.remote_meters: list[str] = []
        # moto's own switch (MOTO_DISABLE_GLOBAL_CORS, read when an app is made): no flask_cors
        # headers on every AWS answer. Nothing here calls AWS from a web page: the console is
        # on this origin, and the APIs' CORS is API Gateway's, on its own servers.
        werkzeug_app.DISABLE_GLOBAL_CORS = True
        moto_actions.install()  # moto's call_action without inspect.getmembers per request
        self._moto = _Dispatcher(create_backend_app)
        self._dynamodb_lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "serve() first"
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, host: str, port: int) -> None:
        self._server = make_server(
            host, port, self.wsgi_app, threaded=True, request_handler=KeepAliveRequestHandler
        )
        # moto's Step Functions interpreter calls Lambda at http://localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localcloud-aws", daemon=True
        )
        self._thread.start()
        serve_in_process(self.port, self.wsgi_app)  # localcloud's own calls skip the HTTP hop

    def close(self) -> None:
        if self._server is not None:
            stop_serving_in_process(self.port)
            self._server.shutdown()
            self._server.server_close()
            close_connections(self._server)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wsgi_app(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(("/_localcloud/", "/_console/")) or path == "/_console":
            # localcloud's own routes, and its console (localcloud.console, in local_routes)
            return self._local_api(Request(environ))(environ, start_response)
        call = identify(environ)
        if call is not None and call.service in self.forwarded:  # judged where it is served
            return self.forwarded[call.service](environ, start_response)
        if self.authorize is not None and (refusal := self.authorize(environ)) is not None:
            return refusal(environ, start_response)
        if call is not None and call.service == "lambda":  # Lambda's faults are the runtime's
            name = function_name(path)
            if call.operation == "Invoke" and name is not None:
                return self._invoke(Request(environ), name)(environ, start_response)
        elif call is not None:
            refusal = self._inject_fault(call, environ)
            if refusal is not None:
                return refusal(environ, start_response)
        return self._forward(environ, start_response, call)

    def _inject_fault(self, call: AwsCall, environ: dict[str, Any]) -> Response | None:
        """Apply the fault rule that fires for this call: an error answered instead of the
        call, latency before it, or (EventBridge PutEvents) the call applied twice."""
        duplicable = call.service == "events" and call.operation == "PutEvents"
        actions = {"error", "latency", "duplicate"} if duplicable else {"error", "latency"}
        rule = self.faults.draw(call.service, call.operation, actions=actions)
        if rule is None:
            return None
        log.info("fault injected", extra={"call": call.name, "fault": rule.kind})
        if rule.latency:
            time.sleep(rule.latency / 1000)
        if rule.kind_action == "error" and rule.error is not None:
            error = rule.error
            return error_response(call, error.status_code, error.code, error.message)
        if rule.kind_action == "duplicate":
            body = peek_body(environ)
            first = {**environ, "wsgi.input": io.BytesIO(body)}
            list(self._forward(first, lambda *_args, **_kwargs: None))
        return None

    def _forward(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        call: AwsCall | None = None,
    ) -> Iterable[bytes]:
        """Let moto answer (metered, when it is an AWS call and a meter is set)."""
        moto: Callable[..., Iterable[bytes]] = self._moto
        if call is not None and self.meter is not None:
            moto = self.meter.wrap(call, self._moto)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            # DynamoDB makes each request atomic (a conditional write, a transaction); moto's
            # backend is not thread-safe, so one DynamoDB request at a time, answered in full.
            with self._dynamodb_lock:
                return list(moto(environ, start_response))
        return moto(environ, start_response)

    def _invoke(self, request: Request, name: str) -> Response:
        runtime = self.runtime
        if runtime is None:
            return json_response(503, {"Type": "Service", "Message": "localcloud is starting"})
        try:
            runtime.function(name)
        except KeyError:
            return json_response(
                404,
                {"Type": "User", "Message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        payload = request.get_data() or b"{}"
        if request.headers.get("X-Amz-Invocation-Type") == "Event":
            runtime.invoke_async(name, payload)  # queued; a throttled one is retried
            return Response(status=202)
        if request.headers.get("X-Amz-Invocation-Type") == "DryRun":
            return Response(status=204)
        try:
            result = runtime.invoke(
                name,
                payload,
                client_context=request.headers.get("X-Amz-Client-Context"),
                nested=_from_a_function(request),
                # botocore forwards a function's _X_AMZN_TRACE_ID; Step Functions its own.
                trace_header=request.headers.get("X-Amzn-Trace-Id"),
            )
        except TooManyRequestsException as throttled:  # Invoke's 429, before the function ran
            return json_response(
                throttled.status, throttled.body(), {"x-amzn-ErrorType": throttled.error_type}
            )
        headers = {
            "X-Amz-Executed-Version": "$LATEST",
            # localcloud's own, for benchmarks: was this a cold start, how long it took.
            "X-Localcloud-Cold-Start": str(result.cold_start).lower(),
            "X-Localcloud-Duration-Ms": f"{result.duration_ms:.2f}",
        }
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        return Response(result.payload, status=200, headers=headers, mimetype="application/json")

    def _local_api(self, request: Request) -> Response:
        path = request.path
        if path == "/_localcloud/faults":
            status, body = faults_api.handle(self.faults, request.method, request.get_data())
            return json_response(status, body)
        if path == "/_localcloud/status":
            return json_response(200, self.status())
        if path == FAULT_DRAW_PATH and request.method == "POST":
            return json_response(200, faults_api.draw(self.faults, request.get_data()))
        if path == "/_localcloud/billing" and self.meter is not None:
            # GET: what this run would be billed for on AWS; POST .../reset: count anew.
            snapshot = self.meter.snapshot()
            for url in self.remote_meters:
                merge_snapshot(snapshot, _get_json(f"{url}/_localcloud/billing"))
            return json_response(200, snapshot)
        if path == "/_localcloud/billing/reset" and request.method == "POST" and self.meter:
            self.meter.reset()
            for url in self.remote_meters:
                _get_json(f"{url}/_localcloud/billing/reset", method="POST")
            return json_response(200, {"reset": True})
        if path == "/_localcloud/ses/messages":
            return json_response(200, {"messages": sent_emails()})
        if path == "/_localcloud/sns/messages":  # emails and HTTP deliveries of SNS topics
            return json_response(200, {"messages": delivered_messages()})
        if path == CONFIRM_PATH:  # an SNS SubscribeURL: confirms the subscription
            args = request.args
            status, body = confirm_from_url(args.get("TopicArn", ""), args.get("Token", ""))
            return json_response(status, body)
        for route in self.local_routes:
            answer = route(request)
            if answer is not None:
                return answer
        return json_response(404, {"message": "No such localcloud route", "code": "NOT_FOUND"})


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend answers a host: moto's own lists its
    ~150 service folders from disk and tries every service's URL patterns on each request,
    under a lock every request takes (a twelfth of localcloud's CPU in a burst)."""

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backend_for_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_for_host[host]
        except KeyError:
            backend = self._backend_for_host[host] = super().get_backend_for_host(host)
            return backend

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return moto_dispatch.answer(self.get_application(environ), environ, start_response)


def _get_json(url: str, method: str = "GET") -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as answer:
        return json.loads(answer.read())


def _from_a_function(request: Request) -> bool:
    """Sent by a Lambda function's SDK (botocore puts AWS_EXECUTION_ENV in the User-Agent):
    its caller waits for it (see localcloud.lambda_.concurrency)."""
    return "exec-env/AWS_Lambda_" in request.headers.get("User-Agent", "")
