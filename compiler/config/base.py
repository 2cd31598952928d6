from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from .duration import parse_duration

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _identifier(value: str) -> str:
    if not IDENT.match(value):
        raise ValueError(f"{value!r} is not a plain identifier (letters, digits, _; not starting with a digit)")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
DurationUs = Annotated[int, BeforeValidator(parse_duration)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
