"""Settings are a validated pydantic model read from the environment once per cold start."""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

SettingsT = TypeVar("SettingsT", bound="EnvSettings")


class EnvSettings(BaseModel):
    """Base for a function's settings: fields are aliased to their environment variable."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def load_settings(model: type[SettingsT]) -> SettingsT:
    """Validate the environment against `model`; a missing variable fails at start-up."""
    return model.model_validate(dict(os.environ))
