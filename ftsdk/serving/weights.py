"""Where a model's weights are on this machine: what the serving engines and GGUF export read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ftsdk.errors import InvalidRequest
from ftsdk.jobdir import local_folder

if TYPE_CHECKING:
    from ftsdk.models import AsyncModel, Model

__all__ = ["local_weights"]


def local_weights(model: Model | AsyncModel) -> Path:
    """The folder (or ``.gguf`` file) of ``model``'s weights on this machine.

    :raises InvalidRequest: the model has none here (a hosted model).
    """
    if model.info.path is not None:
        return model.info.path
    found = local_folder(model.id)
    if found is not None:
        return found.resolve()
    path = Path(model.id).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path.resolve()
    raise InvalidRequest(
        f"{model.id} ({model.provider}) has no weights on this machine, which the serving "
        "engines need: give a model or adapter folder (`ftsdk models list -p trl` shows "
        "them), or serve it with --engine transformers",
        field="model",
        provider=model.provider,
    )
