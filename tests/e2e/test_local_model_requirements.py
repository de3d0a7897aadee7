"""A dataset's own training script that lacks a library: one whose requirements pip cannot install, and one that
imports XGBoost on the scikit-learn image, which has none. Each run fails at training with the reason in the
failure email, in local mode end to end.

The scripts have to be part of the application local mode runs (it runs only the application's own ml/ code), so
this module deploys a copy of the application with two more model folders: ``ml/models/unknown_requirement/``,
whose requirements name a package that does not exist (pip reads only an empty folder of wheels), and
``ml/models/needs_xgboost/``, the XGBoost worked example chosen without ``"framework": "xgboost"``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import upload_and_follow
from driftline.local.emulator import LocalCloud
from driftline.local.settings import REPO_ROOT
from tests.e2e.conftest import application_copy, running_cloud
from tests.e2e.local_objects import emails_about

pytestmark = pytest.mark.e2e

MODEL = "unknown_requirement"
MISSING = "driftline-no-such-package==1.0"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """Local mode deploying a copy of the application whose ml/ has the model with the missing requirement."""
    template = application_copy(tmp_path_factory.mktemp("application"), copied=("ml",))
    model = template.parent / "ml" / "models" / MODEL
    model.mkdir()
    shutil.copy2(REPO_ROOT / "ml" / "models" / "logistic_regression" / "train.py", model / "train.py")
    (model / "requirements.txt").write_text(f"{MISSING}\n")
    (template.parent / "ml" / "models" / "needs_xgboost").mkdir()
    shutil.copy2(
        REPO_ROOT / "ml" / "models" / "xgboost_trees" / "train.py", model.parent / "needs_xgboost" / "train.py"
    )
    wheels = tmp_path_factory.mktemp("no-wheels")
    patch = pytest.MonkeyPatch()
    # The jobs inherit local mode's environment, as they read a user's pip settings: no index, an empty folder.
    patch.setenv("PIP_NO_INDEX", "1")
    patch.setenv("PIP_FIND_LINKS", str(wheels))
    patch.setenv("PIP_NO_CACHE_DIR", "1")
    try:
        with running_cloud(tmp_path_factory, template=template) as local:
            yield local
    finally:
        patch.undo()


def test_a_requirement_pip_cannot_install_fails_the_run_with_pip_s_words_in_the_failure_email(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    config = {"target": "diagnosis", "metric": "accuracy", "threshold": 0.8, "model": {"script": MODEL}}

    record = upload_and_follow(cloud, "needs-a-package", csv_path, config=json.dumps(config).encode(), timeout=600)

    assert record.status == "FAILED"
    [mail] = [mail for mail in emails_about(cloud, record.execution_arn) if "failed" in mail.splitlines()[0]]
    flat = " ".join(mail.split())
    assert f"pip could not install models/{MODEL}/requirements.txt" in flat
    assert f"No matching distribution found for {MISSING}" in flat
    # Nothing was registered or deployed by the failed run.
    sagemaker = cloud.client("sagemaker")
    assert sagemaker.list_endpoints(NameContains="needs")["Endpoints"] == []


def test_a_script_importing_xgboost_on_the_scikit_learn_image_fails_as_on_aws_naming_the_framework_to_choose(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    config = {"target": "diagnosis", "metric": "accuracy", "threshold": 0.8, "model": {"script": "needs_xgboost"}}

    record = upload_and_follow(cloud, "needs-xgboost", csv_path, config=json.dumps(config).encode(), timeout=600)

    assert record.status == "FAILED"
    [mail] = [mail for mail in emails_about(cloud, record.execution_arn) if "failed" in mail.splitlines()[0]]
    flat = " ".join(mail.split())
    assert "ml/models/needs_xgboost/train.py imports xgboost, which the training image does not hold" in flat
    assert '"framework": "xgboost"' in flat
    assert cloud.client("sagemaker").list_endpoints(NameContains="needs-xgboost")["Endpoints"] == []
