"""The A/B trial analysis job run as SageMaker runs it, on generated data capture files of two variants and
ground-truth labels in both layouts (Model Monitor's JSON lines and CSV)."""

from __future__ import annotations

import ast
import base64
import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trial_analysis

from driftline_ml import capture
from driftline_ml.drift import MAX_KEYS, OTHER_KEYS

ML_DIR = Path(__file__).resolve().parents[2] / "ml"
CHAMPION = "AllTraffic"
CHALLENGER = "v2"
TIME = "2026-12-01T10:15:00Z"
CLASSES = ("no", "yes")


def capture_line(
    event_id: str,
    answer: str,
    *,
    content_type: str = "text/csv",
    inference_id: str | None = None,
    time: str | None = TIME,
    encoding: str = "CSV",
) -> str:
    """One capture record as SageMaker writes it; ``answer`` is the endpoint's response body."""
    metadata = {"eventId": event_id}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    if time is not None:
        metadata["inferenceTime"] = time
    data = base64.b64encode(answer.encode()).decode() if encoding == "BASE64" else answer
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1.5,2", "encoding": "CSV"},
            "endpointOutput": {
                "observedContentType": content_type,
                "mode": "OUTPUT",
                "data": data,
                "encoding": encoding,
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def csv_answer(label: str, positive: float) -> str:
    """serve.py's text/csv answer of a classifier: the label, then each class's probability in class order."""
    return f"{label},{1 - positive!r},{positive!r}\n"


def json_answer(label: str, positive: float) -> str:
    probabilities = {"no": 1 - positive, "yes": positive}
    return json.dumps({"predictions": [{"predicted_label": label, "probabilities": probabilities}]})


def ground_truth_line(event_id: str, label: str) -> str:
    record = {"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": event_id}}
    return json.dumps({**record, "eventVersion": "0"}) + "\n"


def write_capture(root: Path, variant: str, lines: list[str], files: int = 2, minute: int = 10) -> Path:
    """Lines in SageMaker's <endpoint>/<variant>/yyyy/mm/dd/hh/ layout, under the variant's processing input, in
    files named after ``minute``; the last file's path."""
    hour = root / "capture" / variant / "credit-endpoint" / variant / "2026" / "12" / "01" / "10"
    hour.mkdir(parents=True, exist_ok=True)
    path = hour
    for index, part in enumerate(np.array_split(np.array(lines, dtype=object), files)):
        path = hour / f"{minute:02d}-{index:02d}-000-{variant}.jsonl"
        path.write_text("".join(part))
    return path


def write_ground_truth(root: Path, lines: list[str], name: str = "labels.jsonl") -> None:
    hour = root / "labels" / "2026" / "12" / "02" / "08"
    hour.mkdir(parents=True, exist_ok=True)
    (hour / name).write_text("".join(lines))


def write_label_csv(root: Path, pairs: list[tuple[str, str]], target: str = "approved") -> None:
    folder = root / "labels"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.csv").write_text(f"{target},inference_id\n" + "".join(f"{label},{key}\n" for key, label in pairs))


def answered(truth: str, accuracy: float, rng: np.random.Generator) -> tuple[str, float]:
    """A classifier's answer that is right with probability ``accuracy``, and its score for "yes"."""
    label = truth if rng.random() < accuracy else CLASSES[1 - CLASSES.index(truth)]
    return label, float(np.clip((0.75 if label == "yes" else 0.25) + rng.normal(0, 0.1), 0.01, 0.99))


def split_trial(
    root: Path,
    accuracies: dict[str, float],
    rows: int,
    *,
    seed: int = 0,
    answer: Callable[[str, float], str] = csv_answer,
    content_type: str = "text/csv",
    with_inference_ids: bool = False,
) -> list[tuple[str, str]]:
    """Each variant answers its own ``rows`` requests; returns (id, true label) for every request."""
    rng = np.random.default_rng(seed)
    labels = []
    for variant, accuracy in accuracies.items():
        lines = []
        for index in range(rows):
            event_id = f"{variant}-event-{index}"
            inference_id = f"{variant}-request-{index}" if with_inference_ids else None
            truth = str(rng.choice(CLASSES))
            body = answer(*answered(truth, accuracy, rng))
            lines.append(capture_line(event_id, body, content_type=content_type, inference_id=inference_id))
            labels.append((inference_id or event_id, truth))
        write_capture(root, variant, lines)
    return labels


