"""Guessing what a text file is: its encoding, its delimiter and its header.

Each guess is cheap (it reads the first MiB at most) and can be overridden in the mapping
(``encoding``, ``delimiter``); a wrong guess shows up as rejected rows, never as a crash.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from leadscore.errors import ImportError_

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 1 << 20


def detect_encoding(path: Path) -> str:
    """UTF-8 or Latin-1, judged on the first MiB (UTF-16 by its byte-order mark).

    Text that is not valid UTF-8 is Latin-1 unless most of its non-ASCII characters are valid
    UTF-8: then it is a UTF-8 file with a few corrupt rows, which become rejects.
    """
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "latin-1" if _latin1_wins([sample]) else "utf-8"
    return "utf-8"


def mostly_latin1(path: Path) -> bool:
    """After DuckDB found bytes that are not UTF-8 past the sample, the same judgement on the
    whole file."""
    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while chunk := handle.read(8 << 20):
                yield chunk
    return _latin1_wins(chunks())


def _latin1_wins(chunks: Iterable[bytes]) -> bool:
    """Latin-1 text has (almost) no valid multi-byte UTF-8 sequences; UTF-8 text has many."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    invalid = valid = 0
    for chunk in chunks:
        text = decoder.decode(chunk)
        bad = text.count("\ufffd")
        invalid += bad
        valid += len(text) - len(text.encode("ascii", "ignore")) - bad
    return invalid > valid


#: A header line longer than this is refused rather than cut (a cut header names wrong columns).
MAX_HEADER_BYTES = 16 << 20


def text_sample(path: Path, encoding: str) -> str:
    """The start of the file as text: 64 KiB, or more until the first record (the header) ends."""
    size = 64 * 1024
    with open(path, "rb") as handle:
        while True:
            handle.seek(0)
            raw = handle.read(size)
            text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
            if len(raw) < size or csv_first_record_text(text) != text:
                return text
            if size >= MAX_HEADER_BYTES:
                raise ImportError_(f"{path.name}: the header line is longer than {MAX_HEADER_BYTES >> 20} MiB")
            size *= 4


def sniff_delimiter(sample: str) -> str:
    """The candidate delimiter used most often in the header line, outside quotes (default ',')."""
    header = csv_first_record_text(sample)
    unquoted = "".join(part for i, part in enumerate(header.split('"')) if i % 2 == 0)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_first_record_text(sample: str) -> str:
    """The first record of CSV text (a quoted header name may span lines)."""
    quoted = False
    for i, char in enumerate(sample):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            return sample[:i]
    return sample


def header_names(sample: str, delimiter: str) -> list[str]:
    """Header fields, made unique and non-empty (they key the column plan)."""
    record = csv_first_record_text(sample)
    fields = next(csv.reader(io.StringIO(record), delimiter=delimiter), [])
    names: list[str] = []
    for i, raw in enumerate(fields):
        name = raw.strip() or f"column_{i + 1}"
        base, n = name, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    return names
