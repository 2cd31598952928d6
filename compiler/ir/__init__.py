"""Feature IR (see `model`)."""

from .model import (
    CANONICAL_DIALECT, IR_VERSION, ORDER_INDEPENDENT, Aggregate, Bound, ColumnType, DimJoin, FeatureView, Frame,
    Input, JoinKey, OutputColumn, ViewJoin,
)

__all__ = [
    "Aggregate", "Bound", "CANONICAL_DIALECT", "ColumnType", "DimJoin", "FeatureView", "Frame", "IR_VERSION",
    "Input", "JoinKey", "ORDER_INDEPENDENT", "OutputColumn", "ViewJoin",
]