def run(root: Path, *args: str) -> tuple[int, dict[str, Any] | None]:
    """Run the job in this process on ``root``'s inputs; its exit code and trial.json (None when it failed)."""
    code = trial_analysis.main(
        [
            "--challenger-variant",
            CHALLENGER,
            "--capture-dir",
            str(root / "capture"),
            "--labels-dir",
            str(root / "labels"),
            "--config-dir",
            str(root / "config"),
            "--output-dir",
            str(root / "out"),
            "--message-file",
            str(root / "message"),
            *args,
        ]
    )
    trial = root / "out" / "trial.json"
    return code, json.loads(trial.read_text()) if code == 0 else None


def report(root: Path) -> str:
    return (root / "out" / "trial_report.html").read_text()


CLASSIFIER = ("--problem-type", "binary_classification", "--metric", "accuracy")


# -- decisions ----------------------------------------------------------------------------------------------------


def test_a_split_trial_labelled_in_model_monitors_layout_promotes_the_better_challenger(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.70, CHALLENGER: 0.90}, rows=300)
    write_ground_truth(tmp_path, [ground_truth_line(key, label) for key, label in labels])

    # As SageMaker starts it: the script itself, in a fresh interpreter.
    folders: list[str | Path] = ["--capture-dir", tmp_path / "capture", "--labels-dir", tmp_path / "labels"]
    folders += ["--output-dir", tmp_path / "out", "--message-file", tmp_path / "message"]
    result = subprocess.run(
        [sys.executable, ML_DIR / "trial_analysis.py", "--challenger-variant", CHALLENGER, *CLASSIFIER, *folders],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    trial = json.loads((tmp_path / "out" / "trial.json").read_text())
    assert trial["decision"] == "challenger" and trial["finding"] == "challenger_better"
    assert trial["test"]["name"] == "two_proportion_z_test"
    assert trial["test"]["p_value"] < 0.05 and trial["test"]["challenger_better"]
    for role, variant in (("champion", CHAMPION), ("challenger", CHALLENGER)):
        side = trial[role]
        assert side["variant"] == variant
        assert side["requests"] == side["labelled_rows"] == side["compared_rows"] == 300
        low, high = side["metric_interval"]["low"], side["metric_interval"]["high"]
        assert low < side["metric_value"] < high
    assert trial["champion"]["metric_value"] < 0.8 < trial["challenger"]["metric_value"]
    assert trial["labels"]["matched_ids"] == 600 and trial["labels"]["unmatched_ids"] == 0
    assert "decision: challenger" in result.stdout
    assert "Promote the challenger" in report(tmp_path)


def test_a_split_trial_labelled_by_csv_keeps_a_worse_challenger_out(tmp_path: Path) -> None:
    labels = split_trial(
        tmp_path,
        {CHAMPION: 0.90, CHALLENGER: 0.70},
        rows=300,
        answer=json_answer,
        content_type="application/json",
        with_inference_ids=True,
    )
    write_label_csv(tmp_path, labels)

    code, trial = run(tmp_path, *CLASSIFIER, "--target", "approved")

    assert code == 0 and trial is not None
    assert trial["decision"] == "champion" and trial["finding"] == "champion_better"
    assert not trial["test"]["challenger_better"] and trial["test"]["p_value"] < 0.05
    assert trial["challenger"]["labelled_rows"] == 300
    assert "The champion is significantly better" in trial["reason"]


def test_a_shadow_trial_compares_the_answers_to_the_same_requests(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    champion_lines, challenger_lines, labels = [], [], []
    for index in range(400):
        truth = str(rng.choice(CLASSES))
        request = f"request-{index}"
        champion_lines.append(capture_line(f"e-{index}", csv_answer(*answered(truth, 0.75, rng)), inference_id=request))
        if index % 5:  # 80% of the requests are copied to the shadow variant
            answer = csv_answer(*answered(truth, 0.92, rng))
            challenger_lines.append(capture_line(f"s-{index}", answer, inference_id=request))
        labels.append(ground_truth_line(request, truth))
    write_capture(tmp_path, CHAMPION, champion_lines)
    write_capture(tmp_path, CHALLENGER, challenger_lines)
    write_ground_truth(tmp_path, labels)

    code, trial = run(tmp_path, *CLASSIFIER, "--mode", "shadow", "--min-labelled-rows", "300")

    assert code == 0 and trial is not None
    assert trial["decision"] == "challenger"
    assert trial["test"]["name"] == "mcnemar_mid_p_test"
    assert trial["champion"]["labelled_rows"] == 400 and trial["challenger"]["labelled_rows"] == 320
    assert trial["champion"]["compared_rows"] == trial["challenger"]["compared_rows"] == 320
    details = trial["test"]["details"]
    assert sum(details[k] for k in ("both_right", "both_wrong", "champion_only_right", "challenger_only_right")) == 320
    assert details["challenger_only_right"] > details["champion_only_right"]


def test_too_few_labelled_rows_decide_nothing_and_say_how_many(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.7, CHALLENGER: 0.95}, rows=60)
    # Labels have come back for 37 of the challenger's 60 requests so far.
    kept = [(key, label) for key, label in labels if key.startswith(CHAMPION) or int(key.rsplit("-", 1)[1]) < 37]
    write_ground_truth(tmp_path, [ground_truth_line(key, label) for key, label in kept])

    code, trial = run(tmp_path, *CLASSIFIER, "--min-labelled-rows", "50")

    assert code == 0 and trial is not None
    assert trial["decision"] == "not_enough_evidence" and trial["test"] is None
    assert trial["reason"] == "Not enough evidence: the challenger (v2) has 37 labelled rows, 50 needed."
    assert trial["challenger"]["requests"] == 60 and trial["challenger"]["labelled_rows"] == 37
    assert "Not enough evidence" in report(tmp_path) and "No test was run" in report(tmp_path)


def test_records_outside_the_trial_window_are_ignored(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.8, CHALLENGER: 0.8}, rows=250, seed=3)
    # Before the trial, the challenger variant answered perfectly (its warm-up): that must not count.
    before = [capture_line(f"early-{i}", csv_answer("yes", 0.9), time="2026-12-01T09:59:59Z") for i in range(500)]
    unplaced = [capture_line("no-time", csv_answer("yes", 0.9), time=None)]
    write_capture(tmp_path, CHALLENGER, before + unplaced, files=1, minute=55)
    labels += [(f"early-{i}", "yes") for i in range(500)] + [("no-time", "yes")]
    write_ground_truth(tmp_path, [ground_truth_line(key, label) for key, label in labels])

    code, trial = run(
        tmp_path, *CLASSIFIER, "--start-time", "2026-12-01T10:00:00Z", "--end-time", "2026-12-01T11:00:00Z"
    )

    assert code == 0 and trial is not None
    challenger = trial["challenger"]
    assert challenger["outside_window"] == 500 and challenger["requests"] == challenger["labelled_rows"] == 250
    assert challenger["unreadable_reasons"] == {
        "no readable eventMetadata.inferenceTime, so it cannot be placed in the window": 1
    }
    assert trial["labels"]["unmatched_ids"] == 501
    assert trial["decision"] == "champion" and trial["finding"] == "no_significant_difference"
    assert trial["window"] == {"start": "2026-12-01T10:00:00Z", "end": "2026-12-01T11:00:00Z"}
    # Counted without the window, the warm-up would have crowned the challenger.
    _, unwindowed = run(tmp_path, *CLASSIFIER)
    assert unwindowed is not None and unwindowed["decision"] == "challenger"


