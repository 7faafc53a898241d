"""The status bar: the array in front (its colour and name), user and role, the API version
(``software_installed``), the connection state (connected, reconnecting with a countdown,
offline...) with a "Reconnect now" button while it waits, and the count of problems."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar, QToolButton, QWidget

from console.ui.array_session import ArraySession, State
from console.ui.style import colour_pixmap

_STATE_COLOURS = {
    State.CONNECTED: "#2e7d32",
    State.CONNECTING: "#555555",
    State.RECONNECTING: "#e65100",
    State.PASSWORD_NEEDED: "#e65100",
    State.TRUST_NEEDED: "#c62828",
    State.OFFLINE: "#777777",
}


class StatusBar(QStatusBar):
    reconnectRequested = Signal()
    errorsClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.swatch = QLabel()
        self.array_label = QLabel()
        self.array_label.setObjectName("statusArray")
        self.user_label = QLabel()
        self.user_label.setObjectName("statusUser")
        self.version_label = QLabel()
        self.version_label.setObjectName("statusVersion")
        self.state_label = QLabel()
        self.state_label.setObjectName("statusState")
        # A real button (not a flat one that reads as text): it is the one thing to do here.
        self.reconnect_button = QPushButton("Reconnect now")
        self.reconnect_button.setToolTip("Try to reach the array now instead of waiting")
        self.reconnect_button.hide()
        self.errors_button = QToolButton()
        self.errors_button.setObjectName("statusErrors")
        self.errors_button.setAutoRaise(True)
        self.errors_button.hide()
        self.swatch.setContentsMargins(6, 0, 0, 0)
        for widget in (self.array_label, self.user_label, self.version_label, self.state_label):
            widget.setContentsMargins(6, 0, 6, 0)
        self.addPermanentWidget(self.swatch)
        self.addPermanentWidget(self.array_label)
        self.addPermanentWidget(self.user_label)
        self.addPermanentWidget(self.version_label)
        self.addPermanentWidget(self.state_label)
        self.addPermanentWidget(self.reconnect_button)
        self.addPermanentWidget(self.errors_button)
        self.reconnect_button.clicked.connect(self.reconnectRequested)
        self.errors_button.clicked.connect(self.errorsClicked)
        self._session: ArraySession | None = None
        self.show_session(None)

    @property
    def session(self) -> ArraySession | None:
        return self._session

    def show_session(self, session: ArraySession | None) -> None:
        if self._session is not None and self._session is not session and shiboken6.isValid(self._session):
            for signal in (
                self._session.stateChanged,
                self._session.infoChanged,
                self._session.countdownChanged,
            ):
                signal.disconnect(self.refresh)
        if session is not None and session is not self._session:
            session.stateChanged.connect(self.refresh)
            session.infoChanged.connect(self.refresh)
            session.countdownChanged.connect(self.refresh)
        self._session = session
        self.refresh()

    def refresh(self) -> None:
        session = self._session
        if session is None:
            self.array_label.setText("No array connected")
            self.array_label.setToolTip("")
            self.swatch.hide()
            for label in (self.user_label, self.version_label, self.state_label):
                label.clear()
                label.hide()
            self.reconnect_button.hide()
            return
        connection = session.connection
        self.swatch.setPixmap(colour_pixmap(connection.colour, 12))
        self.swatch.show()
        self.array_label.setText(
            f'<b>{_escape(connection.name)}</b> <span style="color:#666">{_escape(connection.host)}</span>'
        )
        self.array_label.setToolTip(f"{connection.name}: {connection.base_url}")
        if session.user:
            role = f" ({_escape(session.role_text)})" if session.roles else ""
            self.user_label.setText(f"{_escape(session.user)}{role}")
            self.user_label.show()
        else:
            self.user_label.hide()
        if session.api_version:
            self.version_label.setText(f"API {_escape(session.api_version)}")
            self.version_label.show()
        else:
            self.version_label.hide()
        colour = _STATE_COLOURS[session.state]
        self.state_label.setText(f'<span style="color:{colour}">●</span> {_escape(session.state_text())}')
        self.state_label.setToolTip(session.detail)
        self.state_label.show()
        self.reconnect_button.setVisible(session.state in (State.RECONNECTING, State.OFFLINE))

    def set_error_count(self, count: int) -> None:
        self.errors_button.setText(f"⚠ {count} problem{'s' if count != 1 else ''}")
        self.errors_button.setToolTip("Show the problems panel")
        self.errors_button.setVisible(count > 0)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
