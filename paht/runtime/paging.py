"""Work lists: urgent first, then nearest deadline, one page at a time with an opaque cursor and the total.

Keyset pagination: the cursor holds the sort key of the last row shown, so a page is as fast at row
1,000,000 as at row 1 and nothing is skipped or shown twice while new reports arrive.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Sequence, TypeVar

from sqlalchemy import and_, literal, or_
from sqlalchemy.sql import ColumnElement

from paht.runtime.errors import InvalidInput
from paht.runtime.text import is_clean

T = TypeVar("T")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    def as_json(self, view) -> dict:
        return {"items": [view(i) for i in self.items], "total": self.total, "next_cursor": self.next_cursor, "limit": self.limit}


@dataclass(frozen=True)
class SortKey:
    """One column of a work list's order: `descending` for "urgent first"."""

    column: Any
    descending: bool = False
    kind: str = field(default="str")  # str | bool | datetime | int: how the cursor stores the value


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[SortKey]) -> list[Any]:
    """Return the values of a cursor, or raise InvalidInput for one that was not made by encode_cursor."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        values = []
        for key, value in zip(keys, raw):
            if key.kind == "datetime":
                values.append(datetime.fromisoformat(value))
            elif key.kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError("not a bool")
                values.append(value)
            elif key.kind == "int":
                values.append(int(value))
            else:
                if not isinstance(value, str) or not is_clean(value):
                    raise ValueError("not a clean string")
                values.append(value)
        return values
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("The page cursor is not valid; start again from the first page.",
                           "Con trỏ trang không hợp lệ; vui lòng quay lại trang đầu.", key="error.bad_cursor") from None


def order_by(keys: Sequence[SortKey]) -> list:
    return [k.column.desc() if k.descending else k.column.asc() for k in keys]


def after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement:
    """Return the condition "comes after this row" for a multi-column order (NULL-free columns)."""
    clauses = []
    values = [literal(v) if isinstance(v, bool) else v for v in values]  # SQLAlchemy refuses `column < True` as written
    for i, key in enumerate(keys):
        equal = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", f"limit phải từ 1 đến {MAX_LIMIT}.")
    return limit


def cursor_of(row: Any, keys: Sequence[SortKey]) -> str:
    """Return the cursor that continues after a row (read each key's attribute from it)."""
    return encode_cursor([getattr(row, k.column.key) for k in keys])


def fetch_page(session, query, keys: Sequence[SortKey], cursor: str | None, limit: int | None) -> Page:
    """Run a select of one entity as a keyset page: the rows after `cursor`, in `keys` order, and the total.

    The last key must make the order total (an id), so the cursor names exactly one position.
    """
    from sqlalchemy import func, select

    limit = check_limit(limit)
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    q = query.order_by(*order_by(keys))
    if cursor:
        q = q.where(after(keys, decode_cursor(cursor, keys)))
    rows = list(session.execute(q.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, total=total, next_cursor=cursor_of(rows[-1], keys) if more and rows else None, limit=limit)