def test_malformed_capture_and_label_lines_are_counted_never_fatal(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.8, CHALLENGER: 0.8}, rows=220, seed=4)
    bad_capture = [
        "not json at all\n",
        "[1, 2, 3]\n",
        '{"captureData": {"endpointInput": {"data": "1,2", "encoding": "CSV"}}, "eventMetadata": {"eventId": "x1"}}\n',
        capture_line("x2", csv_answer("maybe,", 0.5).replace("maybe,", "")),  # an answer without a label
        capture_line("x3", "{not json", content_type="application/json"),
        capture_line("x4", "yes", content_type="image/png"),
        capture_line("x5", json_answer("yes", 0.8)),  # a JSON answer recorded as text/csv
        "\n",
    ]
    bad_file = write_capture(tmp_path, CHALLENGER, bad_capture, files=1, minute=55)
    with bad_file.open("ab") as file:
        file.write(b"\xff\xfe not UTF-8\n")
    bad_labels = [
        "{broken\n",
        json.dumps({"groundTruthData": {"data": "yes"}, "eventMetadata": {}}) + "\n",
        json.dumps({"groundTruthData": {"data": "yes", "encoding": "XML"}, "eventMetadata": {"eventId": "a"}}) + "\n",
        ground_truth_line("nobody-asked", "yes"),
        ground_truth_line(f"{CHALLENGER}-event-0", ""),
    ]
    write_ground_truth(tmp_path, [ground_truth_line(key, label) for key, label in labels])
    write_ground_truth(tmp_path, bad_labels, name="later.jsonl")
    (tmp_path / "labels" / "notes.txt").write_text("labelled by the night shift\n")

    code, trial = run(tmp_path, *CLASSIFIER)

    assert code == 0 and trial is not None
    challenger = trial["challenger"]
    assert challenger["unreadable_records"] == 8
    assert challenger["records"] == challenger["requests"] + challenger["outside_window"] + 8 == 228
    reasons = challenger["unreadable_reasons"]
    assert reasons["not a JSON object"] == 2
    assert reasons["not UTF-8 text"] == 1
    assert any(reason.startswith("no captureData.endpointOutput.data") for reason in reasons)
    assert "the answer names no class label" in reasons
    assert "endpointOutput.data is not JSON, as its content type says" in reasons
    assert any("image/png" in reason for reason in reasons)
    assert any(reason.startswith("the answer's class probabilities are not numbers") for reason in reasons)
    assert all(example.startswith("55-00-000-v2.jsonl line ") for example in challenger["unreadable_examples"])
    labels_section = trial["labels"]
    assert labels_section["unreadable_records"] == 3 and labels_section["other_files"] == ["notes.txt"]
    assert labels_section["unmatched_ids"] == 1  # "nobody-asked"
    assert labels_section["repeated_ids"] == 1  # v2-event-0 labelled again, emptily, in a later file
    assert challenger["unusable_label_reasons"] == {"an empty label": 1}
    assert challenger["labelled_rows"] == 219
    page = report(tmp_path)
    assert "8 capture records not read" in page and "notes.txt" in page


