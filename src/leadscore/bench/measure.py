"""What every benchmark measures the same way: CPU seconds, peak memory, rates."""

from __future__ import annotations

import os
import resource
import sys


def cpu_seconds() -> float:
    """CPU seconds of this process, all threads: a figure other load on a shared machine barely moves."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) another process has used so far, from
    /proc/PID/stat; None where there is no /proc. A server's CPU per request, read around each
    request, is a figure the machine's other load barely moves."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)


def peak_rss_mb() -> float:
    """This process's peak RSS so far, from /proc (VmHWM).

    Why not ``ru_maxrss`` as a parent sees it through ``wait4``: Linux keeps that figure across
    fork and exec, so a child of a parent holding 2 GB of DuckDB buffers "peaks" at 2 GB before
    running a line of its own. VmHWM belongs to the address space the child got at exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)  # elsewhere: the best figure there is
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def per_second(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")
