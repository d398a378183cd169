"""Helpers shared by the benchmark scripts: machine description and best-of-N timing."""

import os
import platform
import time

import numpy as np


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line():
    return f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.machine()}, python {platform.python_version()}"


def best_time(function, repeats):
    """Best wall time (s) of ``repeats`` calls after one warm-up call."""
    function()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
