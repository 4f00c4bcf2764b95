"""``/fine_tuning/alpha/graders/run`` and ``/validate`` through the real ``openai`` client:
the emulator answers from ``ftsdk.graders``, so a grader scores the same there as locally,
and what the service refuses is refused (strict mode checks each request too)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ftsdk.graders import Multi, Python, StringCheck, TextSimilarity
from ftsdk_emulator import Emulator

EXACT = StringCheck(
    name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
)
CLOSE = TextSimilarity(
    name="close",
    input="{{sample.output_text}}",
    reference="{{item.answer}}",
    evaluation_metric="fuzzy_match",
)
GRADERS = {
    "string_check": EXACT,
    "text_similarity": CLOSE,
    "multi": Multi(
        name="answer",
        calculate_output="0.5 * exact + 0.5 * close",
        graders={"exact": EXACT, "close": CLOSE},
    ),
    "python": Python(
        name="length",
        source="def grade(sample, item):\n"
        "    return min(1.0, len(sample['output_text']) / len(item['answer']))\n",
    ),
}


@pytest.mark.parametrize("kind", sorted(GRADERS))
@pytest.mark.parametrize(
    ("sample", "item"),
    [("the seventh of March", {"answer": "the 7th of March"}), ("yes", {"answer": "yes"})],
)
def test_grader_run_scores_as_ftsdk_does_locally(
    openai_client: openai.OpenAI, kind: str, sample: str, item: dict[str, Any]
) -> None:
    grader = GRADERS[kind]
    answer = openai_client.fine_tuning.alpha.graders.run(
        grader=grader.to_api(),
        model_sample=sample,
        item=item,
    )
    local = grader.run(sample, item=item)
    assert answer.reward == pytest.approx(local.reward)
    assert answer.sub_rewards == pytest.approx(local.sub_rewards)
    assert answer.metadata.name == grader.name
    assert answer.metadata.type == kind
    assert not any(answer.metadata.errors.model_dump(exclude_none=True).values())


def test_grader_run_flags_a_missing_item_field(openai_client: openai.OpenAI) -> None:
    answer = openai_client.fine_tuning.alpha.graders.run(
        grader=EXACT.to_api(),
        model_sample="yes",
        item={"label": "yes"},
    )
    assert answer.reward == 0
    assert answer.metadata.errors.invalid_variable_error


def test_grader_validate(openai_client: openai.OpenAI, emulator: Emulator) -> None:
    multi = GRADERS["multi"]
    checked = openai_client.fine_tuning.alpha.graders.validate(grader=multi.to_api())
    assert checked.grader is not None
    assert checked.grader.model_dump(exclude_none=True) == multi.to_api()
    cosine = CLOSE.model_copy(update={"evaluation_metric": "cosine"})
    with pytest.raises(openai.BadRequestError, match="cosine"):
        openai_client.fine_tuning.alpha.graders.validate(grader=cosine.to_api())
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.fine_tuning.alpha.graders.validate(grader={"type": "nope", "name": "x"})
    assert caught.value.status_code == 400
    assert emulator.config.strict
