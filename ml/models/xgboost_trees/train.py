"""A dataset's own training script on SageMaker's XGBoost framework container, the worked example: XGBoost's
scikit-learn estimators (``XGBClassifier``, ``XGBRegressor``) on the preprocessed features, missing values left
to XGBoost, with early stopping on the validation split.

Chosen in dataset.json with ``"model": {"script": "xgboost_trees", "framework": "xgboost"}``; the hyperparameters
``n_estimators`` (the most trees, default 300), ``max_depth`` (default 4) and ``learning_rate`` (default 0.1)
tune it.
"""

from __future__ import annotations

import sys
from typing import Any

from xgboost import XGBClassifier, XGBRegressor

from driftline_ml.model_script import TrainingData, run


def train(data: TrainingData) -> Any:
    settings = {
        "n_estimators": int(data.hyperparameters.get("n_estimators", "300")),
        "max_depth": int(data.hyperparameters.get("max_depth", "4")),
        "learning_rate": float(data.hyperparameters.get("learning_rate", "0.1")),
        "early_stopping_rounds": 20,
        "n_jobs": 1,
    }
    model = XGBClassifier(**settings) if data.is_classification else XGBRegressor(**settings)
    return model.fit(data.x_train, data.y_train, eval_set=[(data.x_validation, data.y_validation)], verbose=False)


if __name__ == "__main__":
    sys.exit(run(train))
