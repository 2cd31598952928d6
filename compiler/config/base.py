from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from .duration import parse_duration

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _identifier(value: str) -> str:
    if not IDENT.match(value):
        raise ValueError(f"{value!r} is not a plain identifier (letters, digits, _; not starting with a digit)")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
# what a duration validates from; the validation context "durations_us" (the compiled artifact)
# reads a dumped value: ints are already microseconds
DURATIONS_US = {"durations_us": True}


def _duration(value: str | int, info: ValidationInfo) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and (info.context or {}).get("durations_us"):
        return parse_duration(f"{value}us")
    return parse_duration(value)


DurationUs = Annotated[int, BeforeValidator(_duration)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
