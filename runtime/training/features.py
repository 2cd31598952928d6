"""The model's feature matrix: ordered columns, categorical vocabularies, the same encoding for
training, batch scoring and online scoring."""

from __future__ import annotations

from typing import cast

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class FeatureSpec:
    names: list[str]                          # the model's columns, in order
    types: dict[str, str]                     # arrow type names (for the artifact)
    categories: dict[str, list]               # categorical column -> vocabulary (code = index)

    def to_json(self) -> dict:
        return {"features": [{"name": n, "type": self.types.get(n, "double"),
                              "categories": self.categories.get(n)} for n in self.names]}

    @classmethod
    def from_json(cls, doc: dict) -> "FeatureSpec":
        feats = doc["features"]
        return cls([f["name"] for f in feats], {f["name"]: f["type"] for f in feats},
                   {f["name"]: f["categories"] for f in feats if f["categories"] is not None})

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, n in enumerate(self.names) if n in self.categories]

    @cached_property
    def _codes(self) -> dict[str, dict]:
        return {name: {v: float(i) for i, v in enumerate(vocab)} for name, vocab in self.categories.items()}

    def encode_value(self, name: str, value) -> float:
        if value is None:
            return float("nan")
        codes = self._codes.get(name)
        if codes is not None:
            try:
                return codes.get(value, float("nan"))  # unseen category: missing
            except TypeError:  # an unhashable request value: not a category
                return float("nan")
        if isinstance(value, bool):
            return float(value)
        if hasattr(value, "total_seconds"):
            return value.total_seconds()
        return float(value)

    def matrix(self, table: pa.Table) -> np.ndarray:
        cols = []
        for name in self.names:
            col = table[name]
            if name in self.categories:
                index = {v: i for i, v in enumerate(self.categories[name])}
                cols.append(np.array([index.get(v, np.nan) if v is not None else np.nan for v in col.to_pylist()],
                                     dtype=float))
            elif pa.types.is_boolean(col.type):
                cols.append(np.array([np.nan if v is None else float(v) for v in col.to_pylist()]))
            elif pa.types.is_duration(col.type):
                cols.append(np.array([np.nan if v is None else v.total_seconds() for v in col.to_pylist()]))
            else:
                cols.append(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
        return np.column_stack(cols) if cols else np.empty((table.num_rows, 0))

    @cached_property
    def _plain(self) -> list[tuple[str, bool]]:
        return [(n, n not in self.categories) for n in self.names]

    def vector(self, values: dict) -> np.ndarray:
        """One row, encoded as `encode_value` does (plain numbers without a call: the serving path)."""
        row = []
        for name, plain in self._plain:
            v = values.get(name)
            kind = type(v)
            row.append(float(cast(float, v)) if plain and (kind is float or kind is int) else self.encode_value(name, v))
        return np.array([row], dtype=float)


def build_spec(table: pa.Table, names: list[str], categorical: list[str]) -> FeatureSpec:
    cats = {}
    for name in categorical:
        vocab = sorted({v for v in table[name].to_pylist() if v is not None}, key=str)
        cats[name] = vocab
    return FeatureSpec(list(names), {n: str(table.schema.field(n).type) for n in names}, cats)
