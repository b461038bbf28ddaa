"""Validation of list parameters shared by the dashboard and the API."""

from dataclasses import dataclass

from dlqadmin.asynq import TASK_STATES
from dlqadmin.core import names


class BadParameter(ValueError):
    """A query parameter the user can fix; the message says how."""


@dataclass(frozen=True)
class Listing:
    state: str
    page: int
    page_size: int
    group: str | None
    order: str = "oldest"  # "newest" | "oldest" (asynq's own order)

    @property
    def reader_order(self):
        """The reader's name for the order (asynq.Inspector.list_tasks)."""
        return "desc" if self.order == "newest" else "asc"


ORDERS = ("newest", "oldest")


def default_order(state):
    """The dead-letter queue opens on the newest deaths; other states in asynq's order."""
    return "newest" if state == "archived" else "oldest"


# Far beyond any list asynq keeps, and small enough that page * page_size stays an
# integer Redis accepts as a range index.
MAX_PAGE = 10_000_000


def _positive_int(raw, name, maximum=MAX_PAGE):
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadParameter(f"{name} must be a whole number, got {str(raw)[:40]!r}") from None
    if value < 1:
        raise BadParameter(f"{name} must be 1 or more, got {value}")
    if value > maximum:
        raise BadParameter(f"{name} must be at most {maximum:,}")
    return value


def parse_page(query, name="page"):
    return _positive_int(query.get(name, 1), name)


def parse_listing(query, *, default_state, default_page_size, max_page_size, allowed_sizes=None,
                  require_group=True):
    state = query.get("state") or default_state
    if state not in TASK_STATES:
        raise BadParameter(f"state must be one of {', '.join(TASK_STATES)}; got {state[:40]!r}")
    page = _positive_int(query.get("page", 1), "page")
    page_size = _positive_int(query.get("page_size", default_page_size), "page_size")
    if page_size > max_page_size:
        raise BadParameter(f"page_size must be at most {max_page_size}, got {page_size}")
    if allowed_sizes and page_size not in allowed_sizes:
        raise BadParameter(f"page_size must be one of {', '.join(map(str, allowed_sizes))}")
    # A group name is any bytes: pages link an odd one as ~b64:<bytes> (core/names.py).
    group = names.from_form_value(query.get("group") or "") or None
    if require_group and state == "aggregating" and group is None:
        raise BadParameter("state=aggregating needs a group parameter")
    if state != "aggregating":
        group = None
    order = query.get("order") or default_order(state)
    if order not in ORDERS:
        raise BadParameter(f"order must be newest or oldest; got {order[:40]!r}")
    return Listing(state=state, page=page, page_size=page_size, group=group, order=order)
