"""The connection manager: add, edit, remove and connect arrays; import and export them as JSON.

Each connection has a name, a host (with an optional port), a user, how its certificate is
trusted, and a colour. A password typed here goes to the OS keyring (or, without a usable one,
is kept for this session and the dialog says why); it is never written anywhere else. A setting
that is wrong is shown next to the form and nothing typed is lost: the dialog does not move
away from an entry with unsaved, invalid changes.

Not modal: connections can be connected while it stays open. File choosers are opened with
``open()``; ``import_from``/``export_to`` do the work (and are what tests call).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console.connections import (
    PALETTE,
    TRUST_CA_FILE,
    TRUST_PINNED,
    TRUST_SYSTEM,
    Connection,
    ConnectionFileError,
    ConnectionStore,
    InvalidConnection,
    next_colour,
)
from console.secrets import SecretStore
from console.ui.file_choosers import open_ca_file
from console.ui.style import colour_icon

ID_ROLE = Qt.ItemDataRole.UserRole
TRUST_LABELS = {
    TRUST_SYSTEM: "System trust store; ask me to pin a certificate it does not trust",
    TRUST_PINNED: "Pinned certificate (SHA-256 fingerprint)",
    TRUST_CA_FILE: "CA certificate file",
}
COLOUR_NAMES = ("Blue", "Red", "Green", "Orange", "Purple", "Cyan", "Brown", "Pink")


class ConnectionDialog(QDialog):
    connectRequested = Signal(str)
    connectionSaved = Signal(object)
    connectionRemoved = Signal(str)

    def __init__(self, store: ConnectionStore, secrets: SecretStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionDialog")
        self.setWindowTitle("Connections")
        self.setModal(False)
        self.resize(820, 500)
        self.store = store
        self.secrets = secrets
        self._current_id: str | None = None
        self._dirty = False
        self._loading = False
        self._file_dialog: QFileDialog | None = None
        self._build()
        self.reload(select=None)
        if store.load_error:
            self.show_message(f"The saved connections could not be read: {store.load_error}", error=True)

    # -- layout ------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.list = QListWidget()
        self.list.setObjectName("connectionList")
        self.new_button = QPushButton("New")
        self.remove_button = QPushButton("Remove")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        left_buttons = QHBoxLayout()
        for button in (self.new_button, self.remove_button, self.import_button, self.export_button):
            left_buttons.addWidget(button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(left_buttons)

        self.name = QLineEdit()
        self.name.setObjectName("nameEdit")
        self.name.setPlaceholderText("prod-array-a")
        self.host = QLineEdit()
        self.host.setObjectName("hostEdit")
        self.host.setPlaceholderText("array.example.com, 10.0.0.5:8443 or [fe80::1]:443")
        self.user = QLineEdit()
        self.user.setObjectName("userEdit")
        self.user.setPlaceholderText("admin")
        self.password = QLineEdit()
        self.password.setObjectName("passwordEdit")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox("Remember the password in the OS keyring")
        self.remember.setObjectName("rememberPassword")
        self.password_note = QLabel()
        self.password_note.setObjectName("passwordNote")
        self.password_note.setWordWrap(True)
        self.password_note.setStyleSheet("color: #555")
        self.trust = QComboBox()
        self.trust.setObjectName("trustCombo")
        for mode, label in TRUST_LABELS.items():
            self.trust.addItem(label, mode)
        self.ca_file = QLineEdit()
        self.ca_file.setObjectName("caFileEdit")
        self.ca_file.setPlaceholderText("/path/to/ca.pem")
        self.ca_browse = QPushButton("Browse…")
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(self.ca_browse)
        self.ca_widget = QWidget()
        self.ca_widget.setLayout(ca_row)
        ca_row.setContentsMargins(0, 0, 0, 0)
        self.fingerprint = QLineEdit()
        self.fingerprint.setObjectName("fingerprintEdit")
        self.fingerprint.setPlaceholderText("AB:CD:… (64 hex digits), or connect once to pin it")
        self.colour = QComboBox()
        self.colour.setObjectName("colourCombo")
        for colour, name in zip(PALETTE, COLOUR_NAMES, strict=True):
            self.colour.addItem(colour_icon(colour, 14), name, colour)

        self.form = QFormLayout()
        self.form.addRow("Name:", self.name)
        self.form.addRow("Host:", self.host)
        self.form.addRow("User:", self.user)
        self.form.addRow("Password:", self.password)
        self.form.addRow("", self.remember)
        self.form.addRow("", self.password_note)
        self.form.addRow("Certificate:", self.trust)
        self.form.addRow("CA file:", self.ca_widget)
        self.form.addRow("Fingerprint:", self.fingerprint)
        self.form.addRow("Colour:", self.colour)

        self.message = QLabel()
        self.message.setObjectName("connectionMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveButton")
        self.connect_button = QPushButton("Connect")
        self.connect_button.setObjectName("connectButton")
        self.close_button = QPushButton("Close")
        # Enter connects (after saving), whichever button has the focus.
        for button in (
            self.new_button,
            self.remove_button,
            self.import_button,
            self.export_button,
            self.ca_browse,
            self.save_button,
            self.close_button,
        ):
            button.setAutoDefault(False)
        self.connect_button.setDefault(True)
        right_buttons = QHBoxLayout()
        right_buttons.addStretch(1)
        right_buttons.addWidget(self.save_button)
        right_buttons.addWidget(self.connect_button)
        right_buttons.addWidget(self.close_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(self.form)
        right_layout.addStretch(1)
        right_layout.addWidget(self.message)
        right_layout.addLayout(right_buttons)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        for edit in (self.name, self.host, self.user, self.password, self.ca_file, self.fingerprint):
            edit.textEdited.connect(self._edited)
        self.remember.toggled.connect(self._edited)
        self.trust.currentIndexChanged.connect(self._trust_changed)
        self.colour.currentIndexChanged.connect(self._edited)
        self.list.currentItemChanged.connect(self._selection_changed)
        self.new_button.clicked.connect(self.new_connection)
        self.remove_button.clicked.connect(lambda: self.remove_current(confirm=True))
        self.import_button.clicked.connect(self._browse_import)
        self.export_button.clicked.connect(self._browse_export)
        self.ca_browse.clicked.connect(self._browse_ca_file)
        self.save_button.clicked.connect(self.save)
        self.connect_button.clicked.connect(self.connect_current)
        self.close_button.clicked.connect(self.close)
        self.list.itemDoubleClicked.connect(lambda _item: self.connect_current())

    # -- list --------------------------------------------------------------------------------------

    def reload(self, select: str | None) -> None:
        self._loading = True
        self.list.clear()
        for connection in self.store:
            item = QListWidgetItem(colour_icon(connection.colour, 14), connection.name)
            item.setData(ID_ROLE, connection.id)
            item.setToolTip(f"{connection.user}@{connection.host}")
            self.list.addItem(item)
        self._loading = False
        target = select if select is not None else (self._current_id or self._first_id())
        if target is not None and self._select_row_of(target):
            return
        if self.list.count() == 0:
            self.new_connection()

    def _first_id(self) -> str | None:
        item = self.list.item(0)
        return str(item.data(ID_ROLE)) if item is not None else None

    def _select_row_of(self, connection_id: str) -> bool:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == connection_id:
                self.list.setCurrentItem(item)
                if self._current_id != connection_id:
                    self._show(self.store.get(connection_id))
                return True
        return False

    def _selection_changed(self, current: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if self._loading or current is None:
            return
        wanted = str(current.data(ID_ROLE))
        if wanted == self._current_id:
            return
        if self._dirty and not self.save():
            # Invalid, unsaved changes: stay on them rather than lose them.
            if previous is not None:
                self.list.blockSignals(True)
                self.list.setCurrentItem(previous)
                self.list.blockSignals(False)
            return
        self._show(self.store.get(wanted))

    # -- form --------------------------------------------------------------------------------------

    def new_connection(self) -> None:
        if self._dirty and not self.save():
            return
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        self.list.clearSelection()
        self.list.blockSignals(False)
        self._show(None)
        self.name.setFocus()

    def _show(self, connection: Connection | None) -> None:
        self._loading = True
        self._current_id = connection.id if connection is not None else None
        self.name.setText(connection.name if connection else "")
        self.host.setText(connection.host if connection else "")
        self.user.setText(connection.user if connection else "admin")
        self.password.clear()
        self.remember.setChecked(connection.remember_password if connection else True)
        mode = connection.trust_mode if connection else TRUST_SYSTEM
        self.trust.setCurrentIndex(max(0, self.trust.findData(mode)))
        self.ca_file.setText((connection.ca_file or "") if connection else "")
        self.fingerprint.setText((connection.fingerprint or "") if connection else "")
        colour = connection.colour if connection else next_colour(self.store)
        self.colour.setCurrentIndex(max(0, self.colour.findData(colour)))
        self._loading = False
        self._dirty = False
        self._update_trust_rows()
        self._update_password_note()
        self.remove_button.setEnabled(connection is not None)
        self.show_message("")

    def connection_changed(self, connection: Connection) -> None:
        """The console changed a stored connection (a certificate pinned or a CA file chosen at
        connect time): the form follows its trust settings, keeping the user's other edits."""
        if connection.id != self._current_id:
            return
        if not self._dirty:
            self._show(connection)
            return
        self._loading = True
        self.trust.setCurrentIndex(max(0, self.trust.findData(connection.trust_mode)))
        self.ca_file.setText(connection.ca_file or "")
        self.fingerprint.setText(connection.fingerprint or "")
        self._loading = False
        self._update_trust_rows()

    def _edited(self, *_args: object) -> None:
        if not self._loading:
            self._dirty = True

    def _trust_changed(self, *_args: object) -> None:
        self._update_trust_rows()
        self._edited()

    def _update_trust_rows(self) -> None:
        mode = self.trust.currentData()
        self.form.setRowVisible(self.ca_widget, mode == TRUST_CA_FILE)
        self.form.setRowVisible(self.fingerprint, mode == TRUST_PINNED)

    def _update_password_note(self) -> None:
        status = self.secrets.status
        if not status.usable:
            self.remember.setChecked(False)
            self.remember.setEnabled(False)
            self.password_note.setText(status.reason)
            return
        self.remember.setEnabled(True)
        saved = self._current_id is not None and self.secrets.get(self._current_id) is not None
        self.password_note.setText(
            "A password is saved; type a new one to replace it."
            if saved
            else "No password saved: you will be asked when connecting."
        )

    def form_connection(self) -> Connection:
        """The connection the form describes; raises ``InvalidConnection``."""
        mode = str(self.trust.currentData())
        fingerprint = self.fingerprint.text().strip() or None
        if mode == TRUST_PINNED and fingerprint is None:
            raise InvalidConnection(
                "trust",
                "Enter the certificate's SHA-256 fingerprint, or choose the system trust store: "
                "the console then shows the certificate at the first connect and offers to pin it.",
            )
        fields = {
            "name": self.name.text(),
            "host": self.host.text(),
            "user": self.user.text(),
            "trust_mode": mode,
            "ca_file": self.ca_file.text().strip() or None,
            "fingerprint": fingerprint,
            "colour": str(self.colour.currentData()),
            "remember_password": self.remember.isChecked() or not self.secrets.persistent,
        }
        existing = self.store.get(self._current_id) if self._current_id else None
        if existing is None:
            return Connection.create(**fields)  # type: ignore[arg-type]
        return existing.replace(**fields)

    def save(self) -> bool:
        """Validate and store the form. Returns False (and shows why) when a setting is wrong."""
        try:
            connection = self.form_connection()
            if self.store.get(connection.id) is None:
                self.store.add(connection)
            else:
                self.store.update(connection)
        except InvalidConnection as exc:
            self.show_message(exc.message, error=True)
            self._focus_field(exc.field)
            return False
        except OSError as exc:
            self.show_message(f"The connections could not be saved: {exc}", error=True)
            return False
        notes = [f"Saved {connection.name}."]
        password = self.password.text()
        self.password.clear()
        if password:
            kept = self.secrets.remember(connection.id, password, persist=connection.remember_password)
            # Without a keyring, the note under the password field says why.
            notes.append(
                "The password is in the OS keyring."
                if kept
                else "The password is kept for this session only."
            )
        elif not connection.remember_password and self.secrets.persistent:
            self.secrets.forget(connection.id)
        self._current_id = connection.id
        self._dirty = False
        self.reload(select=connection.id)
        self._update_password_note()
        self.remove_button.setEnabled(True)
        self.show_message(" ".join(notes))
        self.connectionSaved.emit(connection)
        return True

    def connect_current(self) -> None:
        if (self._dirty or self._current_id is None) and not self.save():
            return
        if self._current_id is not None:
            self.connectRequested.emit(self._current_id)

    def remove_current(self, *, confirm: bool) -> None:
        connection = self.store.get(self._current_id) if self._current_id else None
        if connection is None:
            return
        if confirm:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Remove connection",
                f"Remove {connection.name} ({connection.host}) and its saved password?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                self,
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.finished.connect(self._removal_answered)
            box.open()
            return
        self.store.remove(connection.id)
        self.secrets.forget(connection.id)
        self._current_id = None
        self._dirty = False
        self.reload(select=None)
        self.show_message(f"Removed {connection.name}.")
        self.connectionRemoved.emit(connection.id)

    def _removal_answered(self, result: int) -> None:
        if result == QMessageBox.StandardButton.Yes.value:
            self.remove_current(confirm=False)

    def _focus_field(self, field: str) -> None:
        target = {"name": self.name, "host": self.host, "user": self.user}.get(field)
        if target is None and field == "trust":
            target = self.fingerprint if self.trust.currentData() == TRUST_PINNED else self.ca_file
        if target is not None:
            target.setFocus()
            target.selectAll()

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828" if error else "color: #2e7d32")

    # -- files -------------------------------------------------------------------------------------

    def import_from(self, path: str | Path) -> list[Connection]:
        if self._dirty and not self.save():
            return []
        try:
            added, warnings = self.store.import_file(Path(path))
        except (ConnectionFileError, OSError) as exc:
            self.show_message(f"Nothing was imported: {exc}", error=True)
            return []
        self.reload(select=added[0].id if added else None)
        text = f"Imported {len(added)} connection{'s' if len(added) != 1 else ''} from {path}."
        self.show_message(" ".join([text, *warnings]))
        return added

    def export_to(self, path: str | Path) -> bool:
        if self._dirty and not self.save():
            return False
        try:
            count = self.store.export_file(Path(path))
        except ConnectionFileError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.show_message(f"Exported {count} connection{'s' if count != 1 else ''} to {path} (no passwords).")
        return True

    def _file_chooser(self, title: str, save: bool) -> QFileDialog:
        dialog = QFileDialog(self, title)
        dialog.setNameFilters(["Connections (*.json)", "All files (*)"])
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        if save:
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.setDefaultSuffix("json")
            dialog.selectFile("powerstore-connections.json")
        else:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._file_dialog = dialog
        return dialog

    def _browse_import(self) -> None:
        dialog = self._file_chooser("Import connections", save=False)
        dialog.fileSelected.connect(self.import_from)
        dialog.open()

    def _browse_export(self) -> None:
        dialog = self._file_chooser("Export connections", save=True)
        dialog.fileSelected.connect(self.export_to)
        dialog.open()

    def _browse_ca_file(self) -> None:
        self._file_dialog = open_ca_file(self, "CA certificate file", self._set_ca_file)

    def _set_ca_file(self, path: str) -> None:
        self.ca_file.setText(path)
        self._edited()
