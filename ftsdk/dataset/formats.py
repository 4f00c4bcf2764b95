"""The shapes of training examples: detect which one an example is, check it field by field,
and convert between the shapes that convert.

Chat (OpenAI's chat fine-tuning format, which TRL reads too)::

    {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "...", "weight": 1}], "tools": [...]}

Prompt/completion: ``{"prompt": "...", "completion": "..."}``. Plain text: ``{"text": "..."}``.
Prompts for reinforcement fine-tuning: chat ``messages`` ending with a user turn, beside any
other fields (what the grader reads as ``{{item.*}}``).
Preference pairs for DPO, in OpenAI's shape
``{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}``
or TRL's ``{"prompt": ..., "chosen": ..., "rejected": ...}`` (strings or message lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from ftsdk._vocab import DataFormat

__all__ = [
    "TEXT_SEPARATOR",
    "ConversionError",
    "Finding",
    "check_example",
    "convert",
    "detect_format",
    "preference_style",
    "prompt_completion_text",
]

ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}
)
CHAT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
PROMPT_COMPLETION_KEYS = frozenset({"prompt", "completion"})
TEXT_KEYS = frozenset({"text"})
OPENAI_PREFERENCE_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
TRL_PREFERENCE_KEYS = frozenset({"prompt", "chosen", "rejected"})
INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
_NO_CALLS: frozenset[str] = frozenset()


class Finding(NamedTuple):
    """A problem inside one example, before it is given its origin."""

    kind: str
    field: str
    message: str
    warning: bool = False


class ConversionError(ValueError):
    """An example that cannot be converted to the asked format; says which field and why."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def detect_format(data: Mapping[str, Any]) -> DataFormat | None:
    """The format of one example, from its keys; ``None`` when it is in none of them.

    >>> detect_format({"prompt": "2+2", "completion": "4"})
    <DataFormat.PROMPT_COMPLETION: 'prompt_completion'>
    >>> detect_format({"prompt": "2+2", "chosen": "4", "rejected": "5"})
    <DataFormat.PREFERENCE: 'preference'>
    """
    if "messages" in data:
        return DataFormat.CHAT
    if "preferred_output" in data or "non_preferred_output" in data or "input" in data:
        return DataFormat.PREFERENCE
    if "chosen" in data or "rejected" in data:
        return DataFormat.PREFERENCE
    if "completion" in data or "prompt" in data:
        return DataFormat.PROMPT_COMPLETION
    if "text" in data:
        return DataFormat.TEXT
    return None


def preference_style(data: Mapping[str, Any]) -> str:
    """``"openai"`` or ``"trl"``: which shape a preference example is written in."""
    return "trl" if ("chosen" in data or "rejected" in data) else "openai"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _unknown_keys(data: Mapping[str, Any], known: frozenset[str], where: str) -> list[Finding]:
    return [
        Finding(
            "unknown_key",
            f"{where}{key}" if where else str(key),
            f"unknown key {key!r} (expected one of: {', '.join(sorted(known))})",
        )
        for key in data
        if key not in known
    ]


def _check_text(value: Any, path: str, *, required: bool = True) -> list[Finding]:
    if value is None or (not isinstance(value, str) and not required):
        if required:
            return [Finding("missing_key", path, "missing: a non-empty string is required")]
        return []
    if not isinstance(value, str):
        return [Finding("wrong_type", path, f"must be a string, not {_type_name(value)}")]
    if not value.strip():
        return [Finding("empty_content", path, "empty content")]
    return []


