"""AutoTrain's output → job status, events, metrics and errors (lines recorded from real
AutoTrain 0.8.36 runs on the CPU; fast)."""

from __future__ import annotations

import io
from pathlib import Path

from ftsdk.jobdir import JobDir
from ftsdk_autotrain.runner import LogParser, _lines, model_files

RUN = [
    "INFO     | 2026-11-25 04:39:40 | autotrain.trainers.common:on_train_begin:386 - "
    "Starting to train...",
    "  0%|          | 0/14 [00:00<?, ?it/s]",
    " 14%|█▍        | 2/14 [00:00<00:00, 17.58it/s]INFO     | 2026-11-25 04:39:41 | "
    "autotrain.trainers.common:on_log:367 - {'loss': 5.8399, 'grad_norm': 2.19, "
    "'learning_rate': 0.003, 'epoch': 0.14285714285714285}",
    "{'loss': 5.8399, 'grad_norm': 2.19, 'learning_rate': 0.003, 'epoch': 0.14}",
    "100%|██████████| 14/14 [00:00<00:00, 24.36it/s]INFO     | 2026-11-25 04:39:41 | "
    "autotrain.trainers.common:on_log:367 - {'loss': 4.013, 'grad_norm': 1.63, "
    "'learning_rate': 0.0, 'epoch': 1.0}",
    "INFO     | 2026-11-25 04:39:41 | autotrain.trainers.common:on_log:367 - "
    "{'train_runtime': 0.5559, 'train_samples_per_second': 196.082, 'train_loss': 4.68, "
    "'epoch': 1.0}",
    "INFO     | 2026-11-25 04:39:41 | autotrain.trainers.clm.utils:post_training_steps:416 - "
    "Finished training, saving model...",
]

FAILURE = [
    "ERROR    | 2026-11-25 04:43:25 | autotrain.trainers.common:wrapper:215 - train has "
    "failed due to an exception: Traceback (most recent call last):",
    '  File "/v/autotrain/trainers/clm/utils.py", line 592, in get_tokenizer',
    "    tokenizer = AutoTokenizer.from_pretrained(",
    "OSError: Incorrect path_or_model_id: '/nonexistent/model'.",
    "ERROR    | 2026-11-25 04:43:25 | autotrain.trainers.common:wrapper:216 - Incorrect "
    "path_or_model_id: '/nonexistent/model'. Please provide either the path to a local "
    "folder or the repo_id of a model on the Hub.",
]


def job_in(tmp_path: Path) -> JobDir:
    job = JobDir(tmp_path / "atjob-x")
    job.path.mkdir()
    job.update_status(status="running")
    return job


def test_metrics_steps_and_stages(tmp_path: Path) -> None:
    job = job_in(tmp_path)
    parser = LogParser(job, epochs=1)
    for line in RUN:
        parser.feed(line)
    assert not parser.failed
    rows = job.metrics()
    assert [r["step"] for r in rows] == [2, 14]
    assert rows[0]["values"] == {
        "train_loss": 5.8399,
        "grad_norm": 2.19,
        "learning_rate": 0.003,
        "epoch": 0.14285714285714285,
    }
    assert job.read_status()["total_steps"] == 14
    messages = [e["message"] for e in job.events()]
    assert "AutoTrain: Starting to train..." in messages
    assert "training: step 0 of 14" in messages
    assert any(m.startswith("training done in 0.6 s") for m in messages)
    assert messages[-1] == "AutoTrain: Finished training, saving model..."
    assert parser.summary["train_runtime"] == 0.5559


def test_failure_keeps_autotrains_own_message(tmp_path: Path) -> None:
    job = job_in(tmp_path)
    parser = LogParser(job, epochs=1)
    for line in FAILURE:
        parser.feed(line)
    assert parser.failed
    message = parser.error_message()
    assert message.startswith("AutoTrain failed: Incorrect path_or_model_id: '/nonexistent/model'")
    assert "get_tokenizer" in message  # the end of the traceback comes with it
    assert any(e["level"] == "error" for e in job.events())


def test_lines_split_tqdm_carriage_returns() -> None:
    stream = io.BytesIO(b"a\r 1/3 [\rb\nc\r\nd")
    assert list(_lines(stream)) == [b"a", b" 1/3 [", b"b", b"c", b"d"]


def test_model_files(tmp_path: Path) -> None:
    assert not model_files(tmp_path)
    (tmp_path / "README.md").write_text("model card, written before any merge")
    assert not model_files(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.safetensors").write_bytes(b"x")
    assert model_files(tmp_path)