def test_reasons_quoting_what_records_held_are_counted_together_past_a_hundred_kinds(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.8, CHALLENGER: 0.8}, rows=210, seed=5)
    write_ground_truth(tmp_path, [ground_truth_line(key, label) for key, label in labels])
    hostile = [capture_line(f"h-{i}", "yes", content_type=f"image/x-{i}") for i in range(MAX_KEYS + 50)]
    write_capture(tmp_path, CHALLENGER, hostile, files=1, minute=55)

    code, trial = run(tmp_path, *CLASSIFIER)

    assert code == 0 and trial is not None
    reasons = trial["challenger"]["unreadable_reasons"]
    assert len(reasons) == MAX_KEYS + 1 and reasons[OTHER_KEYS] == 50
    assert sum(reasons.values()) == trial["challenger"]["unreadable_records"] == MAX_KEYS + 50


def test_an_answer_of_several_rows_takes_as_many_labels(tmp_path: Path) -> None:
    lines = [capture_line(f"e-{i}", csv_answer("yes", 0.8) + csv_answer("no", 0.3)) for i in range(3)]
    write_capture(tmp_path, CHAMPION, lines, files=1)
    write_capture(tmp_path, CHALLENGER, [capture_line("c-0", csv_answer("yes", 0.8))], files=1)
    truth = [ground_truth_line("e-0", "yes,no"), ground_truth_line("e-1", "yes,yes"), ground_truth_line("e-2", "yes")]
    write_ground_truth(tmp_path, [*truth, ground_truth_line("c-0", "yes")])

    code, trial = run(tmp_path, *CLASSIFIER, "--min-labelled-rows", "1")

    assert code == 0 and trial is not None
    champion = trial["champion"]
    assert champion["labelled_rows"] == 4 and champion["metric_value"] == pytest.approx(3 / 4)
    assert champion["unusable_label_reasons"] == {"a label with 1 value(s) for an answer of 2 row(s)": 1}


