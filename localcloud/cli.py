"""`localcloud run | token | invoke | env-vars`: the offline counterpart of sam local."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.heap import freeze_survivors

if TYPE_CHECKING:
    from localcloud.lambda_.concurrency import ConcurrencySettings
    from localcloud.stepfunctions.express import StepFunctionsSettings

DEFAULT_AWS_URL = "http://127.0.0.1:4566"
DEFAULT_LOGS_DIR = Path(".localcloud/logs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole template in the foreground")
    run.add_argument("--template", type=Path, default=Path("template.yaml"))
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--api-port", type=int, default=3000)
    run.add_argument("--aws-port", type=int, default=4566)
    run.add_argument("--provider-port", type=int, default=4567)
    run.add_argument("--stack-name", default="shop")
    run.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, like sam deploy's",
    )
    run.add_argument(
        "--payment-provider-api-key",
        metavar="KEY",
        help="put into the provider's secret when PaymentProviderBaseUrl is given "
        "(default: the key of localcloud's own simulator)",
    )
    run.add_argument("--seed", type=Path, help="requests to send through the API once ready")
    run.add_argument(
        "--no-iam",
        dest="iam",
        action="store_false",
        help="do not enforce the template's IAM roles (on by default, as on AWS)",
    )
    run.add_argument("--log-level", default="INFO")
    run.add_argument(
        "--faults",
        type=Path,
        metavar="FILE",
        help="fault rules to inject from the start (JSON list; see /_localcloud/faults)",
    )
    run.add_argument(
        "--faults-seed", type=int, help="seed the faults' dice, so a run can be repeated"
    )
    run.add_argument(
        "--lambda-concurrency",
        type=int,
        metavar="N",
        help="Lambda's account concurrency limit (default: 100 per CPU core); past it an "
        "invocation is throttled (429 TooManyRequestsException)",
    )
    run.add_argument(
        "--lambda-concurrent-inits",
        type=int,
        metavar="N",
        help="cold starts initialising at once (default: one per CPU core)",
    )
    run.add_argument(
        "--lambda-running-limit",
        type=int,
        metavar="N",
        help="invocations executing at once; others queue for a slot before their timeout "
        "starts (default: 3 per CPU core)",
    )
    run.add_argument(
        "--alarm-period-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="CloudWatch alarm periods times X (default 1: real periods; tests use e.g. 0.05, "
        "so a 60 s period lasts 3 s)",
    )
    run.add_argument(
        "--waf-window-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="AWS WAF rate-based rules' evaluation windows times X (default 1; tests use e.g. "
        "0.05, so a 60 s window lasts 3 s)",
    )
    run.add_argument(
        "--express-max-duration",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="an EXPRESS state machine execution ends TIMED_OUT after this long (default 300, "
        "Step Functions' cap; tests shorten it)",
    )
    run.add_argument(
        "--ready-file", type=Path, help="write the URLs here as JSON once ready (for tests)"
    )
    run.add_argument(
        "--feed",
        action="store_true",
        help="print a compact live feed (order status changes, alarms, errors); every log "
        "line goes to files under --logs-dir (make run)",
    )
    run.add_argument(
        "--xray-port",
        type=int,
        default=2000,
        metavar="PORT",
        help="the X-Ray daemon's UDP port, given to functions as AWS_XRAY_DAEMON_ADDRESS "
        "(default 2000, as on AWS; 0: a free port)",
    )
    run.add_argument(
        "--logs-dir",
        type=Path,
        default=DEFAULT_LOGS_DIR,
        help=f"one log file per function here (default {DEFAULT_LOGS_DIR})",
    )

    token = commands.add_parser("token", help="print an ID token for a user (created on first use)")
    token.add_argument("username")
    token.add_argument("--admin", action="store_true", help="in the admin group")
    token.add_argument("--aws-url", default=DEFAULT_AWS_URL)

    invoke = commands.add_parser("invoke", help="invoke one function, like sam local invoke")
    invoke.add_argument("function", help="logical id, e.g. HealthFunction")
    invoke.add_argument("-e", "--event", type=Path, help="event JSON file (default: {})")
    invoke.add_argument("--aws-url", default=DEFAULT_AWS_URL)

    logs = commands.add_parser(
        "logs", help="the functions' log lines, or one order's whole story (--order)"
    )
    logs.add_argument("--order", metavar="ORDER_ID", help="every line, event, step and email")
    logs.add_argument("--function", metavar="NAME", help="one function's lines, e.g. PlaceOrder")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--json", action="store_true", help="--order: the story as JSON")
    logs.add_argument("--logs-dir", type=Path, default=DEFAULT_LOGS_DIR)
    logs.add_argument("--aws-url", default=DEFAULT_AWS_URL)

    env_vars = commands.add_parser(
        "env-vars", help="print an env.json for `sam local invoke --env-vars` against localcloud"
    )
    env_vars.add_argument("--aws-url", default=DEFAULT_AWS_URL)
    env_vars.add_argument(
        "--endpoint-for-containers",
        default="http://host.docker.internal:4566",
        help="AWS_ENDPOINT_URL as seen from sam local's containers",
    )

    args = parser.parse_args(argv)
    handlers = {
        "run": _run,
        "token": _token,
        "invoke": _invoke,
        "logs": _logs,
        "env-vars": _env_vars,
    }
    try:
        return handlers[args.command](args)
    except (urllib.error.URLError, ConnectionError) as error:
        print(
            f"localcloud is not reachable at {getattr(args, 'aws_url', '?')}: {error}",
            file=sys.stderr,
        )
        return 2


def _run(args: argparse.Namespace) -> int:
    from localcloud.cloud import LocalCloud, LocalCloudSettings
    from localcloud.faults.api import load_rules
    from localcloud.seed import seed

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto: a line per AWS call
    if args.feed:  # the terminal gets the feed; every log line goes to files
        from localcloud.logs.feed import log_to_file

        log_to_file(args.logs_dir / "localcloud.log", args.log_level)
    else:
        logging.basicConfig(
            level=args.log_level.upper(),
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    overrides = dict(item.split("=", 1) for item in args.parameter_overrides)
    fault_rules = load_rules(args.faults) if args.faults else []
    settings = LocalCloudSettings(
        template=args.template,
        host=args.host,
        api_port=args.api_port,
        aws_port=args.aws_port,
        provider_port=args.provider_port,
        stack_name=args.stack_name,
        parameter_overrides=overrides,
        payment_provider_api_key=args.payment_provider_api_key,
        fault_rules=fault_rules,
        faults_seed=args.faults_seed,
        lambda_concurrency=_lambda_concurrency(args),
        alarm_period_scale=args.alarm_period_scale,
        waf_window_scale=args.waf_window_scale,
        step_functions=_step_functions(args),
        iam=args.iam,
        xray_port=args.xray_port,
        logs_dir=args.logs_dir,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cloud = LocalCloud(settings)
    if args.feed:
        from localcloud.logs.feed import Feed

        feed = Feed()
        feed.attach(cloud.logbook)
    with cloud:
        if args.feed:
            feed.learn_business_errors(cloud.aws_url)
        if args.seed:
            seed(cloud, args.seed)
        # What start-up made (moto's models, parsed templates and definitions, modules) lives
        # as long as this process: out of the collector's way, a full collection during a
        # 40-order burst took 0.08 s of CPU instead of 0.43 s. So does what each later full
        # collection leaves (localcloud.heap).
        gc.collect()
        gc.freeze()
        freeze_survivors()
        if args.ready_file:
            urls = {"apiUrl": cloud.api_url, "awsUrl": cloud.aws_url}
            partial = args.ready_file.with_suffix(".partial")
            partial.write_text(json.dumps(urls))
            partial.replace(args.ready_file)
        print(f"localcloud ready in {cloud.ready_after:.2f}s", flush=True)
        print(f"  API            {cloud.api_url}   (try {cloud.api_url}/health)", flush=True)
        print(
            f"  AWS endpoint   {cloud.aws_url}   (aws --endpoint-url {cloud.aws_url} ...)",
            flush=True,
        )
        print(f"  console        {cloud.console_url}   (orders, sagas, queues, alarms)", flush=True)
        print(f"  payment sim    {cloud.provider.base_url if cloud.provider else '-'}", flush=True)
        print("  token          .venv/bin/localcloud token alice [--admin]", flush=True)
        print(
            f"  logs           {args.logs_dir}/<Function>.log   (localcloud logs --follow, "
            "localcloud logs --order <id>)",
            flush=True,
        )
        print("Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _step_functions(args: argparse.Namespace) -> StepFunctionsSettings:
    from localcloud.stepfunctions.express import StepFunctionsSettings

    return StepFunctionsSettings(express_max_duration_seconds=args.express_max_duration)


def _lambda_concurrency(args: argparse.Namespace) -> ConcurrencySettings:
    from localcloud.lambda_.concurrency import ConcurrencySettings

    given = {
        "account_limit": args.lambda_concurrency,
        "concurrent_inits": args.lambda_concurrent_inits,
        "running_limit": args.lambda_running_limit,
    }
    return ConcurrencySettings(**{name: n for name, n in given.items() if n is not None})


def _status(aws_url: str) -> dict[str, Any]:
    from localcloud.cloud import read_status

    status = dict(read_status(aws_url))
    if not status.get("ready"):
        raise ConnectionError("localcloud is still starting")
    return status


def _token(args: argparse.Namespace) -> int:
    from localcloud.awsclients import AwsClients
    from localcloud.cognito.tokens import issue_id_token

    pool = _status(args.aws_url)["userPools"][0]
    token = issue_id_token(
        AwsClients(args.aws_url).cognito,
        pool["id"],
        pool["tokenClientId"],
        args.username,
        admin=args.admin,
    )
    print(token)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from localcloud.awsclients import LOCAL_CREDENTIALS
    from localcloud.spec import REGION

    payload = args.event.read_bytes() if args.event else b"{}"
    url = f"{args.aws_url}/2015-03-31/functions/{args.function}/invocations"
    signed = AWSRequest(
        method="POST", url=url, data=payload, headers={"Content-Type": "application/json"}
    )
    # Signed as localcloud's admin, like `aws lambda invoke` with your own credentials.
    credentials = Credentials(
        LOCAL_CREDENTIALS["aws_access_key_id"], LOCAL_CREDENTIALS["aws_secret_access_key"]
    )
    SigV4Auth(credentials, "lambda", REGION).add_auth(signed)
    request = urllib.request.Request(
        url, data=payload, method="POST", headers=dict(signed.headers.items())
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            body = response.read()
            failed = response.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as error:
        print(error.read().decode(errors="replace"), file=sys.stderr)
        return 1
    print(_pretty(body))
    return 1 if failed else 0


def _logs(args: argparse.Namespace) -> int:
    from localcloud.logs import reader

    if args.order:
        story = reader.fetch_story(args.aws_url, args.order)
        if story is None:
            print(f"nothing is known of order {args.order}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(story, indent=2))
            return 0
        for entry in story["entries"]:
            print(reader.format_story_entry(entry))
        if story["traceIds"]:
            print(f"traces: {' '.join(story['traceIds'])}")
        return 0
    if not args.logs_dir.is_dir():
        print(f"no logs in {args.logs_dir} (is localcloud running here?)", file=sys.stderr)
        return 1
    if args.follow:
        with contextlib.suppress(KeyboardInterrupt):
            reader.follow(
                args.logs_dir,
                args.function,
                lambda line: print(reader.format_file_line(line), flush=True),
            )
        return 0
    for line in reader.read_files(args.logs_dir, args.function):
        print(reader.format_file_line(line))
    return 0


def _env_vars(args: argparse.Namespace) -> int:
    environments = _status(args.aws_url)["environments"]
    document = {
        name: {**variables, "AWS_ENDPOINT_URL": args.endpoint_for_containers}
        for name, variables in environments.items()
    }
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0


def _pretty(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2)
    except json.JSONDecodeError:
        return body.decode(errors="replace")


if __name__ == "__main__":
    sys.exit(main())
