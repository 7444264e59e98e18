"""GET /v1/health: is the API up, and which stage answers."""

from __future__ import annotations

from shop_shared.coldstart import init_done

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, Field

from shop_shared.http import create_resolver
from shop_shared.observability import logger, tracer
from shop_shared.settings import EnvSettings, load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class HealthSettings(EnvSettings):
    stage: str = Field(alias="STAGE", min_length=1)


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    service: Literal["shop"] = "shop"
    stage: str
    time: datetime


settings = load_settings(HealthSettings)
app = create_resolver()


@app.get("/health")
def get_health() -> HealthResponse:
    return HealthResponse(stage=settings.stage, time=datetime.now(UTC))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
