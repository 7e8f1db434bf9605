"""LightGBM's trees evaluated with numpy, so that answering needs no LightGBM at all.

Importing lightgbm costs over a second when scikit-learn is installed beside it (it imports
that), and each ``predict`` call has a fixed cost larger than these small ensembles' work. The
trees are read from LightGBM's own text format (``Booster.model_to_string``) and evaluated for
all trees and rows at once, by QuickScorer's leaf bitmasks where the trees allow (no missing-value
rules, at most 64 leaves) and by walking them otherwise; ``tests/test_excerpt.py`` checks the
scores against ``lightgbm.Booster.predict``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_ZERO = 1e-35  # LightGBM's kZeroThreshold


@dataclass
class TreeEnsemble:
    feature: np.ndarray  # (trees, nodes) split feature of each internal node
    threshold: np.ndarray  # (trees, nodes)
    default_left: np.ndarray  # (trees, nodes) bool
    missing: np.ndarray  # (trees, nodes) 0 none, 1 zero, 2 NaN
    left: np.ndarray  # (trees, nodes) child: >= 0 a node, < 0 the leaf ~child
    right: np.ndarray
    leaf_value: np.ndarray  # (trees, leaves)

    @classmethod
    def from_model_string(cls, text: str) -> "TreeEnsemble":
        trees = []
        for block in text.split("\nTree=")[1:]:
            fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
            if fields.get("num_cat", "0") != "0":
                raise ValueError("categorical splits are not supported")
            leaves = int(fields["num_leaves"])
            if leaves == 1:
                trees.append(([0], [0.0], [2], [-1], [-1], [float(fields["leaf_value"])]))
                continue
            trees.append((
                [int(v) for v in fields["split_feature"].split()],
                [float(v) for v in fields["threshold"].split()],
                [int(v) for v in fields["decision_type"].split()],
                [int(v) for v in fields["left_child"].split()],
                [int(v) for v in fields["right_child"].split()],
                [float(v) for v in fields["leaf_value"].split()],
            ))
        if not trees:
            raise ValueError("no trees in the model")
        nodes = max(len(t[0]) for t in trees)
        leaves = max(len(t[5]) for t in trees)

        def padded(index: int, width: int, fill, dtype) -> np.ndarray:
            table = np.full((len(trees), width), fill, dtype=dtype)
            for row, tree in enumerate(trees):
                table[row, : len(tree[index])] = tree[index]
            return table

        decision = padded(2, nodes, 2, np.int64)
        if np.any(decision & 1):
            raise ValueError("categorical splits are not supported")
        return cls(
            feature=padded(0, nodes, 0, np.int64), threshold=padded(1, nodes, 0.0, np.float64),
            default_left=(decision & 2) > 0, missing=(decision >> 2) & 3,
            left=padded(3, nodes, -1, np.int64), right=padded(4, nodes, -1, np.int64),
            leaf_value=padded(5, leaves, 0.0, np.float64),
        )

    def __post_init__(self) -> None:
        width = self.feature.shape[1]
        self._base = (np.arange(len(self.feature)) * width)[:, None]  # flat offset of each tree
        self._leaf_base = (np.arange(len(self.feature)) * self.leaf_value.shape[1])[:, None]
        flat = {name: getattr(self, name).ravel() for name in ("feature", "threshold", "left", "right")}
        self._flat = flat
        self._plain = not self.missing.any() and self.default_left.all()  # no missing-value rules
        self._flat_missing = self.missing.ravel()
        self._flat_default = self.default_left.ravel()

        self._bitmasks = self._leaf_bitmasks() if self._plain and self.leaf_value.shape[1] <= 64 else None

    def _leaf_bitmasks(self) -> tuple[np.ndarray, np.ndarray, np.dtype]:
        """QuickScorer's tables (Lucchese et al., SIGIR 2015): leaves numbered left to right; for
        each node, the leaves still reachable when its test sends a row right (its left subtree's
        leaves cleared). A row's exit leaf is the leftmost leaf left after clearing those of every
        node it fails, so no walk down the trees is needed."""
        trees, nodes = self.feature.shape
        leaves = self.leaf_value.shape[1]
        dtype = np.dtype(np.uint16 if leaves <= 16 else np.uint32 if leaves <= 32 else np.uint64)
        full = (1 << leaves) - 1
        masks = np.full((trees, nodes), full, dtype=dtype)
        ordered = np.zeros((trees, leaves), dtype=np.float64)
        for tree in range(trees):
            order: list[int] = []  # leaf ids, left to right

            def walk(child: int) -> list[int]:
                """The in-order positions of the leaves under ``child``."""
                if child < 0:
                    order.append(~child)
                    return [len(order) - 1]
                left = walk(int(self.left[tree, child]))
                right = walk(int(self.right[tree, child]))
                masks[tree, child] = full & ~sum(1 << p for p in left)
                return left + right

            if self.left[tree, 0] == -1 and self.right[tree, 0] == -1 and self.leaf_value[tree, 1:].sum() == 0:
                masks[tree, :] = full  # a single leaf: every row exits at leaf 0
                ordered[tree, 0] = self.leaf_value[tree, 0]
                continue
            walk(0)
            ordered[tree, : len(order)] = self.leaf_value[tree, order]
        return masks, ordered, dtype

    def predict(self, table: np.ndarray) -> np.ndarray:
        """The raw score (sum over trees) of each row of ``table``."""
        table = np.asarray(table, dtype=np.float64)
        if self._bitmasks is not None and len(table):
            return self._predict_by_bitmasks(table)
        return self._predict_by_walking(table)

    def _predict_by_bitmasks(self, table: np.ndarray) -> np.ndarray:
        masks, ordered, dtype = self._bitmasks
        values = np.where(np.isnan(table), 0.0, table)[:, self.feature]  # (rows, trees, nodes)
        kept = np.where(values <= self.threshold, np.array(-1).astype(dtype), masks)
        reachable = np.bitwise_and.reduce(kept, axis=2)  # (rows, trees)
        lowest = reachable & (~reachable + np.array(1).astype(dtype))
        position = np.log2(lowest.astype(np.float64)).astype(np.int64)
        return np.take_along_axis(ordered[None, :, :], position[:, :, None], axis=2)[:, :, 0].sum(axis=1)

    def _predict_by_walking(self, table: np.ndarray) -> np.ndarray:
        rows, columns = table.shape
        values = table.ravel()
        row_base = (np.arange(rows) * columns)[None, :]
        node = np.zeros((len(self.feature), rows), dtype=np.int64)
        flat = self._flat
        while True:
            internal = node >= 0
            if not internal.any():
                break
            at = self._base + np.where(internal, node, 0)
            value = values.take(row_base + flat["feature"].take(at))
            if self._plain:
                value = np.where(np.isnan(value), 0.0, value)
                go_left = value <= flat["threshold"].take(at)
            else:
                missing = self._flat_missing.take(at)
                is_nan = np.isnan(value)
                value = np.where(is_nan & (missing != 2), 0.0, value)
                by_default = ((missing == 1) & (np.abs(value) <= _ZERO)) | ((missing == 2) & is_nan)
                go_left = np.where(by_default, self._flat_default.take(at), value <= flat["threshold"].take(at))
            child = np.where(go_left, flat["left"].take(at), flat["right"].take(at))
            node = np.where(internal, child, node)
        return self.leaf_value.ravel().take(self._leaf_base + ~node).sum(axis=0)
