"""Helpers shared by the benchmark scripts: percentiles, the machine, and how busy it is."""

from __future__ import annotations

import os
import platform

NCPU = os.cpu_count() or 1


def percentile(xs, q):
    """The ``q``-quantile (0..1) of ``xs`` with linear interpolation."""
    xs = sorted(xs)
    pos = (len(xs) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def base_machine_info():
    """CPU count, affinity and model, Python, NumPy and numba versions, load average."""
    import numba
    import numpy as np

    return {
        "cpu_count": NCPU,
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "load_average": os.getloadavg(),
    }


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def busy_cpu_s():
    """CPU-seconds all processes of this machine have used since boot (Linux), else None."""
    try:
        with open("/proc/stat") as f:
            user, nice, system = (int(x) for x in f.readline().split()[1:4])
        return (user + nice + system) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None


def own_cpu_s():
    """CPU-seconds used by this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
