"""Validate OpenAI API requests against a subset of OpenAI's OpenAPI description.

The subset is the JSON written by ``scripts/extract_openai_subset.py``: per operation
(``"POST /fine_tuning/jobs"``) the request body schema per content type and the parameters, plus the
``components.schemas`` those reference.  :class:`RequestValidator` turns the schemas
into JSON Schema 2020-12 (OpenAI's document is OpenAPI 3.1 but still uses several
OpenAPI 3.0 idioms, see :func:`normalize_schema`), validates with
:class:`jsonschema.Draft202012Validator` over a :class:`referencing.Registry`, and
words each problem the way OpenAI's API words its HTTP 400 answers::

    {"error": {"message": "Missing required parameter: 'model'.",
               "type": "invalid_request_error", "param": "model",
               "code": "missing_required_parameter"}}

``param`` uses OpenAI's notation (``messages[0].content``,
``method.supervised.hyperparameters.n_epochs``); the codes are the ones OpenAI's API
returns for schema violations (``missing_required_parameter``, ``unknown_parameter``,
``invalid_type``, ``invalid_value``, ``integer_below_min_value``,
``string_above_max_length``, ``empty_array`` ...).  OpenAI answers with one problem;
:meth:`RequestValidator.validate` returns all of them, most important first, so
``problems[0].to_error_body()`` is the answer to send.

Multipart forms and query strings arrive as text: :meth:`RequestValidator.parse_form`
and :meth:`RequestValidator.parse_query` rebuild nested values from bracketed keys
(``expires_after[anchor]``, ``metadata[key]``, ``ids[]``, which is how the ``openai``
client sends them) and coerce text to the types the schema asks for before validating.

The modules, by responsibility:

* :mod:`~ftsdk_emulator.openapi.schema`: OpenAPI 3.0 idioms normalized to JSON
  Schema, and the questions asked of the component schemas;
* :mod:`~ftsdk_emulator.openapi.paths`: concrete paths resolved to templates;
* :mod:`~ftsdk_emulator.openapi.decoding`: forms and query strings made JSON-like;
* :mod:`~ftsdk_emulator.openapi.problems`: schema errors worded as OpenAI words them;
* :mod:`~ftsdk_emulator.openapi.validator`: :class:`RequestValidator`, which ties
  them together.
"""

from __future__ import annotations

from ftsdk_emulator.openapi.decoding import FilePart, FormInput, QueryInput
from ftsdk_emulator.openapi.paths import PathMatch, match_path_template
from ftsdk_emulator.openapi.problems import ERROR_TYPE, Location, Problem
from ftsdk_emulator.openapi.schema import normalize_schema
from ftsdk_emulator.openapi.validator import (
    JSON_CONTENT_TYPE,
    MULTIPART_CONTENT_TYPE,
    RequestValidator,
    UnknownOperationError,
)

__all__ = [
    "ERROR_TYPE",
    "JSON_CONTENT_TYPE",
    "MULTIPART_CONTENT_TYPE",
    "FilePart",
    "FormInput",
    "Location",
    "PathMatch",
    "Problem",
    "QueryInput",
    "RequestValidator",
    "UnknownOperationError",
    "match_path_template",
    "normalize_schema",
]
