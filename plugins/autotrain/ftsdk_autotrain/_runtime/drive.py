"""Run one AutoTrain LLM project: ``python drive.py PARAMS_JSON BACKEND`` (runtime venv).

Reads the ``LLMTrainingParams`` fields staged by ftsdk, adds the Hugging Face token from
the environment for hosted backends only (never written anywhere by ftsdk), and runs
``AutoTrainProject(params, backend, process=True).create()``, exactly as ``autotrain llm
--train`` does. Prints ``FTSDK_RESULT <json>`` with what ``create()`` returned (the Space
id or endpoint answer for hosted backends; the training pid/exit for local).
"""

import json
import os
import sys


def main() -> int:
    params_file, backend = sys.argv[1], sys.argv[2]
    with open(params_file, encoding="utf-8") as handle:
        fields = json.load(handle)
    if not backend.startswith("local"):
        fields["token"] = os.environ.get("HF_TOKEN")
        fields["username"] = fields.get("username") or os.environ.get("AUTOTRAIN_USERNAME")
        if not fields["username"]:  # the token's own account
            from huggingface_hub import HfApi

            fields["username"] = HfApi(token=fields["token"]).whoami()["name"]
    endpoints_url = os.environ.get("FTSDK_AUTOTRAIN_ENDPOINTS_URL")
    if endpoints_url:  # tests: AutoTrain hard-codes the Inference Endpoints API's address
        from autotrain.backends import endpoints

        endpoints.ENDPOINTS_URL = endpoints_url.rstrip("/") + "/"
    from autotrain.project import AutoTrainProject
    from autotrain.trainers.clm.params import LLMTrainingParams

    params = LLMTrainingParams(**fields)
    result = AutoTrainProject(params=params, backend=backend, process=True).create()
    print("FTSDK_RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
