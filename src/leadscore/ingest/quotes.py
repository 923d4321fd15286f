"""A quote opened and never closed on its line: report that line, read the lines it swallowed again.

DuckDB's CSV reader, like every CSV reader, lets a quoted value run across lines until the next
quote. A row with a stray opening quote (``c2,"b@x.com,CTO``) therefore swallows the rows after it
into one record, which is then rejected whole: good rows vanish into someone else's reject, and
the summary cannot say where the damage started.

So when a rejected record spans several physical lines, its first line is the bad row and the
lines after it are rows of their own: ``runaway_records`` finds them in DuckDB's rejects, and
``blanked_copy`` writes a copy of the file with those first lines emptied (so every line keeps
its number) for the reader to stage again. The emptied lines become malformed rows whose reason
names the line where the quote opened and how many lines it absorbed. A legitimate multi-line
value (an address, a note) is never touched unless its record was rejected anyway.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from leadscore.ingest.lines import lines_at_offsets

#: re-reads at most this many times (a swallowed line may itself open a quote)
MAX_ROUNDS = 5


@dataclass(frozen=True)
class RunawayQuote:
    line: int  #: physical line where the record (and its open quote) starts
    absorbed: int  #: physical lines after it that the record swallowed
    text: str  #: the first line as written

    @property
    def reason(self) -> str:
        last = self.line + self.absorbed
        return (f"malformed row: a quoted value opened on this line is not closed on it and ran across "
                f"{self.absorbed} more line(s) (to line {last}); those lines were read again as rows of their own")


def runaway_records(con: duckdb.DuckDBPyConnection, path: Path) -> list[RunawayQuote]:
    """Rejected records (in ``__ls_rej``) that span several physical lines of ``path``."""
    rows = con.execute(
        "SELECT arg_min(line_byte_position, error_type), arg_min(csv_line, error_type) FROM __ls_rej "
        "GROUP BY line ORDER BY line").fetchall()
    spans = []
    for position, text in rows:
        text = text or ""
        lead = len(text) - len(text.lstrip("\r\n"))  # DuckDB may include the previous newline
        body = text.lstrip("\r\n").rstrip("\r\n")
        if "\n" not in body and "\r" not in body:
            continue
        spans.append((max(int(position or 1) - 1, 0) + lead, body))
    if not spans:
        return []
    lines = lines_at_offsets(path, [offset for offset, _ in spans])
    return [RunawayQuote(line, body.replace("\r\n", "\n").count("\n"), body.splitlines()[0])
            for line, (_, body) in zip(lines, spans, strict=True)]


def blanked_copy(path: Path, lines: set[int]) -> Path:
    """A temporary copy of ``path`` with the given physical lines emptied (their newline kept)."""
    handle, name = tempfile.mkstemp(prefix="leadscore-import-", suffix=".csv")
    with open(handle, "wb") as out, open(path, "rb") as src:
        for number, line in enumerate(src, start=1):
            if number in lines:
                out.write(b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b"")
            else:
                out.write(line)
    return Path(name)
