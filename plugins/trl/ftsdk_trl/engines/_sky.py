"""SkyPilot's side of the skypilot engine, run by path in SkyPilot's interpreter.

SkyPilot's pins (click<8.2, uvicorn<0.36, bcrypt==4.0.1) do not fit ftsdk's venv, so
this script imports nothing from ftsdk: the standard library and ``sky`` only. It reads
one JSON request on stdin and prints one JSON answer on stdout::

    python _sky.py task      {"task": {...}}              -> {"yaml": "..."}
    python _sky.py launch    {"yaml": PATH, "name": NAME}  -> {"job_id": 3}
    python _sky.py status    {"job_id": 3}                 -> {"status": "RUNNING", ...}
    python _sky.py cancel    {"job_id": 3}                 -> {}
    python _sky.py logs      {"job_id": 3, "tail": 200}    -> {"text": "..."}

A failure is ``{"error": {"kind": ..., "message": ..., "field": ...}}`` with exit status 2:
``kind`` is ``invalid`` (a value SkyPilot refused; ``field`` names it), ``no_cloud``
(NoCloudAccessError: no cloud set up), ``offline`` (its catalog of instances could not be
downloaded), ``no_controller`` (the jobs controller is not up: no managed job in progress),
``not_found`` or ``sky`` (anything else).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# ``provider_options.skypilot`` field -> ``sky.Resources`` keyword, in checking order.
_RESOURCES = {
    "cloud": "infra",
    "accelerators": "accelerators",
    "cpus": "cpus",
    "memory": "memory",
    "disk_size": "disk_size",
    "use_spot": "use_spot",
}


class Refused(Exception):
    """A request SkyPilot refused, as the answer reports it."""

    def __init__(self, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


def _clean(err: BaseException) -> str:
    return _ANSI.sub("", str(err)).strip() or type(err).__name__


def build_task(request: dict[str, Any]) -> Any:
    """A ``sky.Task`` made with SkyPilot's own objects from the engine's plain description,
    checked field by field (so an error names the option) and then as a whole."""
    import sky

    spec = request["task"]
    resources: dict[str, Any] = {}
    for option, keyword in _RESOURCES.items():
        value = spec["resources"].get(option)
        if value is None:
            continue
        try:
            sky.Resources(**{keyword: value})  # alone first: the error names this field
        except Exception as err:  # SkyPilot raises ValueError and its own errors
            raise Refused("invalid", _clean(err), f"skypilot.{option}") from err
        resources[keyword] = value
    try:
        task = sky.Task(
            name=spec["name"],
            setup=spec["setup"],
            run=spec["run"],
            envs=spec["envs"],
            num_nodes=1,
        )
        task.set_resources(sky.Resources(**resources))
        task.set_file_mounts(spec["file_mounts"])
        task.set_storage_mounts(
            {
                path: sky.Storage(source=mount["source"], mode=sky.StorageMode[mount["mode"]])
                for path, mount in spec["storage_mounts"].items()
            }
        )
        # SkyPilot's schema check of the whole task, as ``sky launch task.yaml`` reads it.
        config = task.to_yaml_config()
        sky.Task.from_yaml_config(config)
    except Exception as err:  # SkyPilot raises ValueError and its own errors
        raise Refused("invalid", _clean(err), "skypilot") from err
    return task


def task_yaml(request: dict[str, Any]) -> dict[str, Any]:
    """The task as SkyPilot writes its YAML."""
    from sky.utils import yaml_utils

    task = build_task(request)
    return {"yaml": yaml_utils.dump_yaml_str(task.to_yaml_config())}


def launch(request: dict[str, Any]) -> dict[str, Any]:
    """``sky.jobs.launch`` of the task in ``request["yaml"]``: the managed job's id."""
    import sky

    task = sky.Task.from_yaml(request["yaml"])
    job_id, _handle = sky.get(sky.jobs.launch(task, name=request["name"]))
    return {"job_id": job_id}


def status(request: dict[str, Any]) -> dict[str, Any]:
    """The managed job's state from ``sky.jobs.queue_v2``."""
    import sky

    records, *_rest = sky.get(
        sky.jobs.queue_v2(refresh=False, all_users=False, job_ids=[request["job_id"]])
    )
    for record in records:
        fields = record if isinstance(record, dict) else record.model_dump()
        if fields.get("job_id") == request["job_id"]:
            state = fields.get("status")
            return {
                "status": getattr(state, "value", state),
                "failure_reason": fields.get("failure_reason"),
            }
    raise Refused("not_found", f"SkyPilot has no managed job {request['job_id']}")


def cancel(request: dict[str, Any]) -> dict[str, Any]:
    """``sky.jobs.cancel`` of the managed job."""
    import sky

    sky.get(sky.jobs.cancel(job_ids=[request["job_id"]]))
    return {}


def logs(request: dict[str, Any]) -> dict[str, Any]:
    """The end of the managed job's log (``sky.jobs.tail_logs`` without following)."""
    import io

    import sky

    out = io.StringIO()
    sky.jobs.tail_logs(
        job_id=request["job_id"], follow=False, tail=request.get("tail"), output_stream=out
    )
    return {"text": _ANSI.sub("", out.getvalue())}


COMMANDS = {"task": task_yaml, "launch": launch, "status": status, "cancel": cancel, "logs": logs}


def main(argv: list[str]) -> int:
    """Answer one request; exit 0, or 2 with the error as JSON."""
    if len(argv) != 2 or argv[1] not in COMMANDS:
        print(f"usage: python _sky.py {{{','.join(COMMANDS)}}} < request.json", file=sys.stderr)
        return 64
    out = sys.stdout
    sys.stdout = sys.stderr  # SkyPilot prints progress: keep stdout for the answer
    try:
        answer = COMMANDS[argv[1]](json.load(sys.stdin))
    except Refused as err:
        answer = {"error": {"kind": err.kind, "message": err.message, "field": err.field}}
    except Exception as err:  # every SkyPilot failure becomes an answer, never a traceback
        kind = "sky"
        if type(err).__name__ == "NoCloudAccessError" or "no cloud storage is available" in str(
            err
        ):  # the second: a bucket mount, and no cloud with storage enabled
            kind = "no_cloud"
        elif "ConnectionError" in str(err):  # its catalog of instances is downloaded
            kind = "offline"
        elif type(err).__name__ == "ClusterNotUpError":  # it stops once no job is left
            kind = "no_controller"
        answer = {"error": {"kind": kind, "message": _clean(err), "type": type(err).__name__}}
    finally:
        sys.stdout = out
    print(json.dumps(answer, default=str), file=out, flush=True)
    return 2 if "error" in answer else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
