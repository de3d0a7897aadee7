"""A dataset's own training script, the worked example: logistic regression (ridge regression for a numeric target)
on the preprocessed features, missing values imputed and every feature scaled.

Chosen in dataset.json with ``"model": {"script": "logistic_regression"}``; ``"hyperparameters": {"C": 0.5}`` sets
the inverse regularisation strength (default 1.0).
"""

from __future__ import annotations

import sys
from typing import Any

from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from driftline_ml.model_script import TrainingData, run


def train(data: TrainingData) -> Any:
    strength = float(data.hyperparameters.get("C", "1.0"))
    model = LogisticRegression(C=strength, max_iter=1000) if data.is_classification else Ridge(alpha=1 / strength)
    return make_pipeline(SimpleImputer(), StandardScaler(), model).fit(data.x_train, data.y_train)


if __name__ == "__main__":
    sys.exit(run(train))
