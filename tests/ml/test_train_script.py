"""A dataset's own training script run as SageMaker's framework container runs the job: ``python train_script.py
--model_script <name> --<hyperparameter> <value>`` with the channels and the model folder in ``SM_*`` variables; the
model folder it leaves is the one serving reads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.ml.test_train import ML_DIR, job_env, training_env, write_channels


def run_script(
    root: Path, *args: str, hps: dict[str, str] | None = None, code: Path = ML_DIR, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    (root / "output").mkdir(parents=True, exist_ok=True)
    env = training_env(root, SM_HPS=json.dumps(hps or {}), **extra_env)
    return subprocess.run(
        [sys.executable, str(code / "train_script.py"), *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("problem_type", ["binary_classification", "regression"])
def test_the_worked_example_trains_a_model_that_serving_loads_and_answers_with(
    tmp_path: Path, problem_type: str
) -> None:
    sys.path.insert(0, str(ML_DIR))
    from driftline_ml.serving import load_serving_model, predict

    write_channels(tmp_path, problem_type)
    hps = {"C": "0.5", "target": "label", "problem_type": problem_type, "model_script": "logistic_regression"}

    done = run_script(tmp_path, "--model_script", "logistic_regression", "--C", "0.5", hps=hps)

    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "model" / "model_metadata.json").read_text())
    assert metadata["model_script"] == "logistic_regression"
    assert metadata["hyperparameters"] == {"C": "0.5"}
    assert metadata["estimator"] == "Pipeline"
    metric = "accuracy" if problem_type != "regression" else "rmse"
    assert re.search(rf"^validation:{metric}=[0-9.]+$", done.stdout, re.MULTILINE), done.stdout
    model = load_serving_model(tmp_path / "model")
    answer = predict(model, np.array([[0.3, np.nan, 2.0], [-2.0, 1.0, np.nan]]))
    if problem_type == "regression":
        assert answer["values"].shape == (2,)
    else:
        assert answer["class_labels"] == ["no", "yes"] and answer["probabilities"].shape == (2, 2)
        assert metadata["validation_metrics"]["accuracy"] > 0.75


def test_what_a_model_carries_is_never_taken_from_the_job_s_environment(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("not for the model")
    write_channels(tmp_path, "binary_classification")

    done = run_script(
        tmp_path,
        "--model_script",
        "logistic_regression",
        DRIFTLINE_MODEL_PACKAGES=str(elsewhere),
        DRIFTLINE_MODEL_SCRIPT="other",
    )

    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in (tmp_path / "model").iterdir()) == ["model.joblib", "model_metadata.json"]
    assert json.loads((tmp_path / "model" / "model_metadata.json").read_text())["model_script"] == "logistic_regression"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../train", "is not a model folder's name"),
        ("Logistic", "is not a model folder's name"),
        ("no_such_model", "there is no training script models/no_such_model/train.py"),
        ("", "is not a model folder's name"),
    ],
)
def test_a_script_name_that_is_not_a_model_folder_fails_the_job_with_the_reason(
    tmp_path: Path, name: str, says: str
) -> None:
    write_channels(tmp_path, "binary_classification")

    done = run_script(tmp_path, "--model_script", name)

    assert done.returncode == 1
    assert says in (tmp_path / "output" / "failure").read_text()
    assert not (tmp_path / "model").exists()


def test_a_script_whose_train_returns_no_estimator_fails_saying_what_it_returned(tmp_path: Path) -> None:
    code = tmp_path / "code"
    shutil.copytree(ML_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "models" / "returns_nothing").mkdir()
    (code / "models" / "returns_nothing" / "train.py").write_text(
        "import sys\nfrom driftline_ml.model_script import run\nsys.exit(run(lambda data: None))\n"
    )
    write_channels(tmp_path, "binary_classification")

    done = run_script(tmp_path, "--model_script", "returns_nothing", code=code)

    assert done.returncode == 1
    reason = (tmp_path / "output" / "failure").read_text()
    assert "train() returned a NoneType, which has no predict or predict_proba" in reason


@pytest.mark.parametrize(
    ("module", "says"),
    [
        ("lightgbm", "name its package in ml/models/imports_more/requirements.txt"),
        ("xgboost.sklearn", 'run the script on XGBoost\'s framework container ("framework": "xgboost"'),
        ("torch.nn", 'run the script on PyTorch\'s framework container ("framework": "pytorch"'),
    ],
)
def test_a_script_importing_a_module_the_image_lacks_fails_naming_it_and_how_to_give_it(
    tmp_path: Path, module: str, says: str
) -> None:
    code = tmp_path / "code"
    shutil.copytree(ML_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "models" / "imports_more").mkdir()
    (code / "models" / "imports_more" / "train.py").write_text(f"import {module}\n")
    hidden = tmp_path / "hidden"  # made missing here, as the scikit-learn image lacks them
    for library in ("xgboost", "lightgbm", "torch"):
        (hidden / library).mkdir(parents=True)
        missing = f"raise ModuleNotFoundError(\"No module named '{library}'\", name={library!r})\n"
        (hidden / library / "__init__.py").write_text(missing)
    write_channels(tmp_path, "binary_classification")

    done = run_script(tmp_path, "--model_script", "imports_more", code=code, PYTHONPATH=str(hidden))

    assert done.returncode == 1
    reason = (tmp_path / "output" / "failure").read_text()
    name = module.split(".")[0]
    assert f"ml/models/imports_more/train.py imports {name}, which the training image does not hold" in reason
    assert says in reason


# Requirements ------------------------------------------------------------------------------------------------

HALVER = '''
"""A package a training script requires: a transformer the pickled model holds."""
class Halver:
    def fit(self, x, y=None):
        return self

    def transform(self, x):
        return x / 2

    def fit_transform(self, x, y=None):
        return self.transform(x)
'''

SCRIPT_WITH_A_REQUIREMENT = """
import sys

