"""Arrow tables grouped by contact, the layout ``storage.events_by_contact`` holds its base in:
contact ids sorted as UTF-8 bytes at a fixed width, where each contact's rows start and how many
there are, the other columns in that order (text dictionary-encoded). Why: a contact's rows are
then one slice, so a batch's 500 contacts' rows are gathered with one ``take``; and two grouped
parts (the base and the committed tail) merge into one without reading the table again."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def encoded(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.dictionary_encode(column) if pa.types.is_string(column.type) else column


def plain(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return column.dictionary_decode() if isinstance(column, pa.DictionaryArray) else (
        pc.cast(column, column.type.value_type) if pa.types.is_dictionary(column.type) else column)


def grouped(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table]:
    """``table`` (``contact_id`` first, any order) grouped by contact: the sorted ids (UTF-8), where
    each one's rows start and how many there are, and the other columns in that order."""
    table = table.unify_dictionaries()
    contact = table.column(0).combine_chunks() if table.num_rows else pa.array([], pa.string())
    if not isinstance(contact, pa.DictionaryArray):
        contact = pc.dictionary_encode(contact)
    names = np.array([s.encode() for s in contact.dictionary.to_pylist()], dtype=object)
    order_of_names = np.argsort(names.astype("S") if len(names) else np.array([], dtype="S1"), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order_of_names] = np.arange(len(names))
    labels = rank[contact.indices.to_numpy(zero_copy_only=False)] if len(contact) else np.array([], np.int64)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=len(names)).astype(np.int64)
    ids = names[order_of_names].astype("S") if len(names) else np.array([], dtype="S1")
    rest = table.drop_columns([table.column_names[0]])
    rest = rest.take(pa.array(order)).combine_chunks() if rest.num_rows else rest
    return ids, np.cumsum(counts) - counts, counts, rest


def unified(base: pa.Table, tail: pa.Table) -> pa.Table:
    """``base`` and ``tail`` as one table (their dictionaries differ; values are cast alike)."""
    columns = []
    for i, field in enumerate(base.schema):
        part = tail.column(i)
        if part.type != field.type:
            value_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
            part = encoded(pc.cast(plain(part), value_type))
        columns.append(pa.chunked_array([*base.column(i).chunks, *part.chunks]))
    return pa.table(columns, names=base.column_names)


def merged(ids: np.ndarray, counts: np.ndarray, base: pa.Table, tail: pa.Table
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table]:
    """A base (its sorted ids and counts) and a tail (``contact_id`` first) grouped as one."""
    names = pa.array([s.decode() for s in ids.tolist()], pa.string())
    labels = np.repeat(np.arange(len(ids), dtype=np.int32), counts)
    contact = pa.DictionaryArray.from_arrays(pa.array(labels, pa.int32()), names)
    whole = pa.Table.from_arrays([contact, *base.columns], names=tail.column_names)
    return grouped(unified(whole, tail))


def from_base(ids: np.ndarray, starts: np.ndarray, counts: np.ndarray, base: pa.Table, wanted: list[str],
               columns: Sequence[str]) -> pa.Table:
    """A base's rows of these contacts: each contact's rows are one slice."""
    width = ids.dtype.itemsize
    fits = [i for i in wanted if len(i.encode()) <= width and "\x00" not in i] if len(ids) else []
    names: list[str] = []
    take = np.array([], dtype=np.int64)
    found = np.array([], dtype=np.int64)
    if fits:
        keys = np.array([i.encode() for i in fits], dtype=ids.dtype)
        at = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
        hit = ids[at] == keys
        found = counts[at[hit]]
        names = [i for i, h in zip(fits, hit, strict=True) if h]
        first = starts[at[hit]]
        if found.sum():
            take = np.concatenate([np.arange(s, s + n) for s, n in zip(first, found, strict=True)])
    contact = pa.array(np.repeat(np.array(names, dtype=object), found) if names else [], pa.string())
    gathered = base.take(pa.array(take, pa.int64()))
    return pa.table([contact, *(plain(c) for c in gathered.columns)], names=["contact_id", *columns])
