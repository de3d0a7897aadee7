"""Benchmark: how closely a local endpoint's traffic split follows its variants' weights, and what serving two
variants costs in requests/s against serving one.

Run: ``.venv/bin/python benchmarks/traffic_split.py``. Prints a Markdown section and, with ``--record``, appends it
to ``benchmarks/RESULTS.md`` with the machine and date.

Local mode's emulator on loopback with its endpoint runner (``driftline.local.endpoints``), the breast cancer model
trained by the real preprocessing and training scripts and served by both variants. Every request is a real
InvokeEndpoint through boto3, from client processes separate from the emulator's, and its variant is the
``InvokedProductionVariant`` the response names: the split measured is the one a user of the endpoint sees.

- Split: for each pair of weights (set with UpdateEndpointWeightsAndCapacities on one two-variant endpoint) and
  each request count, the challenger's realised share against its configured share, over several repeats: mean
  absolute deviation and the largest, beside what a fair random split gives (the binomial mean absolute deviation,
  about ``sqrt(2 p (1 - p) / (pi n))``).
- Throughput: one-variant and two-variant (0.5/0.5) endpoints taking turns under the same concurrent clients,
  requests/s and latency medians over the rounds.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from machine import RESULTS, publish
from serving import train_model

REGION = "us-east-1"
BUCKET = "benchmark"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
SPLITS = [(0.9, 0.1), (0.5, 0.5), (0.8, 0.2)]
"""(champion, challenger) weights."""


def client(service: str, url: str) -> Any:
    import boto3

    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )


def invoke(args: tuple[str, str, bytes, int, float]) -> tuple[Counter[str], list[float], int]:
    """One client process: requests back to back until ``count`` are answered or ``stop_at`` (epoch seconds) passes;
    the variants that answered, each request's latency (ms) and the failures."""
    url, endpoint, body, count, stop_at = args
    runtime = client("sagemaker-runtime", url)
    variants: Counter[str] = Counter()
    latencies: list[float] = []
    failures = 0
    while len(latencies) < count and time.time() < stop_at:
        started = time.perf_counter()
        try:
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="text/csv"
            )
            answer["Body"].read()
            variants[answer["InvokedProductionVariant"]] += 1
            latencies.append((time.perf_counter() - started) * 1000)
        except Exception:
            failures += 1
    return variants, latencies, failures


class LocalEndpoints:
    """The emulator with local mode's endpoint runner, the ml/ code published and one model uploaded."""

    def __init__(self, scratch: Path, model_archive: Path) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        from driftline.local import endpoints, sagemaker
        from driftline.local.console import Console
        from driftline.local.http_guard import GuardedMotoServer

        moto_api_backend.reset()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = GuardedMotoServer("127.0.0.1", 0)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.runner = endpoints.EndpointRunner(
            endpoints_dir=scratch / "endpoints",
            endpoint_url=self.url,
            region=REGION,
            console=Console(),
            capture_flush_seconds=3600,
        )
        endpoints.install(self.runner)
        s3 = client("s3", self.url)
        s3.create_bucket(Bucket=BUCKET)
        code = sagemaker._code_publisher().publish_ml_code(BUCKET, sagemaker.ML_DIR, s3=s3)
        s3.upload_file(str(model_archive), BUCKET, "models/model.tar.gz")
        self.sagemaker = client("sagemaker", self.url)
        for name in ("champion", "challenger"):
            self.sagemaker.create_model(
                ModelName=name,
                ExecutionRoleArn=ROLE,
                PrimaryContainer={
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://{BUCKET}/models/model.tar.gz",
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "serve.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": f"{code.uri}sourcedir.tar.gz",
                    },
                },
            )

    def endpoint(self, name: str, weights: dict[str, float]) -> None:
        """An endpoint with a variant per model named in ``weights`` (champion, challenger), InService."""
        variants = [
            {
                "VariantName": model.capitalize(),
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for model, weight in weights.items()
        ]
        self.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants)
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        self.wait(name)

    def reweigh(self, name: str, weights: dict[str, float]) -> None:
        self.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[
                {"VariantName": model.capitalize(), "DesiredWeight": weight} for model, weight in weights.items()
            ],
        )
        self.wait(name)

    def wait(self, name: str) -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            described = self.sagemaker.describe_endpoint(EndpointName=name)
            if described["EndpointStatus"] == "InService":
                return
            if described["EndpointStatus"] == "Failed":
                raise RuntimeError(f"{name} failed: {described.get('FailureReason')}")
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not come InService in 120 s")

    def stop(self) -> None:
        from driftline.local import seams

        self.runner.stop()
        self.server.stop()
        seams.restore()


