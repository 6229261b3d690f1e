"""LineView: rows of text in a box of fixed size, with an optional header and row cursor.

Every pane shows its data through this one widget. It exists for speed: a table or log
that grows changes its virtual size, and in Textual any size change costs a layout of
the whole screen (about 50 ms at 120×40), at every refresh of a running model. A LineView
never changes size: it draws the window of rows that fits (``render``), so an update is a
repaint of that box only.

Rows are (key, text) pairs; text is a ``str`` or a ``Content``. ``tail`` views (logs)
follow the end until the user moves up; others show the top. ``wrap`` folds long rows
(the console); otherwise rows are cropped. With ``cursor``, Up/Down/PgUp/PgDn/Home/End
move a highlighted row and Enter or a click posts ``LineView.Chosen`` with its key; the
cursor stays on its key across updates.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.message import Message
from textual.widget import Widget


class LineView(Widget, can_focus=True):
    BINDINGS = [Binding("up", "move(-1)", "up", show=False, key_display="up/down",
                        tooltip="move the cursor (or scroll)"),
                Binding("down", "move(1)", "down", show=False),
                Binding("pageup", "page(-1)", "page up", show=False, key_display="pgup/pgdn",
                        tooltip="a page up / down"),
                Binding("pagedown", "page(1)", "page down", show=False),
                Binding("home", "move(-1000000000)", "first", show=False, key_display="home/end",
                        tooltip="the first / the last row (the end follows new rows)"),
                Binding("end", "move(1000000000)", "last", show=False),
                Binding("enter", "choose", "select", show=False,
                        tooltip="select the row: the other panes focus on its task, fault or fragment")]
    DEFAULT_CSS = "LineView { height: 1fr; text-wrap: nowrap; text-overflow: clip; } " \
                  "LineView.-wrap { text-wrap: wrap; }"

    class Chosen(Message):
        def __init__(self, view: "LineView", key: str):
            super().__init__()
            self.view, self.key = view, key

        @property
        def control(self) -> "LineView":
            return self.view

    def __init__(self, header: str = "", *, tail: bool = False, cursor: bool = False,
                 wrap: bool = False, limit: int = 5000, id: str | None = None):
        super().__init__(id=id, classes="-wrap" if wrap else "")
        self.header = Content.styled(header, "bold $text-accent") if header else None
        self.tail, self.cursor, self.wrap, self.limit = tail, cursor, wrap, limit
        self.rows: list[tuple[str, str | Content]] = []   # made Content when drawn
        self.shown: tuple = ()               # what set_rows got last (equal updates are skipped)
        self.follow = tail                   # showing the end, until the user moves up
        self.top = 0                         # first row shown when not following
        self.at: int | None = None           # cursor row (None: no cursor yet)

    # --- data ---------------------------------------------------------------------------
    def set_rows(self, rows) -> None:
        """Replace the rows ((key, text) pairs); a no-op if they are what is shown."""
        rows = tuple(rows)
        if rows == self.shown:
            return
        key = self.key
        self.shown = rows
        self.rows = [(str(k), t) for k, t in rows[-self.limit:]]
        keys = [k for k, _ in self.rows]
        if self.at is not None:
            self.at = keys.index(key) if key in keys else min(self.at, len(keys) - 1) if keys else None
        self.refresh()

    def append(self, rows) -> None:
        """Add rows at the end (a log); the oldest go beyond ``limit``."""
        self.rows += [(str(k), t) for k, t in rows]
        if len(self.rows) > self.limit:
            cut = len(self.rows) - self.limit
            del self.rows[:cut]
            self.top = max(self.top - cut, 0)
            self.at = None if self.at is None else max(self.at - cut, 0)
        self.refresh()

    @property
    def texts(self) -> list[str]:
        """The rows' plain text."""
        return [t.plain if isinstance(t, Content) else t for _, t in self.rows]

    @property
    def key(self) -> str | None:
        """The key of the cursor row (None if none is selected)."""
        if self.cursor and self.at is not None and 0 <= self.at < len(self.rows):
            return self.rows[self.at][0]
        return None

    def line_of(self, key: str) -> int | None:
        """The line of the view (0: its first, the header's if it has one) where the row of
        ``key`` is drawn; None if it is not on screen."""
        keys = [k for k, _ in self.rows]
        if key not in keys:
            return None
        index = keys.index(key) - self._first()
        return index + (1 if self.header else 0) if 0 <= index < self._height() else None

    # --- drawing --------------------------------------------------------------------------
    def _height(self) -> int:
        return max(self.size.height - (1 if self.header else 0), 1)

    def _first(self) -> int:
        """Index of the first row shown (keeping the cursor in view)."""
        height, count = self._height(), len(self.rows)
        if self.follow:
            return max(count - height, 0)
        if self.at is not None:
            self.top = min(max(self.top, self.at - height + 1), self.at)
        return max(min(self.top, count - height), 0)

    def render(self) -> Content:
        height, width = self._height(), max(self.size.width, 1)
        lines = [self.header] if self.header else []
        if self.wrap:
            return Content("\n").join(lines + self._folded(height, width))
        first = self._first()
        for index in range(first, min(first + height, len(self.rows))):
            text = _content(self.rows[index][1])
            if index == self.at:
                text = text.pad_right(max(width - text.cell_length, 0)).stylize("reverse")
            lines.append(text)
        return Content("\n").join(lines)

    def _folded(self, height: int, width: int) -> list[Content]:
        """Screen lines of folded rows: the last ones when following, else from ``top``."""
        out: list[Content] = []
        if self.follow:
            for index in range(len(self.rows) - 1, -1, -1):
                out[:0] = _content(self.rows[index][1]).wrap(width) or [Content("")]
                if len(out) >= height:
                    break
            return out[-height:]
        for index in range(self._first(), len(self.rows)):
            out += _content(self.rows[index][1]).wrap(width) or [Content("")]
            if len(out) >= height:
                break
        return out[:height]

    # --- moving -----------------------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        count, height = len(self.rows), self._height()
        if not count:
            return
        if self.cursor:
            if self.at is None:
                self.at = count - 1 if self.follow else 0
                delta = 0 if self.follow or delta > 0 else delta
            self.at = min(max(self.at + delta, 0), count - 1)
            self.follow = self.tail and self.at == count - 1 and delta > 0
            if self.follow:
                self.at = None
        else:
            self.top = min(max(self._first() + delta, 0), max(count - height, 0))
            self.follow = self.tail and self.top >= count - height
        self.refresh()

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(self._height() - 1, 1))

    def action_choose(self) -> None:
        if self.cursor and self.rows:
            if self.at is None:
                self.at = len(self.rows) - 1 if self.follow else 0
                self.follow = False
            self.refresh()
            self.post_message(self.Chosen(self, self.rows[self.at][0]))

    def on_click(self, event: Click) -> None:
        """A click on a row selects it, as Enter on it does; the rows stay where they are (a
        log stops following its end)."""
        offset = event.get_content_offset(self)
        if offset is None or not self.cursor:
            return
        row, first = offset.y - (1 if self.header else 0), self._first()
        if row >= 0 and first + row < len(self.rows):
            self.top, self.at, self.follow = first, first + row, False
            self.action_choose()

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self.action_move(-3)

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self.action_move(3)


def _content(text: str | Content) -> Content:
    return text if isinstance(text, Content) else Content(text)
