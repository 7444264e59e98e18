"""The base of the shop's pydantic models: each builds its validator on first use.

pydantic builds a model's core schema when the class is defined; a module of 20 models costs
tens of milliseconds of every cold start that imports it, though a function validates or dumps
only a few of them. With `defer_build` the schema is built the first time the model is used
(validate, dump, JSON schema), once per process, and never for the models a function does not
use. Subclasses' own `model_config` merges with this one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ShopModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
