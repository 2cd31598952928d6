"""What an upsert pays to encode a Python window (`windows.SharedWindow.dump`): encoded whole
(`codec.pack` per column) vs its rows' kept encodings (`rolling.Rolling`), at steady state (one
row leaves and one enters before each dump), per value type and window size. Sets where
`rolling.LARGE` should be.

Usage: python bench/window_encoding.py [--dumps 2000]
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

from skewless.runtime.stream import rolling
from skewless.runtime.stream.windows import SharedWindow

VALUES = {"double": lambda i: i * 1.5, "numeric": lambda i: Decimal(i) / 7, "bigint": lambda i: i}


def per_dump_us(rows: int, kind: str, large: int, dumps: int) -> float:
    saved = rolling.LARGE
    rolling.LARGE = large
    try:
        value = VALUES[kind]
        win = SharedWindow(3_600_000_000, [("a", None), ("b", None)])
        for i in range(rows):
            win.append(i, {("a", None): [value(i)], ("b", None): [i]}, 1)
        t0 = time.perf_counter()
        for j in range(dumps):
            win.evict(j + 1)  # the oldest row leaves
            win.append(rows + j, {("a", None): [value(rows + j)], ("b", None): [j]}, 1)
            win.dump(2 ** 62)
        return (time.perf_counter() - t0) / dumps * 1e6
    finally:
        rolling.LARGE = saved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dumps", type=int, default=2000)
    args = parser.parse_args()
    print("rows  column      whole µs  rolling µs  whole / rolling")
    for rows in (8, 16, 32, 64, 150, 256, 1024):
        for kind in VALUES:
            whole = per_dump_us(rows, kind, 10 ** 9, args.dumps)
            kept = per_dump_us(rows, kind, 0, args.dumps)
            print(f"{rows:>4}  {kind:<9} {whole:>10.1f} {kept:>11.1f} {whole / kept:>16.1f}")
    print(f"rolling.LARGE = {rolling.LARGE} (Python windows), LARGE_KERNEL = {rolling.LARGE_KERNEL}")


if __name__ == "__main__":
    main()
