"""A training script's requirements.txt read as pip reads it: what pip takes passes, a line pip stops at is named."""

from __future__ import annotations

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from driftline_core.ingest.requirements_file import FRAMEWORK_PACKAGES, IMAGE_PACKAGES, requirements_problems

REQUIREMENT_LINES = [
    "lightgbm",
    "lightgbm==4.3.0",
    "scikit-learn>=1.2,<1.3",
    "scikit_learn ~= 1.2.1",
    "numpy!=1.24.0",
    "pandas[performance]==2.0.3",
    "requests[socks, security]>=2",
    "torch==2.1.0+cpu",
    'tomli>=1.1; python_version < "3.11"',
    "mypkg @ https://example.com/mypkg-1.0-py3-none-any.whl",
    "catboost===1.2.2",
    "xgboost (>=1.7)",
    "scikit-learn>=",
    "==1.0",
    "light gbm",
    "lightgbm=4.3.0",
    "numpy>=1.2,",
    "[extra]",
    "pandas[",
    "numpy >= 1.2 , < 2",
    "Numpy.Core_x-y==1",
    "name@https://example.com/name.tar.gz",
    'foo; extra == "bar"',
    "pandas[]",
    "numpy==1.*",
    "a-",
    "numpy>=1.2;",
]


@pytest.mark.parametrize("line", REQUIREMENT_LINES)
def test_a_requirement_line_passes_exactly_when_pip_s_own_parser_reads_it(line: str) -> None:
    try:
        Requirement(line)
        pip_reads_it = True
    except InvalidRequirement:
        pip_reads_it = False

    assert (requirements_problems(line + "\n", "r.txt") == []) is pip_reads_it


def test_comments_blank_lines_continuations_and_package_sources_pass() -> None:
    text = (
        "# what the model needs\n"
        "\n"
        "--extra-index-url https://pypi.example.com/simple\n"
        "--prefer-binary\n"
        "lightgbm==4.3.0  # the booster\n"
        "scikit-learn>=1.2,\\\n"
        "  <1.3\n"
    )
    assert requirements_problems(text, "r.txt") == []


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("-r other.txt", "names another file or an editable checkout"),
        ("--requirement=other.txt", "names another file or an editable checkout"),
        ("-e git+https://example.com/repo.git#egg=x", "names another file or an editable checkout"),
        ("--user", "is a pip option the training job does not take"),
        ("lightgbm=4.3.0", "is not a requirement pip can read"),
    ],
)
def test_a_line_pip_would_stop_at_is_named_with_its_number(line: str, says: str) -> None:
    problems = requirements_problems(f"numpy\n{line}\n", "ml/models/x/requirements.txt")

    assert problems == [problems[0]] and problems[0].startswith(f"ml/models/x/requirements.txt line 2 ({line!r})")
    assert says in problems[0]


@pytest.mark.parametrize(
    "line",
    ["numpy", "NumPy>=2", "scikit_learn==1.9.0", "Scikit.Learn", "pandas[performance]", "scipy ; python_version > '3'"],
)
def test_a_library_the_image_already_holds_is_refused_by_its_name_as_pip_compares_names(line: str) -> None:
    problems = requirements_problems(
        f"lightgbm==4.3.0\n{line}\n", "ml/models/x/requirements.txt", image_packages=IMAGE_PACKAGES
    )

    assert len(problems) == 1
    assert problems[0].startswith(f"ml/models/x/requirements.txt line 2 ({line!r}) names ")
    assert "which the scikit-learn image already holds" in problems[0]


@pytest.mark.parametrize("line", ["lightgbm", "numpyro==0.15", "pandas-stubs", "scikit-learn-extra", "sklearn2pmml"])
def test_a_package_whose_name_only_starts_like_an_image_library_passes(line: str) -> None:
    assert requirements_problems(f"{line}\n", "r.txt", image_packages=IMAGE_PACKAGES) == []


def test_the_xgboost_image_s_own_libraries_include_xgboost_and_the_message_names_that_image() -> None:
    text = "xgboost==3.1.0\nlightgbm\n"
    problems = requirements_problems(
        text, "ml/models/x/requirements.txt", image_packages=FRAMEWORK_PACKAGES["xgboost"], image="xgboost"
    )
    assert len(problems) == 1
    assert "names xgboost, which the XGBoost image already holds" in problems[0]
    # The scikit-learn image has no XGBoost: a script there may bring its own.
    assert requirements_problems(text, "r.txt", image_packages=FRAMEWORK_PACKAGES["scikit-learn"]) == []


def test_the_pytorch_images_own_libraries_include_torch_and_its_family_and_the_message_names_that_image() -> None:
    text = "torch==2.7.0\ntorchvision\npytorch-lightning\n"
    problems = requirements_problems(
        text, "ml/models/x/requirements.txt", image_packages=FRAMEWORK_PACKAGES["pytorch"], image="pytorch"
    )
    assert len(problems) == 2
    assert "names torch, which the PyTorch image already holds" in problems[0]
    assert "torchvision" in problems[1]
    # Other images have no PyTorch: a script there may bring its own.
    assert requirements_problems(text, "r.txt", image_packages=FRAMEWORK_PACKAGES["xgboost"], image="xgboost") == []
