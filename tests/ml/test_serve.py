"""The serving program as SageMaker's scikit-learn container runs it, on a model trained by the real scripts.

The container puts the submitted code folder first on the module path, imports ``serve`` and answers each
request with ``output_fn(predict_fn(input_fn(body, content_type), model), accept)`` after ``model_fn``. A
child process does exactly that here for every case below and reports status, content type and body.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from driftline.local import sagemaker
from tests.serving_model import ML_DIR, train_serving_model

CONTAINER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import serve
model = serve.model_fn(sys.argv[2])
cases = json.loads(sys.stdin.read())
for case in cases:
    body = case["body"] if case.get("text", True) else case["body"].encode()
    answer = serve.output_fn(serve.predict_fn(serve.input_fn(body, case["content_type"]), model), case["accept"])
    if isinstance(answer, tuple):
        print(json.dumps({"status": 200, "body": answer[0], "content_type": answer[1]}))
    else:
        print(json.dumps({"status": answer.status_code, "body": answer.get_data(as_text=True),
                          "content_type": answer.headers["Content-Type"]}))
# Local endpoints answer requests that arrive together with one predict_batch_fn call.
inputs = [serve.input_fn(case["body"], case["content_type"]) for case in cases]
batched = []
for case, prediction in zip(cases, serve.predict_batch_fn(inputs, model)):
    answer = serve.output_fn(prediction, case["accept"])
    batched.append(answer[0] if isinstance(answer, tuple) else answer.get_data(as_text=True))
print(json.dumps(batched))
"""

