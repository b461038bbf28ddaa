"""pytest plugin for the dated passes (`make test-dates`, loaded with `-p`).

The passes run the suite under libfaketime with only the wall clock moved
(FAKETIME_DONT_FAKE_MONOTONIC=1): a faked monotonic clock makes every timed wait hang,
because Python waits with sem_clockwait(CLOCK_MONOTONIC), which libfaketime 0.9.10 does
not intercept, on a deadline a year away. With monotonic left real, that libfaketime
still rewrites the absolute CLOCK_MONOTONIC deadline of clock_nanosleep(), which Python's
time.sleep() uses, into an invalid one (EINVAL). So time.sleep() waits on a timed lock
acquire instead, which runs on the real monotonic clock. Loaded as a plugin so it is in
place before Django and the app import anything that binds time.sleep.
"""

import os
import threading
import time

_real_sleep = time.sleep


def _sleep(seconds):
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    if seconds:
        lock = threading.Lock()
        lock.acquire()
        lock.acquire(timeout=seconds)


if "faketime" in os.environ.get("LD_PRELOAD", ""):
    time.sleep = _sleep
