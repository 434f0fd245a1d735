"""glibc's malloc tuned for an optimisation loop that frees and re-takes the same big blocks.

Each step allocates feature maps and gradients of the same few sizes (megabytes each) and frees
them again. glibc serves blocks above M_MMAP_THRESHOLD (128 KiB, adaptive up to 32 MiB) with a
fresh mmap and returns them to the kernel on free, so every step page-faults its working set in
anew; and it trims the heap's top above M_TRIM_THRESHOLD. Raising both keeps the freed blocks in
the heap for the next step. Linux glibc only; elsewhere (macOS, musl, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (glibc's ceiling for it on 64-bit: 32 MiB).
_MMAP_BYTES = 32 << 20
#: Free memory at the heap's top kept rather than given back to the kernel.
_TRIM_BYTES = 1 << 30

_tuned = False


def keep_freed_blocks() -> bool:
    """Ask glibc to keep freed big blocks for reuse (once per process); True if it took."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)
    )
    return _tuned