def _check_content(  # noqa: PLR0911  # one early return per shape of content
    message: Mapping[str, Any], path: str, *, may_be_empty: bool
) -> list[Finding]:
    content = message.get("content")
    where = f"{path}.content"
    if isinstance(content, str):
        if content.strip() or may_be_empty:
            return []
        return [Finding("empty_content", where, "empty content")]
    if content is None:
        if may_be_empty:
            return []
        if "content" not in message:
            return [Finding("missing_key", where, "missing content")]
        return [Finding("empty_content", where, "empty content (null)")]
    if isinstance(content, list):
        findings: list[Finding] = []
        texts = 0
        for j, part in enumerate(content):
            part_path = f"{where}[{j}]"
            if not isinstance(part, dict):
                findings.append(
                    Finding("wrong_type", part_path, f"must be an object, not {_type_name(part)}")
                )
            elif part.get("type") == "text":
                found = _check_text(part.get("text"), f"{part_path}.text")
                texts += not found
                findings += found
            elif part.get("type") != "image_url":
                findings.append(
                    Finding("wrong_type", f"{part_path}.type", "must be 'text' or 'image_url'")
                )
        if not content and not may_be_empty:
            findings.append(Finding("empty_content", where, "empty content (no parts)"))
        return findings
    return [
        Finding(
            "wrong_type", where, f"must be a string or a list of parts, not {_type_name(content)}"
        )
    ]


def _check_tool_calls(calls: Any, path: str) -> tuple[list[Finding], set[str]]:
    where = f"{path}.tool_calls"
    if not isinstance(calls, list) or not calls:
        return [Finding("bad_tool_call", where, "must be a non-empty list of tool calls")], set()
    findings: list[Finding] = []
    ids: set[str] = set()
    for j, call in enumerate(calls):
        call_path = f"{where}[{j}]"
        if not isinstance(call, dict):
            findings.append(Finding("bad_tool_call", call_path, "must be an object"))
            continue
        if isinstance(call.get("id"), str):
            ids.add(call["id"])
        else:
            findings.append(Finding("bad_tool_call", f"{call_path}.id", "missing id"))
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            findings.append(
                Finding("bad_tool_call", f"{call_path}.function.name", "missing function name")
            )
        elif not isinstance(function.get("arguments"), str):
            findings.append(
                Finding(
                    "bad_tool_call",
                    f"{call_path}.function.arguments",
                    "arguments must be a JSON string",
                )
            )
    return findings, ids


