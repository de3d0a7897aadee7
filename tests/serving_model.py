"""A small model trained by the real preprocessing and training scripts, for the serving tests.

Binary classification with labels ``no`` and ``yes`` on two numeric features and one categorical feature
(``color``: blue, green, red), so requests exercise both encodings. Trained once per test session.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd

ML_DIR = Path(__file__).resolve().parents[1] / "ml"
FEATURES = ["x1", "x2", "color"]


def _run(script: str, args: list[str], env: dict[str, str]) -> None:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    result = subprocess.run(
        [sys.executable, str(ML_DIR / script), *args],
        env={**inherited, "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def train_serving_model(root: Path, *, seed: int = 5, flip: bool = False) -> Path:
    """Train on generated rows; return the model folder (``model.tar.gz`` is written beside it).

    ``flip`` swaps what the numeric signal means, so two models answer the same row differently.
    """
    rng = np.random.default_rng(seed)
    rows = 300
    x1 = rng.normal(size=rows)
    x2 = rng.normal(size=rows)
    color = rng.choice(["blue", "green", "red"], rows)
    signal = (-1.0 if flip else 1.0) * 2.0 * x1 + 1.5 * (color == "red") + rng.normal(0, 0.2, rows)
    label = np.where(signal > 0.5, "yes", "no")
    (root / "data").mkdir(parents=True)
    pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label}).to_csv(root / "data" / "d.csv", index=False)
    (root / "config").mkdir()
    config = {"target": "label", "problem_type": "binary_classification", "seed": 3}
    (root / "config" / "config.json").write_text(json.dumps(config))
    out = root / "out"
    _run(
        "preprocess.py",
        ["--data-dir", str(root / "data"), "--config-dir", str(root / "config")]
        + [arg for name in ("train", "validation", "test", "metadata") for arg in (f"--{name}-dir", str(out / name))]
        + ["--message-file", str(root / "preprocess-message")],
        {},
    )
    _run(
        "train.py",
        ["--max_iter", "30", "--min_samples_leaf", "5"],
        {
            "SM_MODEL_DIR": str(root / "model"),
            "SM_CHANNEL_TRAIN": str(out / "train"),
            "SM_CHANNEL_VALIDATION": str(out / "validation"),
            "SM_CHANNEL_METADATA": str(out / "metadata"),
            "SM_OUTPUT_DIR": str(root / "output"),
        },
    )
    with tarfile.open(root / "model.tar.gz", "w:gz") as archive:
        for file in sorted((root / "model").iterdir()):
            archive.add(file, arcname=file.name)
    return root / "model"


@dataclass
class EndpointEmulator:
    """The AWS emulator on a free loopback port with local mode's endpoint runner, and what was put in it."""

    url: str
    runner: Any
    s3: Any
    code_uri: str
    code_version: str
    models: dict[str, str]
    """``good`` and ``flipped``: each trained model's ``model.tar.gz`` in the bucket."""

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


@contextmanager
def endpoint_emulator(base: Path, bucket: str) -> Iterator[EndpointEmulator]:
    """Two models trained side by side (``flipped`` answers what ``good`` does not), the emulator with local mode's
    endpoint runner installed, ``bucket`` holding the published ``ml/`` code and both models; stopped on exit."""
    from moto.moto_api._internal.models import moto_api_backend

    from driftline.local import endpoints, sagemaker, seams
    from driftline.local.console import Console
    from driftline.local.http_guard import GuardedMotoServer

    with ThreadPoolExecutor(max_workers=2) as pool:
        good = pool.submit(train_serving_model, base / "good")
        flipped = pool.submit(train_serving_model, base / "flipped", seed=7, flip=True)
        good.result(), flipped.result()
    moto_api_backend.reset()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = GuardedMotoServer("127.0.0.1", 0)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    runner = endpoints.EndpointRunner(
        endpoints_dir=base / "state",
        endpoint_url=url,
        region="us-east-1",
        console=Console(),
        capture_flush_seconds=3600,
    )
    endpoints.install(runner)
    try:
        emulator = EndpointEmulator(url=url, runner=runner, s3=None, code_uri="", code_version="", models={})
        s3 = emulator.s3 = emulator.client("s3")
        s3.create_bucket(Bucket=bucket)
        published = sagemaker._code_publisher().publish_ml_code(bucket, sagemaker.ML_DIR, s3=s3)
        emulator.code_uri, emulator.code_version = published.uri, published.version
        for name in ("good", "flipped"):
            s3.upload_file(str(base / name / "model.tar.gz"), bucket, f"models/{name}/model.tar.gz")
            emulator.models[name] = f"s3://{bucket}/models/{name}/model.tar.gz"
        yield emulator
    finally:
        runner.stop()
        server.stop()
        seams.restore()
