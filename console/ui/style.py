"""Small shared looks: the array colour swatch, and the application style sheet."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from console.resource_files import read_text

STYLE_FILE = "console.qss"


def colour_pixmap(colour: str, size: int = 12) -> QPixmap:
    """A rounded square of ``colour`` (an array's colour in the tree, tabs and status bar)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(colour).darker(130))
    painter.setBrush(QColor(colour))
    painter.drawRoundedRect(QRectF(0.5, 0.5, size - 1, size - 1), size / 4, size / 4)
    painter.end()
    return pixmap


def colour_icon(colour: str, size: int = 12) -> QIcon:
    return QIcon(colour_pixmap(colour, size))


def style_sheet() -> str:
    try:
        return read_text(STYLE_FILE)
    except OSError:
        return ""