def test_labels_in_either_layout_compressed_or_not_are_read_together(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.8, CHALLENGER: 0.8}, rows=250, seed=8, with_inference_ids=True)
    folder = tmp_path / "labels"
    (folder / "2026" / "12" / "02").mkdir(parents=True)
    champion = [(key, label) for key, label in labels if key.startswith(CHAMPION)]
    challenger = [(key, label) for key, label in labels if key.startswith(CHALLENGER)]
    # A spreadsheet's export: a byte-order mark, no target name known, so its one other column is the label.
    table = "\ufeffinference_id,label\n" + "".join(f"{key},{label}\n" for key, label in champion)
    (folder / "champion.csv.gz").write_bytes(gzip.compress(table.encode("utf-8")))
    lines = "".join(ground_truth_line(key, label) for key, label in challenger)
    (folder / "2026" / "12" / "02" / "challenger.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    (folder / "other.csv").write_text("id,label\nx,yes\n")

    code, trial = run(tmp_path, *CLASSIFIER)

    assert code == 0 and trial is not None
    assert trial["champion"]["labelled_rows"] == trial["challenger"]["labelled_rows"] == 250
    assert trial["labels"]["files"] == 3 and trial["labels"]["labelled_ids"] == 500
    assert trial["labels"]["unreadable_examples"] == [
        "other.csv line 1: a label CSV whose header does not name 'inference_id' and one label column; the file is "
        "not read"
    ]


def test_a_label_csv_line_past_the_line_limit_is_not_held_and_the_lines_before_it_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "MAX_RECORD_BYTES", 64 * 1024)
    monkeypatch.setattr(capture, "CHUNK_BYTES", 4096)
    labels = split_trial(tmp_path, {CHAMPION: 0.8, CHALLENGER: 0.8}, rows=210, seed=9, with_inference_ids=True)
    table = "inference_id,label\n" + "".join(f"{key},{label}\n" for key, label in labels)
    after = "late-id,yes\n"
    (tmp_path / "labels").mkdir(exist_ok=True)
    (tmp_path / "labels" / "labels.csv").write_text(table + "x" * (1024 * 1024) + "\n" + after)

    code, trial = run(tmp_path, *CLASSIFIER)

    assert code == 0 and trial is not None
    assert trial["champion"]["labelled_rows"] == trial["challenger"]["labelled_rows"] == 210
    assert trial["labels"]["unreadable_records"] == 1
    [example] = trial["labels"]["unreadable_examples"]
    assert example.startswith(f"labels.csv line {len(labels) + 2}: ") and "the rest of the file is not read" in example


@pytest.mark.parametrize(
    ("champion_error", "challenger_error", "decision"), [(3.0, 2.0, "challenger"), (2.0, 3.0, "champion")]
)
def test_a_lower_regression_error_wins(
    tmp_path: Path, champion_error: float, challenger_error: float, decision: str
) -> None:
    rng = np.random.default_rng(5)
    labels = []
    for variant, spread in ((CHAMPION, champion_error), (CHALLENGER, challenger_error)):
        lines = []
        for index in range(400):
            truth = float(rng.normal(100, 20))
            answer = json.dumps({"predictions": [{"predicted_value": truth + float(rng.normal(0, spread))}]})
            lines.append(capture_line(f"{variant}-{index}", answer, content_type="application/json", encoding="BASE64"))
            labels.append(ground_truth_line(f"{variant}-{index}", f"{truth:.6f}"))
        write_capture(tmp_path, variant, lines)
    write_ground_truth(tmp_path, labels)

    code, trial = run(tmp_path, "--problem-type", "regression", "--metric", "rmse", "--resamples", "300")

    assert code == 0 and trial is not None
    assert trial["higher_is_better"] is False and trial["test"]["name"] == "welch_t_test"
    assert trial["decision"] == decision
    assert trial["finding"] == ("challenger_better" if decision == "challenger" else "champion_better")
    # rmse falls as the challenger gets better: a negative difference is the challenger's way.
    assert (trial["test"]["difference"] < 0) == (decision == "challenger") == trial["test"]["challenger_better"]
    assert trial["champion"]["metric_value"] == pytest.approx(champion_error, rel=0.15)


