"""The detail pane: every field of the selected resource, grouped, with links to related resources,
and the raw JSON the array returned.

The record is fetched when the selection settles (a short debounce, so arrowing through rows does
not send a request per row); an answer for a row no longer selected is dropped.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from typing import Any
from urllib.parse import quote, unquote

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

from console.api import AuthenticationFailed, ConnectionLost, NotFound, PowerStoreClient, ServerBusy
from console.presentation import DetailGroup, Link, Presentation
from console.ui import qt_async
from console.ui.reference_names import names_of

log = logging.getLogger(__name__)

DEBOUNCE_MS = 120
LINK_SCHEME = "related"

_STYLE = """
<style>
h2 { margin: 0 0 2px 0; }
p.kind { margin: 0 0 8px 0; color: #808080; }
h3 { margin: 12px 0 4px 0; }
td.label { padding: 1px 10px 1px 0; color: #808080; }
td.value { padding: 1px 0; }
</style>
"""


def link_url(link: Link) -> str:
    return f"{LINK_SCHEME}:{quote(link.type_name, safe='')}/{quote(link.id, safe='')}"


def parse_link(url: QUrl | str) -> tuple[str, str] | None:
    """``related:<type>/<id>`` → (type, id)."""
    text = url.toString() if isinstance(url, QUrl) else url
    if not text.startswith(f"{LINK_SCHEME}:"):
        return None
    type_name, sep, resource_id = text[len(LINK_SCHEME) + 1 :].partition("/")
    if not sep or not type_name or not resource_id:
        return None
    return unquote(type_name), unquote(resource_id)


class DetailPane(QWidget):
    relatedRequested = Signal(str, str)
    loaded = Signal(str)
    """The record of this id is shown."""
    failed = Signal(object)
    """Fetching the record failed (not for a resource that is gone: the pane says so itself)."""

    def __init__(
        self,
        client: PowerStoreClient,
        type_name: str,
        pres: Presentation,
        parent: QWidget | None = None,
        *,
        noun: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("detailPane")
        self._client = client
        self._type = type_name
        self._pres = pres
        self._select: str | None = None  # worked out at the first fetch, not while the view is built
        self._wanted: str | None = None
        self._record: dict[str, Any] | None = None
        self._groups: list[DetailGroup] = []
        self._task: asyncio.Task[None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._fetch)

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.setOpenExternalLinks(False)
        self.browser.anchorClicked.connect(self._link_clicked)
        self.json_view = QPlainTextEdit(self)
        self.json_view.setReadOnly(True)
        self.json_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.json_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.tabs.addTab(self.browser, "Details")
        self.tabs.addTab(self.json_view, "JSON")
        self.placeholder = QLabel(self)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.tabs, 1)
        # "Select a snapshot", in a view of volumes that are snapshots.
        noun = noun or pres.type_label(type_name, plural=False).lower()
        first = noun.split()[0] if noun else ""
        article = "an" if first[:1].lower() in "aeiou" and not first.isupper() else "a"
        self._show_placeholder(f"Select {article} {noun} to see its details.")

    # -- what is shown -------------------------------------------------------------------------

    @property
    def resource_id(self) -> str | None:
        """The id asked for (its record may still be loading)."""
        return self._wanted

    @property
    def record(self) -> dict[str, Any] | None:
        return self._record

    @property
    def groups(self) -> list[DetailGroup]:
        return list(self._groups)

    def links(self) -> list[Link]:
        return [link for group in self._groups for item in group.items for link in item.links]

    def show_id(self, resource_id: str | None) -> None:
        """Show this resource (after a short pause, in case the selection moves on)."""
        resource_id = None if resource_id is None else str(resource_id)
        if resource_id == self._wanted and (self._record is not None or self._timer.isActive()):
            return
        self._wanted = resource_id
        if resource_id is None:
            self._timer.stop()
            self._cancel()
            self._record = None
            self._groups = []
            self._show_placeholder("Nothing selected.")
            return
        self._timer.start()

    def show_count(self, count: int) -> None:
        """Several rows are selected: say so (the current one's details stay)."""
        if count > 1:
            self.placeholder.setText(f"{count} selected; details of the current one.")
            self.placeholder.setVisible(True)

    def refresh(self) -> None:
        """Fetch the shown record again."""
        if self._wanted is not None:
            self._timer.start()  # the record shown stays until the new one is in

    def open_link(self, link: Link) -> None:
        self.relatedRequested.emit(link.type_name, link.id)

    def cancel(self) -> None:
        self._timer.stop()
        self._cancel()

    # -- fetching ----------------------------------------------------------------------------------

    def _fetch(self) -> None:
        wanted = self._wanted
        if wanted is None:
            return
        self._cancel()
        self._task = qt_async.start(self._load(wanted), name=f"DetailPane.load({self._type})")

    async def _load(self, resource_id: str) -> None:
        if self._select is None:
            self._select = self._pres.detail_select(self._type)
        try:
            record = await self._client.get(self._type, resource_id, select=self._select)
        except asyncio.CancelledError:
            raise
        except NotFound:
            if resource_id == self._wanted:
                self._record = None
                self._groups = []
                self._show_placeholder("This resource is no longer on the array.")
            return
        except (ConnectionLost, ServerBusy, AuthenticationFailed) as exc:
            # The session deals with it (reconnecting, asking for the password) and reloads the
            # view afterwards: the pane waits, keeping the record it shows.
            if resource_id == self._wanted:
                if self._record is None or str(self._record.get("id")) != resource_id:
                    self._show_placeholder("Waiting for the array to answer…")
                self.failed.emit(exc)
            return
        except Exception as exc:
            if resource_id == self._wanted:
                self._show_placeholder(f"Could not load the details: {exc}", error=True)
                self.failed.emit(exc)
            return
        if resource_id != self._wanted:
            return
        self._record = record
        self._groups = self._pres.detail_groups(self._type, record)
        self._render()
        unnamed = self._pres.unnamed_links(self._groups)
        if unnamed:
            names = await self._names(unnamed)
            if resource_id != self._wanted:
                return
            if names:
                self._groups = self._pres.with_names(self._groups, names)
                self._render()
        self.loaded.emit(resource_id)

    async def _names(self, ids_by_type: dict[str, list[str]]) -> dict[tuple[str, str], str]:
        """The names of resources the record gave by id only; those that cannot be had keep
        showing their id."""
        names: dict[tuple[str, str], str] = {}
        for type_name, ids in ids_by_type.items():
            found = await names_of(self._client, type_name, ids)
            names.update({(type_name, resource_id): name for resource_id, name in found.items()})
        return names

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    # -- rendering ---------------------------------------------------------------------------------

    def _show_placeholder(self, text: str, *, error: bool = False) -> None:
        self.placeholder.setText(text)
        # Hints are greyed; a failure is said in plain (red) text, whole in the tooltip.
        self.placeholder.setEnabled(error)
        self.placeholder.setStyleSheet("color: #c62828;" if error else "")
        self.placeholder.setToolTip(text if error else "")
        self.placeholder.setVisible(True)
        self.tabs.setVisible(False)

    def _render(self) -> None:
        record = self._record or {}
        name = self._pres.title_of(self._type, record)
        parts = [_STYLE, f"<h2>{html.escape(str(name))}</h2>"]
        parts.append(f"<p class='kind'>{html.escape(self._pres.type_label(self._type, plural=False))}</p>")
        # One table for all groups, so that the values line up from group to group.
        parts.append("<table width='100%'>")
        for group in self._groups:
            parts.append(f"<tr><td colspan='2'><h3>{html.escape(group.title)}</h3></td></tr>")
            for item in group.items:
                if item.links:
                    # One per line: names break at their hyphens, lists of them become unreadable.
                    value = "<br>".join(
                        f"<a href='{html.escape(link_url(link))}'>{html.escape(link.text)}</a>"
                        for link in item.links
                    )
                else:
                    value = html.escape(item.text).replace("\n", "<br>")
                tip = f" title='{html.escape(item.tooltip)}'" if item.tooltip else ""
                # Fixed shares: the longest label must not squeeze every value (labels wrap between
                # words, values anywhere).
                parts.append(
                    f"<tr><td class='label' width='40%'>{html.escape(item.label)}</td>"
                    f"<td class='value' width='60%'{tip}>{value}</td></tr>"
                )
        parts.append("</table>")
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml("".join(parts))
        self.browser.verticalScrollBar().setValue(scroll)
        self.json_view.setPlainText(json.dumps(record, indent=2, ensure_ascii=False, sort_keys=False))
        self.placeholder.setVisible(False)
        self.tabs.setVisible(True)

    def _link_clicked(self, url: QUrl) -> None:
        target = parse_link(url)
        if target is not None:
            self.relatedRequested.emit(*target)
