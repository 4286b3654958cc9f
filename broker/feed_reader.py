"""The child process of a parallel feed import (:class:`broker.feed_parse._Parallel`).

``python -m broker.feed_reader VARIANT MAX_BYTES``: a feed file on stdin, its records on
stdout (framed ``marshal`` data), parsed on the fast path; refusals are reported, not
explained (the parent reads the file again for the line and the reason).
"""

from __future__ import annotations

import sys

from broker.feed_parse import serve_child

if __name__ == "__main__":
    serve_child(sys.argv[1], int(sys.argv[2]))
