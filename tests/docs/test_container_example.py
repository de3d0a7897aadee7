"""The README's own container, run without Docker: its ``train`` and ``serve`` programs under SageMaker's contracts
on a real run's preprocessed splits, its answers to the held-out rows scored by the evaluation job, as a batch
transform and the Evaluate step would."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.datasets import write_breast_cancer_csv
from tests.docs.readme_blocks import named_blocks
from tests.ml.test_evaluate import evaluate_answers, preprocess_data

BLOCKS = named_blocks("container")
ROWS_PER_REQUEST = 25
"""The batch transform sends several lines per request (MultiRecord); the answer has a line for each."""


def test_the_readme_shows_a_dockerfile_that_copies_the_two_programs_it_shows() -> None:
    assert list(BLOCKS) == ["Dockerfile", "train", "serve"]
    dockerfile = BLOCKS["Dockerfile"]
    assert "COPY train serve /opt/program/" in dockerfile and 'PATH="/opt/program:' in dockerfile


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run's preprocessing, then the README's ``train`` in a folder laid out as /opt/ml."""
    root = tmp_path_factory.mktemp("container")
    (root / "data").mkdir()
    write_breast_cancer_csv(root / "data" / "cancer.csv")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/driftline/cancer-model:1.0"
    out = preprocess_data(root, {"target": "diagnosis", "problem_type": "binary_classification", "model_image": image})
    opt_ml = root / "opt-ml"
    for channel in ("train", "validation", "metadata"):
        shutil.copytree(out / channel, opt_ml / "input" / "data" / channel)
    (opt_ml / "input" / "config").mkdir(parents=True)
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"max_depth": "4"}))
    for name in ("train", "serve"):
        (root / name).write_text(BLOCKS[name])
    trained = subprocess.run(
        [sys.executable, str(root / "train"), "--root", str(opt_ml)], capture_output=True, text=True, timeout=300
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    return root


@pytest.fixture(scope="module")
def serving(run: Path) -> Iterator[str]:
    """The README's ``serve`` on a free loopback port, as the container's web server; its URL once /ping answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SERVE_HOST": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, str(run / "serve"), "--root", str(run / "opt-ml")], env=env, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def invoke(url: str, body: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body.encode(), headers={"Content-Type": "text/csv"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_container_s_answers_to_the_held_out_rows_score_as_a_good_model_in_the_evaluation_job(
    run: Path, serving: str
) -> None:
    lines = (run / "out" / "transform" / "part-00000.csv").read_text().splitlines(keepends=True)
    answers: list[str] = []
    for start in range(0, len(lines), ROWS_PER_REQUEST):
        status, body = invoke(serving, "".join(lines[start : start + ROWS_PER_REQUEST]))
        assert status == 200, body
        answers += body.splitlines()

    code, log = evaluate_answers(run, "container", answers, {"target": "diagnosis", "metric": "accuracy"})

    assert code == 0, log
    report = json.loads((run / "container" / "evaluation.json").read_text())
    assert report["binary_classification_metrics"]["accuracy"]["value"] > 0.9
    assert {answer.split(",")[0] for answer in answers} <= {"benign", "malignant"}


def test_the_container_refuses_a_row_of_the_wrong_width_with_a_client_error(serving: str) -> None:
    status, body = invoke(serving, "1.0,2.0\n")
    assert status == 400 and "each row needs" in body
