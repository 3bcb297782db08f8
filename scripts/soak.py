"""Soak: a local cluster (router, encoder, two decoders) under mixed load for a bounded time, sampling the resident
memory of every process. Not part of the test suite: it runs for --minutes (30 by default) and needs a quiet machine.

    .venv/bin/python scripts/soak.py [--minutes 30] [--concurrency 8] [--bundle bundles/default] [--json]

The load, in a loop: streamed jobs read to the end (half on repeated prompts, half with a fresh tenant salt so the
router's small cache, --cache-mb 1, keeps evicting), jobs cancelled after their first token, and clients that
submit and disconnect without reading. Every --sample-seconds it records each process's VmRSS (kB); at the end it
prints one JSON line per process with the first and last samples, the peak and the growth over the second half of
the run, plus the router's counters. Any service that exits early ends the soak with its log."""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))

from l2s_client import Client, L2SError  # noqa: E402


def rss_kb(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--bundle", default=str(ROOT / "bundles" / "default"))
    parser.add_argument("--base-port", type=int, default=15555)
    arguments = parser.parse_args()
    binary = str(ROOT / ".build" / "release" / "l2s")
    port = arguments.base_port
    endpoint = f"tcp://127.0.0.1:{port}"
    common = ["--heartbeat-ms", "500", "--threads", "1", "--bundle", arguments.bundle]
    commands = {
        "router": [binary, "router", "--bundle", arguments.bundle, "--cache-mb", "1", "--clients", endpoint,
                   "--encoders", f"tcp://127.0.0.1:{port + 1}", "--decoders", f"tcp://127.0.0.1:{port + 2}"],
        "encoder": [binary, "encoder", "--router", f"tcp://127.0.0.1:{port + 1}", *common],
        "decoder-1": [binary, "decoder", "--router", f"tcp://127.0.0.1:{port + 2}", "--slots", "8", *common],
        "decoder-2": [binary, "decoder", "--router", f"tcp://127.0.0.1:{port + 2}", "--slots", "8", *common],
    }
    logs = {name: tempfile.TemporaryFile() for name in commands}
    processes = {name: subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=logs[name])
                 for name, command in commands.items()}
    prompts = [line for line in (ROOT / "docs" / "bench-prompts.txt").read_text().splitlines() if line.strip()]
    samples: dict[str, list[int]] = {name: [] for name in commands}
    counts = {"done": 0, "cancelled": 0, "disconnected": 0, "errors": 0}
    lock = threading.Lock()
    end = time.monotonic() + arguments.minutes * 60
    failure: list[str] = []

    def load(seed: int) -> None:
        chooser = random.Random(seed)
        client = Client(endpoint, timeout=60)
        try:
            while time.monotonic() < end and not failure:
                prompt = chooser.choice(prompts)
                salt = None if chooser.random() < 0.5 else f"soak-{seed}-{chooser.random()}"
                kind = chooser.choices(["read", "cancel", "disconnect"], weights=[8, 1, 1])[0]
                try:
                    if kind == "disconnect":
                        with Client(endpoint, timeout=60) as gone:
                            gone.submit(prompt, stream=True, max_new_tokens=64, tenant_salt=salt)
                    else:
                        job = client.stream(prompt, max_new_tokens=64, tenant_salt=salt)
                        if kind == "cancel":
                            next(iter(job), None)
                            job.cancel()
                        else:
                            job.result()
                    with lock:
                        counts[{"read": "done", "cancel": "cancelled", "disconnect": "disconnected"}[kind]] += 1
                except (L2SError, TimeoutError) as error:
                    with lock:
                        counts["errors"] += 1
                    if isinstance(error, TimeoutError):
                        client.close()
                        client = Client(endpoint, timeout=60)
        finally:
            client.close()

    time.sleep(3)  # the workers load and join
    threads = [threading.Thread(target=load, args=(seed,), daemon=True) for seed in range(arguments.concurrency)]
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() < end:
            for name, process in processes.items():
                if process.poll() is not None:
                    logs[name].seek(0)
                    failure.append(f"{name} exited with {process.returncode}: {logs[name].read().decode()[-2000:]}")
                else:
                    samples[name].append(rss_kb(process.pid))
            if failure:
                break
            time.sleep(arguments.sample_seconds)
        for thread in threads:
            thread.join(120)
        with Client(endpoint, timeout=10) as probe:
            stats = probe.stats()
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(30)
    if failure:
        print("\n".join(failure), file=sys.stderr)
        return 1
    for name, values in samples.items():
        half = values[len(values) // 2:] or values
        print(json.dumps({"process": name, "samples": len(values), "first_kb": values[0], "last_kb": values[-1],
                          "peak_kb": max(values), "second_half_growth_kb": half[-1] - half[0]}))
    print(json.dumps({"load": counts, "router": {key: stats[key] for key in ("jobs_done", "jobs_failed", "faults")},
                      "cache": stats["cache"], "minutes": arguments.minutes, "concurrency": arguments.concurrency}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
