"""A LightGBM ranker stored as one JSON file: trees, feature names, settings chosen with it.

The excerpt ranker and the answer-span ranker both order candidates (windows of a passage,
slices of an excerpt) with lambdarank trees; training needs LightGBM (``bench/train_*.py``),
answering only numpy (``tree_predict``). Each file keeps its training data and held-out figures
under ``about``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .linear_model import ModelFileError
from .tree_predict import TreeEnsemble


@dataclass
class TreeRanker:
    trees: str  # LightGBM's text format (``Booster.model_to_string``)
    features: list[str]
    settings: dict[str, float] = field(default_factory=dict)
    about: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ensemble = TreeEnsemble.from_model_string(self.trees)

    def scores(self, table: np.ndarray, columns: list[str]) -> np.ndarray:
        """One score per row of ``table``, whose columns are named by ``columns``."""
        picked = [columns.index(name) for name in self.features]
        return self.ensemble.predict(table[:, picked])

    def save(self, path: Path) -> None:
        data = {
            "features": self.features, **{k: round(float(v), 6) for k, v in self.settings.items()},
            "about": self.about, "trees": self.trees,
        }
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, computed: list[str], settings: tuple[str, ...], retrain: str) -> "TreeRanker":
        """``computed``: the features this code computes; ``retrain``: the command named in errors."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            unknown = set(data["features"]) - set(computed)
            if unknown:
                raise ValueError(f"features this code does not compute: {sorted(unknown)}")
            return cls(
                str(data["trees"]), list(data["features"]),
                {name: float(data[name]) for name in settings}, dict(data.get("about", {})),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            raise ModelFileError(
                f"the model file {path} is unreadable ({error}): restore it from git or retrain it with `{retrain}`"
            ) from error


def fit_lambdarank(groups: list[tuple[np.ndarray, list[int]]], features: list[str], leaves: int = 15,
                   min_child: int = 50, trees: int = 100, weights: np.ndarray | None = None,
                   **settings) -> TreeRanker:
    """LightGBM lambdarank over groups of (feature rows, labels) (training scripts only);
    ``settings``: other LGBMRanker parameters, over these defaults (bench/plateau_checks.py)."""
    import lightgbm

    model = lightgbm.LGBMRanker(**{
        "objective": "lambdarank", "n_estimators": trees, "num_leaves": leaves, "learning_rate": 0.1,
        "min_child_samples": min_child, "verbose": -1, **settings,
    })
    model.fit(
        np.vstack([rows for rows, _ in groups]), np.concatenate([labels for _, labels in groups]),
        group=[len(labels) for _, labels in groups], sample_weight=weights,
    )
    return TreeRanker(model.booster_.model_to_string(), list(features))
