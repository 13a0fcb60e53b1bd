"""Every model there is: the built-in registry's and the ones the user added, looked up by
id. Above both registry.py and user_models.py, so neither needs the other."""
from __future__ import annotations

from photoforge.engine.registry import BUILT_IN_BY_ID, MODELS, ModelDescriptor, UnknownModelError
from photoforge.engine.user_models import load_user_models


def all_models() -> list[ModelDescriptor]:
    """The built-in models, then the ones the user added."""
    return [*MODELS, *load_user_models()]


def get_model(model_id: str) -> ModelDescriptor:
    if model_id in BUILT_IN_BY_ID:
        return BUILT_IN_BY_ID[model_id]
    found = {m.id: m for m in all_models()}
    if model_id in found:
        return found[model_id]
    known = ", ".join(sorted(found))
    raise UnknownModelError(f"unknown model '{model_id}'; known models: {known}")


def models_for(task: str) -> list[ModelDescriptor]:
    return [m for m in all_models() if m.task == task]
