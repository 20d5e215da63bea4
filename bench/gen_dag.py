#!/usr/bin/env python3
"""Writes the same N-step DAG of `true` commands as an AetherFlow plan and as
a build.ninja, so that both tools run identical work.

Shape: a binary tree (step i waits for step (i-1)//2), wide enough that the
parallelism cap, not the graph, limits how many run at once."""
import json
import sys


def main():
    n, parallel, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    steps = []
    for i in range(n):
        deps = [f"s{(i - 1) // 2}"] if i else []
        steps.append({"id": f"s{i}", "run": "true", "dependencies": deps})
    with open(f"{out}/plan.json", "w") as f:
        json.dump({"task_id": f"bench-{n}", "max_parallel": parallel,
                   "steps": steps}, f)
    with open(f"{out}/build.ninja", "w") as f:
        f.write("rule run\n  command = true\n")
        for i in range(n):
            dep = f" s{(i - 1) // 2}" if i else ""
            f.write(f"build s{i}: run{dep}\n")


if __name__ == "__main__":
    main()
