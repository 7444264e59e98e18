"""Cognito Pre Token Generation trigger (V1): drops `admin` from the ID token's groups unless
the user signs in with TOTP MFA (identity.admin_mfa)."""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PreTokenGenerationTriggerEvent,
)

from identity.admin_mfa import CognitoMfaDirectory, groups_for_token
from shop_shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

directory = CognitoMfaDirectory()  # its client is made by the first admin's token


@logger.inject_lambda_context
@event_source(data_class=PreTokenGenerationTriggerEvent)
def handler(event: PreTokenGenerationTriggerEvent, context: LambdaContext) -> dict[str, Any]:
    groups = groups_for_token(
        event.trigger_source,
        event.user_pool_id,
        event.user_name,
        event.request.group_configuration.groups_to_override,
        directory,
    )
    if groups is not None:
        event.response.claims_override_details.set_group_configuration_groups_to_override(groups)
        logger.info("admin group withheld: no TOTP MFA", extra={"source": event.trigger_source})
    return event.raw_event


init_done()  # the last statement: see shop_shared.coldstart
