"""The search space of a sweep: the method's hyperparameters, as Optuna distributions.

A value is an Optuna distribution, a list of choices, or text (what ``ftsdk sweep --param``
takes)::

    "1e-4..1e-2 log"    a float range, sampled on a log scale    (FloatDistribution, log)
    "1..4"              an integer range                          (IntDistribution)
    "0.0..0.3"          a float range                             (FloatDistribution)
    "1,2,3"             choices                                    (CategoricalDistribution)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ftsdk.errors import InvalidRequest
from ftsdk.spec import JobSpec

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["distribution", "space_of", "with_params"]

PROVIDER = "provider"
"""The parameter that picks the provider when a sweep has several."""


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def distribution(name: str, value: Any) -> BaseDistribution:
    """The Optuna distribution ``value`` describes (see the module's grammar).

    >>> distribution("learning_rate", "1e-4..1e-2 log")
    FloatDistribution(high=0.01, log=True, low=0.0001, step=None)
    >>> distribution("epochs", "1,2,3")
    CategoricalDistribution(choices=(1, 2, 3))

    :raises InvalidRequest: text that is not a range or choices, naming the parameter.
    """
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(value, BaseDistribution):
        return value
    if isinstance(value, list | tuple):
        if not value:
            raise InvalidRequest(f"space.{name}: no choices", field=f"space.{name}")
        return CategoricalDistribution(tuple(value))
    text = str(value).strip()
    log = text.endswith(("log", ":log"))
    body = text.removesuffix(":log").removesuffix("log").strip()
    try:
        if ".." in body:
            low, high = (_number(part.strip()) for part in body.split("..", 1))
            if isinstance(low, int) and isinstance(high, int):
                return IntDistribution(low, high, log=log)
            if isinstance(low, str) or isinstance(high, str):
                raise ValueError("a range of numbers")
            return FloatDistribution(float(low), float(high), log=log)
        if log:
            raise ValueError("log applies to a range")
        return CategoricalDistribution(tuple(_number(part.strip()) for part in body.split(",")))
    except ValueError as err:
        raise InvalidRequest(
            f"space.{name}: {text!r} is not a range (1e-4..1e-2 log, 1..4) or choices "
            f"(1,2,3): {err}",
            field=f"space.{name}",
        ) from None


def space_of(space: Mapping[str, Any], spec: JobSpec) -> dict[str, BaseDistribution]:
    """``space`` as Optuna distributions, each name a hyperparameter of ``spec``'s method.

    :raises InvalidRequest: an empty space, a name the method does not have (listing those
        it has), a value that is not a range or choices.
    """
    if not space:
        raise InvalidRequest("space: give at least one hyperparameter to search", field="space")
    known = set(type(spec.method).model_fields) - {"type"}
    for name in space:
        if name not in known:
            raise InvalidRequest(
                f"space.{name}: not a hyperparameter of {spec.method.type}; these are: "
                f"{', '.join(sorted(known))}",
                field=f"space.{name}",
            )
    found = {name: distribution(name, value) for name, value in space.items()}
    for name, dist in found.items():  # every end of the space a method the spec takes
        for value in _ends(dist):
            try:
                with_params(spec, {name: value})
            except InvalidRequest as err:
                raise InvalidRequest(
                    f"space.{name}: {value!r} does not fit: {err.message}", field=f"space.{name}"
                ) from None
    return found


def _ends(dist: BaseDistribution) -> list[Any]:
    """The values that bound ``dist``: its choices, or the ends of its range."""
    choices = getattr(dist, "choices", None)
    if choices is not None:
        return list(choices)
    return [getattr(dist, "low", None), getattr(dist, "high", None)]


def with_params(spec: JobSpec, params: Mapping[str, Any]) -> JobSpec:
    """``spec`` with its method's hyperparameters set to ``params`` (the provider, when one
    is among them, is left out: it picks the client, not a field)."""
    values = {k: v for k, v in params.items() if k != PROVIDER}
    method = spec.method.model_dump(exclude_unset=True) | {"type": spec.method.type} | values
    return spec.model_copy(update={"method": type(spec.method)(**method)})
