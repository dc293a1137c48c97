"""Imported once by the extraction pool's fork server: every worker is forked warm.

Importing this module runs one small page through `extract_html`, so that state the libraries
build lazily on first use (the public-suffix list courlan reads for site names, justext's
stoplists, the language model) is built once in the fork server and inherited by every worker,
instead of again in each recycled worker (the suffix list alone costs ~0.9 s of CPU).  It also
fixes the C heap's thresholds the workers inherit (daemon/extract/heap.py).
"""

from __future__ import annotations

import gc

from daemon.extract.heap import fix_thresholds
from daemon.extract.work import warm

fix_thresholds()
warm()

# Everything built so far lives as long as the fork server: move it out of the collector's
# reach, so that collections in the workers do not touch (and copy-on-write) those pages.
gc.freeze()