def test_problem_type_metric_and_label_column_come_from_the_run_config(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.65, CHALLENGER: 0.9}, rows=250, seed=6, with_inference_ids=True)
    write_label_csv(tmp_path, labels, target="approved")
    (tmp_path / "config").mkdir()
    config = {"problem_type": "binary_classification", "metric": "f1", "target": "approved", "dataset": "credit"}
    (tmp_path / "config" / "config.json").write_text(json.dumps(config))

    code, trial = run(tmp_path, "--resamples", "300")

    assert code == 0 and trial is not None
    assert (trial["problem_type"], trial["metric"]) == ("binary_classification", "f1")
    assert trial["positive_class"] == "yes"
    assert trial["test"]["name"] == "permutation_test" and trial["test"]["details"]["permutations"] == 300
    assert trial["decision"] == "challenger"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--problem-type", "regression", "--metric", "accuracy"), "metric 'accuracy' is not one of regression's"),
        (("--metric", "accuracy"), "the problem type is not known"),
        ((*CLASSIFIER, "--champion-variant", CHALLENGER), "the champion and the challenger are the same variant"),
        ((*CLASSIFIER, "--start-time", "yesterday"), "start_time 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_inputs_the_job_cannot_work_with_fail_with_a_reason(
    tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.8, CHALLENGER: 0.8}, rows=5)
    write_ground_truth(tmp_path, [ground_truth_line(key, label) for key, label in labels])

    code, _ = run(tmp_path, *arguments)

    assert code == 1
    assert message in (tmp_path / "message").read_text()


def test_inputs_left_out_for_lack_of_files_leave_the_trial_undecided_and_say_so(tmp_path: Path) -> None:
    # SageMaker refuses an input whose S3 prefix holds no object, so the caller leaves it out.
    split_trial(tmp_path, {CHAMPION: 0.8}, rows=50)

    code, trial = run(tmp_path, *CLASSIFIER)

    assert code == 0 and trial is not None
    assert trial["decision"] == "not_enough_evidence" and trial["challenger"]["capture_files"] == 0
    assert trial["reason"] == (
        "Not enough evidence: the champion (AllTraffic) has 0 labelled rows and the challenger (v2) 0, 200 needed "
        f"each. The job was given no capture files for the challenger (v2) under {tmp_path / 'capture' / 'v2'} and "
        f"no label files under {tmp_path / 'labels'} (the capture input holds 'AllTraffic')."
    )


def test_the_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    labels = split_trial(tmp_path, {CHAMPION: 0.8, CHALLENGER: 0.8}, rows=210, seed=7)
    write_ground_truth(tmp_path, [ground_truth_line(key, label) for key, label in labels])
    write_capture(tmp_path, CHALLENGER, ['<img src="https://example.com/x.png">\n'], files=1, minute=55)

    code, trial = run(tmp_path, *CLASSIFIER, "--endpoint-name", "credit<script>alert(1)</script>")

    assert code == 0 and trial is not None
    page = report(tmp_path)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "http" not in page and "src=" not in page and "<link" not in page
    assert "No significant difference" in page and "Variants" in page


JOB_CODE = [
    "trial_analysis.py",
    "driftline_ml/values.py",
    "driftline_ml/trial_data.py",
    "driftline_ml/trial_statistics.py",
    "driftline_ml/trial_report.py",
]


def test_the_job_is_published_with_the_code_it_imports() -> None:
    # Imported here: the publisher needs boto3, which the rest of this module (run on the container's libraries
    # too) does not.
    from code_publisher import code_files

    published = {path.relative_to(ML_DIR).as_posix() for path in code_files(ML_DIR)}
    assert set(JOB_CODE) <= published


@pytest.mark.parametrize("path", JOB_CODE)
def test_the_job_code_is_valid_python_3_9_as_in_the_scikit_learn_1_2_1_container(path: str) -> None:
    ast.parse((ML_DIR / path).read_text(), filename=path, feature_version=(3, 9))
