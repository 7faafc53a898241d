"""File dialogs the console opens: never modal exec(), never the platform's native dialog (which
cannot be driven or grabbed offscreen), deleted when closed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget


def open_ca_file(parent: QWidget, title: str, chosen: Callable[[str], object]) -> QFileDialog:
    """Ask for a CA certificate file without blocking; ``chosen(path)`` gets the answer."""
    dialog = QFileDialog(parent, title)
    dialog.setNameFilters(["Certificates (*.pem *.crt *.cer)", "All files (*)"])
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.fileSelected.connect(chosen)
    dialog.open()
    return dialog