# One function on purpose: it runs for every message of every example (the hot loop).
def _check_messages(  # noqa: PLR0912, PLR0915
    messages: Any, path: str, *, need_assistant: bool, last_assistant: bool = True
) -> list[Finding]:
    """Check a list of chat messages; ``path`` is where the list is, e.g. ``messages``."""
    if messages is None:
        return [Finding("missing_key", path, "missing: a list of messages is required")]
    if not isinstance(messages, list):
        return [
            Finding("wrong_type", path, f"must be a list of messages, not {_type_name(messages)}")
        ]
    if not messages:
        return [Finding("empty_content", path, "no messages")]
    findings: list[Finding] = []
    trained = 0
    assistants = 0
    started = False
    previous_role: Any = None
    open_calls: AbstractSet[str] = _NO_CALLS
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            findings.append(
                Finding(
                    "wrong_type", f"{path}[{i}]", f"must be an object, not {_type_name(message)}"
                )
            )
            previous_role = None
            continue
        if not MESSAGE_KEYS.issuperset(message):
            findings += _unknown_keys(message, MESSAGE_KEYS, f"{path}[{i}].")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            started = True  # judge the order of the others without this one
            if role is None:
                findings.append(Finding("missing_key", f"{path}[{i}].role", "missing role"))
            else:
                findings.append(
                    Finding(
                        "bad_role",
                        f"{path}[{i}].role",
                        f"unknown role {role!r} (expected one of: {', '.join(sorted(ROLES))})",
                    )
                )
            previous_role = None
            continue
        calls = message.get("tool_calls")
        if role == "system":
            if started:
                findings.append(
                    Finding(
                        "role_order",
                        f"{path}[{i}].role",
                        "a system message after the conversation started (put it first)",
                    )
                )
        elif not started:
            started = True
            if role != "user":
                findings.append(
                    Finding(
                        "role_order",
                        f"{path}[{i}].role",
                        f"the conversation must start with a user message, not {role}",
                    )
                )
        if role == "assistant":
            assistants += 1
            weight = message.get("weight", 1)
            if weight not in (0, 1) or isinstance(weight, bool):
                findings.append(
                    Finding(
                        "bad_weight",
                        f"{path}[{i}].weight",
                        f"weight must be 0 or 1, not {weight!r}",
                    )
                )
                trained += 1  # reported once, as a bad weight, not again as "nothing trained"
            elif weight == 1:
                trained += 1
            has_call = calls is not None or message.get("function_call") is not None
            content = message.get("content")
            if content.__class__ is not str or not content or content.isspace():
                findings += _check_content(message, f"{path}[{i}]", may_be_empty=has_call)
            open_calls = _NO_CALLS
            if calls is not None:
                found, open_calls = _check_tool_calls(calls, f"{path}[{i}]")
                findings += found
        else:
            if "weight" in message:
                findings.append(
                    Finding(
                        "bad_weight",
                        f"{path}[{i}].weight",
                        "weight is only allowed on assistant messages",
                    )
                )
            if calls is not None:
                findings.append(
                    Finding(
                        "bad_tool_call",
                        f"{path}[{i}].tool_calls",
                        f"a {role} message cannot call tools",
                    )
                )
            if role == "tool":
                call_id = message.get("tool_call_id")
                if previous_role not in ("assistant", "tool") or not open_calls:
                    findings.append(
                        Finding(
                            "role_order",
                            f"{path}[{i}].role",
                            "a tool message must follow an assistant message with tool_calls",
                        )
                    )
                elif not isinstance(call_id, str) or call_id not in open_calls:
                    findings.append(
                        Finding(
                            "bad_tool_call",
                            f"{path}[{i}].tool_call_id",
                            f"tool_call_id {call_id!r} answers no call of the assistant message "
                            f"before it ({', '.join(sorted(open_calls))})",
                        )
                    )
                findings += _check_content(message, f"{path}[{i}]", may_be_empty=False)
            else:
                content = message.get("content")
                if content.__class__ is not str or not content or content.isspace():
                    findings += _check_content(message, f"{path}[{i}]", may_be_empty=False)
        previous_role = role
    if need_assistant:
        if not assistants:
            findings.append(Finding("no_assistant", path, "no assistant message to learn from"))
        elif not trained:
            findings.append(Finding("no_assistant", path, "every assistant message has weight 0"))
        elif last_assistant and previous_role not in ("assistant", None):
            findings.append(
                Finding(
                    "last_not_assistant",
                    f"{path}[{len(messages) - 1}]",
                    f"the conversation ends with a {previous_role} message, "
                    "which is not trained on",
                    warning=True,
                )
            )
    return findings


def _check_chat(data: Mapping[str, Any]) -> list[Finding]:
    findings = [] if CHAT_KEYS.issuperset(data) else _unknown_keys(data, CHAT_KEYS, "")
    tools = data.get("tools")
    if tools is not None and not isinstance(tools, list):
        findings.append(Finding("wrong_type", "tools", f"must be a list, not {_type_name(tools)}"))
    return findings + _check_messages(data.get("messages"), "messages", need_assistant=True)


def _check_reinforcement(data: Mapping[str, Any]) -> list[Finding]:
    """A prompt the model answers while it trains: no answer in it, and the other keys are
    the item's fields, free for the grader to read. The models trained so (reasoning
    models) take ``developer`` messages where others take ``system`` ones."""
    messages = data.get("messages")
    if isinstance(messages, list):  # reasoning models' name for system messages
        messages = [
            {**m, "role": "system"} if isinstance(m, dict) and m.get("role") == "developer" else m
            for m in messages
        ]
    findings = _check_messages(messages, "messages", need_assistant=False)
    tools = data.get("tools")
    if tools is not None and not isinstance(tools, list):
        findings.append(Finding("wrong_type", "tools", f"must be a list, not {_type_name(tools)}"))
    if isinstance(messages, list) and messages:
        last = messages[-1]
        role = last.get("role") if isinstance(last, dict) else None
        if role != "user":
            findings.append(
                Finding(
                    "last_not_user",
                    f"messages[{len(messages) - 1}].role",
                    "a reinforcement prompt ends with a user message (the model answers "
                    f"it); this one ends with role {role!r}",
                )
            )
    return findings


