"""A dataset's own training script on SageMaker's PyTorch framework container, the worked example: a small
multilayer perceptron on the preprocessed features, with early stopping on the validation split.

Chosen in dataset.json with ``"model": {"script": "torch_mlp", "framework": "pytorch"}``; the hyperparameters
``epochs`` (the most passes over the train split, default 200), ``hidden`` (units per hidden layer, default 32) and
``learning_rate`` (default 0.01) tune it.

``train`` returns the module itself: it takes a float tensor of rows (NaN where a value is missing) and answers one
score per class, or one value per row for a regression. Its own buffers hold what it needs to read raw features
(the train split's means, which also fill missing values, and scales), so the exported model needs nothing else.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from driftline_ml.model_script import TrainingData, run

BATCH_ROWS = 256
PATIENCE = 20
"""Epochs without a better validation loss before training stops (the best epoch's weights are kept)."""


class TabularMLP(nn.Module):
    means: torch.Tensor
    scales: torch.Tensor
    target_mean: torch.Tensor
    target_scale: torch.Tensor

    def __init__(self, means: np.ndarray, scales: np.ndarray, hidden: int, outputs: int) -> None:
        super().__init__()
        self.register_buffer("means", torch.as_tensor(means, dtype=torch.float32))
        self.register_buffer("scales", torch.as_tensor(scales, dtype=torch.float32))
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_scale", torch.ones(()))
        self.layers = nn.Sequential(
            nn.Linear(len(means), hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        filled = torch.where(torch.isnan(x), self.means, x)
        return self.layers((filled - self.means) / self.scales) * self.target_scale + self.target_mean


def train(data: TrainingData) -> nn.Module:
    torch.manual_seed(0)
    epochs = int(data.hyperparameters.get("epochs", "200"))
    hidden = int(data.hyperparameters.get("hidden", "32"))
    learning_rate = float(data.hyperparameters.get("learning_rate", "0.01"))
    x_train = data.x_train.astype(np.float32)
    means = np.nan_to_num(np.nanmean(x_train, axis=0))
    scales = np.nan_to_num(np.nanstd(x_train, axis=0))
    scales[scales == 0] = 1.0
    classes = len(data.metadata.get("class_labels") or [])
    model = TabularMLP(means, scales, hidden, classes if data.is_classification else 1)
    target_type = torch.long if data.is_classification else torch.float32
    y_train = torch.as_tensor(data.y_train, dtype=target_type)
    y_validation = torch.as_tensor(data.y_validation, dtype=target_type)
    if not data.is_classification:
        # Learn the standardised target; the module's buffers turn its answers back into the target's units.
        model.target_mean.fill_(float(np.mean(data.y_train)))
        model.target_scale.fill_(float(np.std(data.y_train)) or 1.0)

    def loss_of(answers: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if data.is_classification:
            return nn.functional.cross_entropy(answers, target)
        return nn.functional.mse_loss(answers.squeeze(-1) / model.target_scale, target / model.target_scale)

    features = torch.from_numpy(x_train)
    validation = torch.from_numpy(data.x_validation.astype(np.float32))
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    best, best_state, waited = float("inf"), model.state_dict(), 0
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(features)).split(BATCH_ROWS):
            optimizer.zero_grad()
            loss_of(model(features[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            loss = float(loss_of(model(validation), y_validation))
        if loss < best:
            best, best_state, waited = loss, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= PATIENCE:
                break
    model.load_state_dict(best_state)
    return model


if __name__ == "__main__":
    sys.exit(run(train))