CSV, JSON = "text/csv", "application/json"
CASES: dict[str, tuple[str, str, str]] = {
    "csv_rows": ("1.5,0.3,red\n-2,0,blue\n", CSV, CSV),
    "csv_header": ("x1,x2,color\n1.5,0.3,red\n", CSV, CSV),
    "csv_missing_and_unseen": ("1.5,,purple\n", CSV, JSON),
    "csv_quoted": ('1.5,0.3,"red"\n', "text/csv; charset=utf-8", JSON),
    "json_lists": ('{"instances": [[1.5, 0.3, "red"], [-2, 0, "blue"]]}', JSON, JSON),
    "json_objects": ('{"instances": [{"x1": 1.5, "x2": 0.3, "color": "red"}, {"x1": -2, "color": "blue"}]}', JSON, CSV),
    "default_accept": ("1.5,0.3,red\n", CSV, "*/*"),
    "too_few_values": ("1.5,0.3\n", CSV, CSV),
    "text_in_numeric": ("1.5,high,red\n", CSV, CSV),
    "unknown_feature": ('{"instances": [{"x1": 1, "colour": "red"}]}', JSON, JSON),
    "not_json": ("{instances:", JSON, JSON),
    "json_nested_too_deep": (
        '{"instances": [[1.5, 0.3, "red"]], "pad": ' + "[" * 3000 + "]" * 3000 + "}",
        JSON,
        JSON,
    ),
    # deep enough that reading it depended on the server's stack: answered 200 on a shallow one before
    "json_padding_980_levels": (
        '{"instances": [[1.5, 0.3, "red"]], "pad": ' + "[" * 980 + "]" * 980 + "}",
        JSON,
        JSON,
    ),
    "json_value_nested": ('{"instances": [[1.5, 0.3, ' + "[" * 900 + '"red"' + "]" * 900 + "]]}", JSON, JSON),
    "json_value_a_list": ('{"instances": [{"x1": 1.5, "x2": 0.3, "color": ["red"]}]}', JSON, JSON),
    "csv_value_past_the_field_limit": ('1.5,0.3,"' + "r" * 200_000 + '"\n', CSV, CSV),
    "no_rows": ("\n", CSV, CSV),
    "unsupported_content_type": ("1.5,0.3,red", "application/x-parquet", CSV),
    "unsupported_accept": ("1.5,0.3,red", CSV, "application/x-protobuf"),
}


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    model_dir = train_serving_model(tmp_path_factory.mktemp("serve"))
    cases = [{"body": body, "content_type": ctype, "accept": accept} for body, ctype, accept in CASES.values()]
    result = subprocess.run(
        [sys.executable, "-c", CONTAINER, str(ML_DIR), str(model_dir)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    *lines, batched = result.stdout.splitlines()
    answers = {name: json.loads(line) for name, line in zip(CASES, lines, strict=True)}
    for name, body in zip(CASES, json.loads(batched), strict=True):
        answers[name]["batched_body"] = body
    return answers


def test_csv_rows_get_the_predicted_label_then_each_class_probability(answers: dict[str, dict[str, Any]]) -> None:
    answer = answers["csv_rows"]
    assert answer["status"] == 200 and answer["content_type"] == CSV
    rows = [line.split(",") for line in answer["body"].splitlines()]
    assert [row[0] for row in rows] == ["yes", "no"]
    for row in rows:
        probabilities = [float(p) for p in row[1:]]
        assert len(probabilities) == 2 and abs(sum(probabilities) - 1) < 1e-9
    assert float(rows[0][2]) > 0.5 > float(rows[1][2])


def test_a_header_row_naming_the_features_is_skipped(answers: dict[str, dict[str, Any]]) -> None:
    assert answers["csv_header"]["body"] == answers["csv_rows"]["body"].splitlines()[0] + "\n"


def test_json_instances_as_lists_or_objects_answer_like_csv(answers: dict[str, dict[str, Any]]) -> None:
    predictions = json.loads(answers["json_lists"]["body"])["predictions"]
    assert [p["predicted_label"] for p in predictions] == ["yes", "no"]
    assert set(predictions[0]["probabilities"]) == {"no", "yes"}
    csv_yes = float(answers["csv_rows"]["body"].split("\n")[0].split(",")[2])
    assert predictions[0]["probabilities"]["yes"] == pytest.approx(csv_yes)
    assert [line.split(",")[0] for line in answers["json_objects"]["body"].splitlines()] == ["yes", "no"]


def test_missing_values_and_categories_never_seen_in_training_are_answered(
    answers: dict[str, dict[str, Any]],
) -> None:
    for name in ("csv_missing_and_unseen", "csv_quoted"):
        answer = answers[name]
        assert answer["status"] == 200, answer
        assert json.loads(answer["body"])["predictions"][0]["predicted_label"] in ("no", "yes")


def test_any_accept_type_answers_json(answers: dict[str, dict[str, Any]]) -> None:
    assert answers["default_accept"]["content_type"] == JSON
    assert "predictions" in json.loads(answers["default_accept"]["body"])


@pytest.mark.parametrize(
    ("case", "status", "says"),
    [
        ("too_few_values", 400, "CSV row 1 has 2 values but the model takes 3 features (x1, x2, color)"),
        ("text_in_numeric", 400, "feature 'x2' is numeric but holds 'high'"),
        ("unknown_feature", 400, "names 'colour', which the model does not take"),
        ("not_json", 400, "not valid JSON"),
        ("json_nested_too_deep", 400, "nested too deeply"),
        ("json_padding_980_levels", 400, "nested too deeply to read (nested 981 levels deep"),
        ("json_value_nested", 400, "nested too deeply"),
        ("json_value_a_list", 400, "row 1: feature 'color' holds a JSON list"),
        ("csv_value_past_the_field_limit", 400, "CSV that cannot be read"),
        ("no_rows", 400, "holds no rows"),
        ("unsupported_content_type", 415, "content type 'application/x-parquet' is not supported"),
        ("unsupported_accept", 406, "accept type 'application/x-protobuf' is not supported"),
    ],
)
def test_requests_the_model_cannot_read_are_refused_with_a_4xx_and_the_reason(
    answers: dict[str, dict[str, Any]], case: str, status: int, says: str
) -> None:
    answer = answers[case]
    assert answer["status"] == status
    assert answer["content_type"] == JSON
    assert says in json.loads(answer["body"])["message"]


def test_requests_answered_together_get_the_answers_they_get_alone(answers: dict[str, dict[str, Any]]) -> None:
    for name, answer in answers.items():
        assert answer["batched_body"] == answer["body"], name


def test_the_serving_program_is_published_with_the_code_it_imports() -> None:
    published = {path.relative_to(ML_DIR).as_posix() for path in sagemaker._code_publisher().code_files(ML_DIR)}
    assert {"serve.py", "driftline_ml/serving.py", "driftline_ml/tabular.py"} <= published


@pytest.mark.parametrize("path", ["serve.py", "driftline_ml/serving.py", "driftline_ml/json_text.py"])
def test_serving_code_is_valid_python_3_9_as_in_the_scikit_learn_1_2_1_container(path: str) -> None:
    source = (ML_DIR / path).read_text()
    ast.parse(source, filename=path, feature_version=(3, 9))


def test_a_model_pickled_by_another_scikit_learn_names_both_versions_and_the_fix(tmp_path: Path) -> None:
    import sklearn

    from driftline_ml.jobs import JobInputError
    from driftline_ml.serving import load_estimator

    broken = tmp_path / "model.joblib"
    broken.write_bytes(b"not a pickle this scikit-learn can read")

    with pytest.raises(JobInputError) as refused:
        load_estimator(broken, trained_with="0.99.0")

    message = str(refused.value)
    assert "trained with scikit-learn 0.99.0" in message and sklearn.__version__ in message
    assert "SklearnContainerVersion" in message