from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from halver import Halver
from driftline_ml.model_script import run



def train(data):
    return make_pipeline(SimpleImputer(), Halver(), LogisticRegression()).fit(data.x_train, data.y_train)


sys.exit(run(train))
"""


def write_wheel(folder: Path, name: str, version: str, module: str) -> Path:
    """A pure-Python wheel of one module, as pip installs it from a package index or a folder of wheels."""
    import base64
    import hashlib
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: driftline-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**files, f"{info}/RECORD": "\n".join(record) + "\n"}.items():
            archive.writestr(path, text)
    return wheel


def code_with_model(tmp_path: Path, name: str, script: str, requirements: str) -> Path:
    code = tmp_path / "code"
    shutil.copytree(ML_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "models" / name).mkdir()
    (code / "models" / name / "train.py").write_text(script)
    (code / "models" / name / "requirements.txt").write_text(requirements)
    return code


@pytest.fixture
def offline_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip reads only a folder of wheels, never a package index, and keeps its installs in this test's cache."""
    wheels = tmp_path / "wheels"
    write_wheel(wheels, "halver", "1.0", HALVER)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("DRIFTLINE_PACKAGE_CACHE", str(tmp_path / "package-cache"))
    return wheels


def test_a_script_s_requirements_are_installed_for_it_and_carried_in_its_model_for_serving(
    tmp_path: Path, offline_index: Path
) -> None:
    code = code_with_model(tmp_path, "halved", SCRIPT_WITH_A_REQUIREMENT, "halver==1.0\n")
    write_channels(tmp_path, "binary_classification")

    done = run_script(tmp_path, "--model_script", "halved", code=code)

    assert done.returncode == 0, done.stderr
    assert "Installing the packages models/halved/requirements.txt requires" in done.stdout
    assert (tmp_path / "model" / "packages" / "halver.py").is_file()
    # A process that never installed halver loads the model and answers: the model carries the package.
    loads = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np; "
            "from driftline_ml.serving import load_serving_model, predict; "
            "m = load_serving_model(__import__('pathlib').Path(sys.argv[2])); "
            "print(predict(m, np.array([[0.3, 1.0, 2.0]]))['labels'])",
            str(ML_DIR),
            str(tmp_path / "model"),
        ],
        capture_output=True,
        text=True,
        env=job_env(),
        cwd=tmp_path,
    )
    assert loads.returncode == 0, loads.stderr
    assert loads.stdout.strip() in ("['no']", "['yes']")

    # The same requirements are installed once: the next job uses what the first installed.
    shutil.rmtree(tmp_path / "model")
    again = run_script(tmp_path, "--model_script", "halved", code=code)
    assert again.returncode == 0, again.stderr
    assert "Using the packages models/halved/requirements.txt requires, installed before" in again.stdout


def test_a_requirement_pip_cannot_install_fails_the_job_with_pip_s_own_words(
    tmp_path: Path, offline_index: Path
) -> None:
    code = code_with_model(
        tmp_path, "halved", SCRIPT_WITH_A_REQUIREMENT, "halver==1.0\ndriftline-no-such-package==1.0\n"
    )
    write_channels(tmp_path, "binary_classification")

    done = run_script(tmp_path, "--model_script", "halved", code=code)

    assert done.returncode == 1
    reason = (tmp_path / "output" / "failure").read_text()
    assert reason.startswith("Training failed: pip could not install models/halved/requirements.txt (exit code 1)")
    assert "No matching distribution found for driftline-no-such-package==1.0" in reason
    assert not (tmp_path / "model").exists()
