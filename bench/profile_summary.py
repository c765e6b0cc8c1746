"""Read a py-spy profile in collapsed-stack form (`--format raw`, as bench/fanout.py --profile
and bench/idle.py --profile-* write them) and print where the samples went.

    .venv/bin/python bench/profile_summary.py FILE                    # every thread, inclusive
    .venv/bin/python bench/profile_summary.py FILE --thread ThreadPool # one thread (needs --threads)
    .venv/bin/python bench/profile_summary.py FILE --children message_send

Profiles taken with `--idle --threads` (the benchmarks' default) hold wall-clock samples of
every thread, waiting included: the share of a thread's samples is the share of its time.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def frames_of(stack: str) -> list[str]:
    out = []
    for frame in stack.split(";"):
        if frame.startswith(("thread (", "process ")):
            out.append(frame)
            continue
        name, _, where = frame.partition(" (")
        out.append(f"{name} {where.split(':')[0]}".strip() if where else name)
    return out


def read(path: Path, thread: str | None) -> list[tuple[list[str], int]]:
    rows = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = frames_of(stack)
        if thread is not None and not any(thread in f for f in frames[:2]):
            continue
        rows.append((frames, int(count)))
    return rows


def inclusive(rows: list[tuple[list[str], int]], top: int) -> list[str]:
    total = sum(n for _, n in rows)
    shares: Counter = Counter()
    for frames, n in rows:
        for name in set(frames):
            shares[name] += n
    return [f"{100.0 * n / total:5.1f}%  {name}" for name, n in shares.most_common(top)] if total else []


def children(rows: list[tuple[list[str], int]], function: str, top: int) -> list[str]:
    total = sum(n for _, n in rows)
    within = 0
    below: Counter = Counter()
    for frames, n in rows:
        for i, name in enumerate(frames):
            if name.split(" ")[0] == function:
                within += n
                below[frames[i + 1] if i + 1 < len(frames) else "(itself)"] += n
                break
    if not within:
        return [f"{function}: no samples"]
    lines = [f"{function}: {within} of {total} samples ({100.0 * within / total:.1f}%); directly below it:"]
    lines += [f"  {100.0 * n / within:5.1f}%  {name}" for name, n in below.most_common(top)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--thread", help="only samples of threads whose name contains this")
    parser.add_argument("--children", metavar="FUNCTION", help="what FUNCTION's samples were spent in")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    rows = read(args.file, args.thread)
    lines = children(rows, args.children, args.top) if args.children else inclusive(rows, args.top)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