def _check_prompt_completion(data: Mapping[str, Any]) -> list[Finding]:
    findings = _unknown_keys(data, PROMPT_COMPLETION_KEYS, "")
    prompt = data.get("prompt")
    if "prompt" not in data:
        findings.append(Finding("missing_key", "prompt", "missing prompt"))
    elif not isinstance(prompt, str):
        findings.append(
            Finding("wrong_type", "prompt", f"must be a string, not {_type_name(prompt)}")
        )
    return findings + _check_text(data.get("completion"), "completion")


def _check_text_example(data: Mapping[str, Any]) -> list[Finding]:
    return _unknown_keys(data, TEXT_KEYS, "") + _check_text(data.get("text"), "text")


def _check_answer(value: Any, path: str) -> list[Finding]:
    """A preferred / chosen answer: a string, or a list of assistant messages."""
    if isinstance(value, str) or value is None:
        return _check_text(value, path)
    findings = _check_messages(value, path, need_assistant=False)
    if isinstance(value, list):
        for i, message in enumerate(value):
            if isinstance(message, dict) and message.get("role") not in ("assistant", None):
                findings.append(
                    Finding("bad_role", f"{path}[{i}].role", "answers must be assistant messages")
                )
    return [f for f in findings if f.kind != "role_order"]


def _check_preference(data: Mapping[str, Any]) -> list[Finding]:
    if preference_style(data) == "trl":
        findings = _unknown_keys(data, TRL_PREFERENCE_KEYS, "")
        prompt = data.get("prompt")
        if isinstance(prompt, list):
            findings += _check_messages(prompt, "prompt", need_assistant=False)
        elif prompt is not None:
            findings += _check_text(prompt, "prompt")
        findings += _check_answer(data.get("chosen"), "chosen")
        findings += _check_answer(data.get("rejected"), "rejected")
        return findings
    findings = _unknown_keys(data, OPENAI_PREFERENCE_KEYS, "")
    source = data.get("input")
    if not isinstance(source, dict):
        findings.append(
            Finding("missing_key", "input", "missing: an object with the prompt 'messages'")
            if source is None
            else Finding("wrong_type", "input", f"must be an object, not {_type_name(source)}")
        )
    else:
        findings += _unknown_keys(source, INPUT_KEYS, "input.")
        findings += _check_messages(source.get("messages"), "input.messages", need_assistant=False)
    for key in ("preferred_output", "non_preferred_output"):
        findings += _check_answer(data.get(key), key)
    return findings


_CHECKS = {
    DataFormat.CHAT: _check_chat,
    DataFormat.PROMPT_COMPLETION: _check_prompt_completion,
    DataFormat.TEXT: _check_text_example,
    DataFormat.PREFERENCE: _check_preference,
    DataFormat.REINFORCEMENT: _check_reinforcement,
}


def check_example(data: Mapping[str, Any], fmt: DataFormat) -> list[Finding]:
    """Every problem of ``data`` read as ``fmt``; empty when it is well formed.

    >>> check_example({"messages": [{"role": "user", "content": ""}]}, DataFormat.CHAT)[0].message
    'empty content'
    """
    return _CHECKS[fmt](data)


# -- conversion ---------------------------------------------------------------------------


TEXT_SEPARATOR = "\n"
"""What joins a prompt and its completion when they become one text: a line break, so the
last word of the prompt and the first of the completion never run together."""


