"""Summarize a py-spy raw profile (`py-spy record --format raw`): the functions with the most
samples, inclusive (anywhere on the stack) and self (on top), as percentages.

    python bench/profile_top.py PROFILE.txt [--top 25] [--idle]

Samples of the idle event loop (waiting in select/epoll) are left out unless --idle.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

_LINE = re.compile(r"\s*\(([^)]*?)(?::\d+)?\)$")


def _name(frame: str) -> str:
    """`function (path/file.py:line)` -> `function (file.py)`; the line number is dropped."""
    match = _LINE.search(frame)
    if not match:
        return frame
    where = match.group(1).rsplit("/", 2)
    return f"{frame[: match.start()]} ({'/'.join(where[-2:])})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--idle", action="store_true")
    args = parser.parse_args()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_name(f) for f in stack.split(";")]
        if not args.idle and (
            frames[-1].startswith(("select (", "_run_once", "poll ("))
            # the loop's own epoll wait and idle pool threads show as these on top
            or frames[-1] in ("Runner.run (asyncio/runners.py)", "_worker (futures/thread.py)")
        ):
            continue
        n = int(count)
        total += n
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    print(f"{total} samples (busy)")
    print("inclusive:")
    for name, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("self:")
    for name, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
