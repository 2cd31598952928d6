"""Feature IR (see `model`)."""

from .model import (
    CANONICAL_DIALECT, IR_VERSION, ORDER_INDEPENDENT, Aggregate, Bound, ColumnType, FeatureView, Frame,
    Input, OutputColumn,
)

__all__ = [
    "Aggregate", "Bound", "CANONICAL_DIALECT", "ColumnType", "FeatureView", "Frame", "IR_VERSION",
    "Input", "ORDER_INDEPENDENT", "OutputColumn",
]
