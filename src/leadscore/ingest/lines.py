"""Physical line numbers for rejected rows, computed only when there are rejects.

DuckDB's CSV reader tells us, for a row it could not split, its *record line* (header = 1, each
record counts one even if a quoted value spans several lines, blank lines count) and its byte
position. For rows it did split it tells us nothing, so we keep each row's ordinal (``__row``) and
turn ordinals into lines here:

* ordinal → record line: good rows fill the record lines in order, skipping the ones taken by
  rejected records and (in multi-column files, where DuckDB drops them) blank lines;
* record line → physical line: the same number unless some value contains a newline, in which case
  a scan of the file finds where each record starts.

Everything here is vectorised (numpy) or a C-speed ``bytes.find`` loop, except the multi-line scan,
which is a regex over the file and only runs when a rejected row follows a multi-line value.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@contextmanager
def _mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes without reading it all into memory (empty files cannot be mmapped)."""
    with open(path, "rb") as handle:
        if path.stat().st_size == 0:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data


def blank_lines(path: Path) -> list[int]:
    """Physical numbers (1-based) of empty lines, assuming no value spans lines."""
    found: list[int] = []
    with _mapped(path) as data:
        for pattern in (b"\n\n", b"\n\r\n"):
            pos = data.find(pattern)
            while pos != -1:
                found.append(pos + 1)  # byte offset of the blank line's first byte
                pos = data.find(pattern, pos + 1)
        offsets = sorted(set(found))
        return [line for line in _lines_at(data, offsets)]


def _lines_at(data: bytes | mmap.mmap, offsets: Sequence[int]) -> list[int]:
    """Physical line (1-based) of each byte offset; offsets must be sorted."""
    lines: list[int] = []
    line, last = 1, 0
    for offset in offsets:
        line += data[last:offset].count(b"\n")
        last = offset
        lines.append(line)
    return lines


def lines_at_offsets(path: Path, offsets: Sequence[int]) -> list[int]:
    """Physical line of each byte offset (any order)."""
    order = sorted(range(len(offsets)), key=lambda i: offsets[i])
    with _mapped(path) as data:
        sorted_lines = _lines_at(data, [offsets[i] for i in order])
    result = [0] * len(offsets)
    for rank, index in enumerate(order):
        result[index] = sorted_lines[rank]
    return result


def record_starts(path: Path, delimiter: str, encoding: str) -> IntArray:
    """Physical start line of every record (index 0 = record line 1), quotes taken into account.

    A quote opens a quoted value only at the start of a field, as in DuckDB's reader, so a stray
    quote inside a value (``5" screen``) does not swallow the rest of the file.
    """
    delim = re.escape(delimiter.encode(encoding))
    token = re.compile(rb'(?:(?<=\n)|(?<=' + delim + rb')|^)"(?:[^"]|"")*"|\n')
    starts = [1]
    line = 1
    with _mapped(path) as data:
        for match in token.finditer(data):  # type: ignore[call-overload]
            text = match.group()
            if text == b"\n":
                line += 1
                starts.append(line)
            else:
                line += text.count(b"\n")
    return np.asarray(starts, dtype=np.int64)


@dataclass
class LineMap:
    """Turns row ordinals of one source into the line numbers a user sees in the rejects file."""

    kind: str  # "rows" (Parquet: row number) or "text" (CSV, JSON lines)
    path: Path | None = None
    first_record_line: int = 2  # record line of ordinal 0: 2 after a header, 1 without
    rejected_record_lines: list[int] = field(default_factory=list)
    blanks_are_rows: bool = False  # single-column reads return blank lines as NULL rows
    has_multiline: Callable[[], bool] = lambda: False
    delimiter: str = ","
    encoding: str = "utf-8"

    def lines(self, ordinals: IntArray) -> IntArray:
        """1-based line (text files) or row number (Parquet) of each 0-based ordinal."""
        ordinals = np.asarray(ordinals, dtype=np.int64)
        if self.kind == "rows" or self.path is None:
            return ordinals + 1
        multiline = self.has_multiline()
        starts = (record_starts(self.path, self.delimiter, self.encoding) if multiline
                  else np.zeros(0, dtype=np.int64))
        skipped = set(self.rejected_record_lines)
        if not self.blanks_are_rows:
            if multiline:
                # a blank record is one physical line long and starts on an empty line
                skipped |= set(self._blank_records(starts))
            else:
                skipped |= set(blank_lines(self.path))
        taken = np.asarray(sorted(x for x in skipped if x >= self.first_record_line), dtype=np.int64)
        gaps = taken - self.first_record_line - np.arange(len(taken), dtype=np.int64)
        record_lines = ordinals + self.first_record_line + np.searchsorted(gaps, ordinals, "right")
        if not multiline:
            return np.asarray(record_lines, dtype=np.int64)
        inside = np.clip(record_lines - 1, 0, len(starts) - 1)
        return np.asarray(starts[inside], dtype=np.int64)

    def _blank_records(self, starts: IntArray) -> list[int]:
        assert self.path is not None
        physical_blanks = set(blank_lines(self.path))
        ends = np.append(starts[1:], starts[-1] + 1)
        one_line = (ends - starts) == 1
        return [int(i) + 1 for i in np.nonzero(one_line)[0] if int(starts[i]) in physical_blanks]
