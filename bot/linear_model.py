"""A logistic regression stored as a small JSON file (the confidence model's form).

Standardised features times weights: training needs scikit-learn (``bench/train_confidence.py``),
answering only numpy. The file keeps what it was trained on and its held-out figures under
``about``; the rankers' form is ``tree_ranker``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class ModelFileError(RuntimeError):
    """A model file is missing or unreadable: the fix is to restore it from git or retrain it."""


@dataclass
class LinearModel:
    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: float
    settings: dict[str, float] = field(default_factory=dict)  # operating points chosen with it
    about: dict = field(default_factory=dict)  # training data and held-out figures

    def logits(self, rows: np.ndarray) -> np.ndarray:
        """One logit per row of a (rows × features) matrix in ``features`` order."""
        return ((rows - self.mean) / self.scale) @ self.coefficients + self.intercept

    def logit(self, values: dict[str, float]) -> float:
        row = np.array([[values.get(name, 0.0) for name in self.features]], dtype=np.float64)
        return float(self.logits(row)[0])

    def probability(self, values: dict[str, float]) -> float:
        return sigmoid(self.logit(values))

    def to_json(self) -> dict:
        return {
            "features": self.features,
            "mean": [round(float(v), 8) for v in self.mean],
            "scale": [round(float(v), 8) for v in self.scale],
            "coefficients": [round(float(v), 8) for v in self.coefficients],
            "intercept": round(float(self.intercept), 8),
            **{name: round(float(value), 6) for name, value in self.settings.items()},
            "about": self.about,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, retrain: str, settings: tuple[str, ...] = ()) -> "LinearModel":
        """``retrain`` is the command that rebuilds the file, named in every error."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            model = cls(
                features=list(data["features"]),
                mean=np.array(data["mean"], dtype=np.float64),
                scale=np.array(data["scale"], dtype=np.float64),
                coefficients=np.array(data["coefficients"], dtype=np.float64),
                intercept=float(data["intercept"]),
                settings={name: float(data[name]) for name in settings},
                about=dict(data.get("about", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelFileError(
                f"the model file {path} is unreadable ({error}): restore it from git or retrain it "
                f"with `{retrain}`"
            ) from error
        sizes = {len(model.features), len(model.mean), len(model.scale), len(model.coefficients)}
        if len(sizes) != 1:
            raise ModelFileError(f"the model file {path} has inconsistent sizes: retrain it with `{retrain}`")
        return model


def sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