def prompt_completion_text(prompt: Any, completion: Any) -> str:
    """The text of a prompt/completion pair: the two joined by :data:`TEXT_SEPARATOR`, unless
    the prompt is empty or either side already has whitespace at the join.

    >>> prompt_completion_text("2+2=", "4"), prompt_completion_text("Q: hi\\n", "A: hello")
    ('2+2=\\n4', 'Q: hi\\nA: hello')
    """
    first = "" if prompt is None else str(prompt)
    second = "" if completion is None else str(completion)
    joined = not first or not second or first[-1].isspace() or second[0].isspace()
    return f"{first}{'' if joined else TEXT_SEPARATOR}{second}"


def _as_messages(value: Any, role: str) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return value
    return [{"role": role, "content": value}]


def _as_text(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        content = value[0].get("content")
        if isinstance(content, str):
            return content
    raise ConversionError("only a single message with text content converts to text", field)


def _chat_to_prompt_completion(data: Mapping[str, Any]) -> dict[str, Any]:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise ConversionError("no messages to convert", "messages")
    *context, last = messages
    if last.get("role") != "assistant" or not isinstance(last.get("content"), str):
        raise ConversionError("the last message must be an assistant text answer", "messages")
    users = [m for m in context if isinstance(m, dict) and m.get("role") == "user"]
    if len(users) != 1 or len(context) - len(users) > 0:
        raise ConversionError(
            "only a single user turn followed by the answer converts to prompt/completion "
            "(system messages and multi-turn chats do not)",
            "messages",
        )
    return {
        "prompt": _as_text(users[0].get("content"), "messages[0].content"),
        "completion": last["content"],
    }


def _to_trl(data: Mapping[str, Any]) -> dict[str, Any]:
    if preference_style(data) == "trl":
        return dict(data)
    source = data.get("input")
    if not isinstance(source, dict):
        raise ConversionError("missing input", "input")
    return {
        "prompt": source.get("messages"),
        "chosen": data.get("preferred_output"),
        "rejected": data.get("non_preferred_output"),
    }


def _to_openai_preference(data: Mapping[str, Any]) -> dict[str, Any]:
    if preference_style(data) == "openai":
        return dict(data)
    if data.get("prompt") is None:
        raise ConversionError("OpenAI's preference format needs an explicit prompt", "prompt")
    return {
        "input": {"messages": _as_messages(data["prompt"], "user")},
        "preferred_output": _as_messages(data.get("chosen"), "assistant"),
        "non_preferred_output": _as_messages(data.get("rejected"), "assistant"),
    }


def convert(
    data: Mapping[str, Any],
    source: DataFormat,
    target: DataFormat,
    *,
    preference: str = "openai",
) -> dict[str, Any]:
    """``data`` (in ``source`` format) rewritten in ``target`` format.

    Converts chat <-> prompt/completion (a single user turn and its answer), prompt/completion
    -> text (joined by :data:`TEXT_SEPARATOR`, see :func:`prompt_completion_text`), and
    preference pairs between OpenAI's and TRL's shapes (``preference="openai"``
    or ``"trl"``). Raises :class:`ConversionError` naming the field that does not convert.

    >>> convert({"prompt": "2+2", "completion": "4"}, DataFormat.PROMPT_COMPLETION,
    ...         DataFormat.CHAT)
    {'messages': [{'role': 'user', 'content': '2+2'}, {'role': 'assistant', 'content': '4'}]}
    """
    if source is target and target is not DataFormat.PREFERENCE:
        return dict(data)
    if source is DataFormat.PROMPT_COMPLETION and target is DataFormat.CHAT:
        return {
            "messages": [
                {"role": "user", "content": data.get("prompt")},
                {"role": "assistant", "content": data.get("completion")},
            ]
        }
    if source is DataFormat.CHAT and target is DataFormat.PROMPT_COMPLETION:
        return _chat_to_prompt_completion(data)
    if source is DataFormat.PROMPT_COMPLETION and target is DataFormat.TEXT:
        return {"text": prompt_completion_text(data.get("prompt"), data.get("completion"))}
    if source is DataFormat.PREFERENCE and target is DataFormat.PREFERENCE:
        return _to_trl(data) if preference == "trl" else _to_openai_preference(data)
    raise ConversionError(f"{source.value} does not convert to {target.value}")
