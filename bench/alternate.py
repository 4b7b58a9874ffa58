#!/usr/bin/env python3
"""Times commands in alternating rounds, so a change in the machine's load hits every command
alike: each round runs every command (in reverse order every other round) with hyperfine
(warm-up 10, RUNS runs), and the medians of the rounds' medians are printed with their spread
(min-max over the rounds) as a Markdown table, plus each command's ratio to the first one.

    python3 bench/alternate.py ROUNDS RUNS "LABEL=COMMAND" ...
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile


def main() -> None:
    rounds, runs = int(sys.argv[1]), int(sys.argv[2])
    commands = [arg.split("=", 1) for arg in sys.argv[3:]]
    medians = {label: [] for label, _ in commands}
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "t.json")
        for r in range(rounds):
            order = commands if r % 2 == 0 else list(reversed(commands))
            for label, command in order:
                subprocess.run(
                    ["hyperfine", "-N", "--warmup", "10", "--runs", str(runs),
                     "--export-json", out, command],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                with open(out) as f:
                    result = json.load(f)["results"][0]
                medians[label].append(result["median"] * 1000)
    first = statistics.median(medians[commands[0][0]])
    print("| command | median of round medians (ms) [min-max] | vs first |")
    print("|---|---:|---:|")
    for label, _ in commands:
        m = medians[label]
        med = statistics.median(m)
        print(f"| {label} | {med:.3f} [{min(m):.3f}-{max(m):.3f}] | {med / first:.2f}x |")


if __name__ == "__main__":
    main()
