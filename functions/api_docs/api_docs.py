"""GET /v1/openapi.json and GET /v1/docs: the whole API's OpenAPI document, and Swagger UI on it.

Each API function documents only its own routes (one resolver per function), so the whole
document is assembled by `make openapi` (tools/openapi.py) from every API function of
template.yaml and committed beside this module as openapi.json; this function serves that file
as it is. Swagger UI is Powertools' own page with its bundled script and styles, so it works
offline (localcloud) too.
"""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop_shared.http import create_resolver
from shop_shared.observability import logger, tracer

DOCUMENT = Path(__file__).with_name("openapi.json")
SWAGGER_ASSETS = Path(swagger_ui.__file__).parent
CACHE_CONTROL = "max-age=300"  # the document changes with a deployment, not between requests

app = create_resolver()


@cache
def document_text() -> str:
    """The committed document, read on first use (so the generator can import this module
    before the document exists)."""
    return DOCUMENT.read_text(encoding="utf-8")


@cache
def swagger_page() -> str:
    spec = document_text().replace("</", "<\\/")  # no `</script>` can end the script early
    return generate_swagger_html(
        spec,
        (SWAGGER_ASSETS / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (SWAGGER_ASSETS / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
        False,  # persistAuthorization: a pasted token is not kept in localStorage
    )


@app.get(
    "/openapi.json",
    cache_control=CACHE_CONTROL,
    summary="The OpenAPI document of the whole API",
    responses={
        200: {
            "description": "The OpenAPI 3.1 document",
            "content": {content_types.APPLICATION_JSON: {"schema": {"type": "object"}}},
        }
    },
)
@tracer.capture_method(capture_response=False)
def openapi_document() -> Response[str]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=document_text()
    )


@app.get(
    "/docs",
    cache_control=CACHE_CONTROL,
    summary="Swagger UI for the whole API",
    responses={
        200: {
            "description": "An HTML page",
            "content": {content_types.TEXT_HTML: {"schema": {"type": "string"}}},
        }
    },
)
@tracer.capture_method(capture_response=False)
def docs_page() -> Response[str]:
    return Response(status_code=200, content_type=content_types.TEXT_HTML, body=swagger_page())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