def send(
    pool: Any, url: str, endpoint: str, body: bytes, *, count: int, clients: int, seconds: float
) -> dict[str, Any]:
    """``count`` requests (or ``seconds`` of them) from ``clients`` processes at once."""
    shares = [count // clients + (i < count % clients) for i in range(clients)]
    started = time.perf_counter()
    results = pool.map(invoke, [(url, endpoint, body, share, time.time() + seconds) for share in shares])
    elapsed = time.perf_counter() - started
    variants: Counter[str] = sum((result[0] for result in results), Counter())
    latencies = sorted(latency for result in results for latency in result[1])
    return {
        "variants": variants,
        "answered": len(latencies),
        "failures": sum(result[2] for result in results),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10000], help="requests per split measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each split and count")
    parser.add_argument("--clients", type=int, default=4, help="client processes sending at once")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per throughput case")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds, the endpoints taking turns")
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS.name}")
    args = parser.parse_args()
    loads = []
    with tempfile.TemporaryDirectory() as scratch:
        model_dir, row = train_model(Path(scratch) / "trained")
        archive = Path(scratch) / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for file in sorted(model_dir.iterdir()):
                tar.add(file, arcname=file.name)
        local = LocalEndpoints(Path(scratch), archive)
        body = row.encode()
        try:
            local.endpoint("split", {"champion": 1.0, "challenger": 1.0})
            local.endpoint("one", {"champion": 1.0})
            local.endpoint("two", {"champion": 0.5, "challenger": 0.5})
            with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
                send(pool, local.url, "split", body, count=args.clients * 20, clients=args.clients, seconds=60)  # warm
                deviations: dict[tuple[tuple[float, float], int], list[float]] = {}
                split_seconds: list[float] = []
                for weights in SPLITS:
                    local.reweigh("split", {"champion": weights[0], "challenger": weights[1]})
                    expected = weights[1] / sum(weights)
                    for count in args.counts:
                        for _ in range(args.repeats):
                            started = time.perf_counter()
                            got = send(pool, local.url, "split", body, count=count, clients=args.clients, seconds=600)
                            split_seconds.append(time.perf_counter() - started)
                            if got["answered"] != count or got["failures"]:
                                raise RuntimeError(f"{got['failures']} failed of {count} requests")
                            share = got["variants"]["Challenger"] / count
                            deviations.setdefault((weights, count), []).append(abs(share - expected))
                        loads.append(os.getloadavg()[0])
                throughput: dict[str, list[dict[str, Any]]] = {"one": [], "two": []}
                for _ in range(args.rounds):
                    for name in throughput:
                        throughput[name].append(
                            send(pool, local.url, name, body, count=10**9, clients=args.clients, seconds=args.seconds)
                        )
                        loads.append(os.getloadavg()[0])
        finally:
            local.stop()
    lines = [
        "### Traffic split between production variants (benchmarks/traffic_split.py)",
        f"- one emulator with local mode's endpoint runner; both variants serve the breast cancer model "
        f"(HistGradientBoostingClassifier, {len(body)}-byte CSV row); every request a boto3 InvokeEndpoint from "
        f"{args.clients} client processes at once, its variant read from InvokedProductionVariant",
        f"- split: challenger's realised share against weight / sum of weights, {args.repeats} repeats per case "
        f"(weights changed with UpdateEndpointWeightsAndCapacities; {sum(split_seconds):.0f} s of requests)",
    ]
    widest = 0.0
    for (weights, count), found in deviations.items():
        expected = weights[1] / sum(weights)
        deviation = math.sqrt(expected * (1 - expected) / count)
        binomial = deviation * math.sqrt(2 / math.pi)
        widest = max(widest, max(found) / deviation)
        lines.append(
            f"  - {weights[0]:g}/{weights[1]:g}, {count:,} requests: mean absolute deviation "
            f"**{statistics.mean(found):.4f}**, max {max(found):.4f} (a fair random split: {binomial:.4f} on average)"
        )
    lines.append(
        f"  - the largest of the {len(deviations) * args.repeats} deviations is {widest:.2f} standard deviations of a "
        "fair random split of its count (one measurement of a fair split passes 3 about once in 370)"
    )
    medians = {
        name: {key: statistics.median(r[key] for r in rounds) for key in ("rps", "p50_ms", "p99_ms")}
        for name, rounds in throughput.items()
    }
    failed = sum(r["failures"] for rounds in throughput.values() for r in rounds)
    for name, label in (("one", "one variant"), ("two", "two variants (0.5/0.5)")):
        figures = medians[name]
        lines.append(
            f"- {label}: **{figures['rps']:,.0f} req/s**, p50 {figures['p50_ms']:.2f} ms, p99 "
            f"{figures['p99_ms']:.2f} ms (medians of {args.rounds} rounds of {args.seconds:g} s, the endpoints "
            "taking turns)"
        )
    lines.append(
        f"- two variants / one variant throughput: {medians['two']['rps'] / medians['one']['rps']:.2f}x; failed "
        f"requests: {failed}"
    )
    lines.append(
        f"- note: clients, emulator and model servers share the cores; load average {min(loads):.1f} to "
        f"{max(loads):.1f} during the run"
    )
    publish(lines, record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
