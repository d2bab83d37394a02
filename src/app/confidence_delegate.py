"""Draws a transcript's text cell with its low-confidence words marked (rich text), so a
reviewer sees where to listen. Editing is the default line editor: the marks are display only."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize
from PySide6.QtGui import QAbstractTextDocumentLayout, QPalette, QTextDocument
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView

Index = QModelIndex | QPersistentModelIndex
MARGIN = 3  # the style's text margin, roughly: keeps marked and plain rows aligned


class ConfidenceDelegate(QStyledItemDelegate):
    """Cells whose model gives `marked_html(row)` are drawn from that HTML; others as usual."""

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self._view = view

    def _html(self, index: Index) -> str | None:
        model = index.model()
        marked = getattr(model, "marked_html", None)
        return marked(index.row()) if marked is not None else None

    def _document(self, option: QStyleOptionViewItem, html: str, width: int) -> QTextDocument:
        document = QTextDocument()
        document.setDefaultFont(option.font)
        document.setDocumentMargin(MARGIN)
        document.setHtml(html)
        document.setTextWidth(max(width, 1))
        return document

    def paint(self, painter, option: QStyleOptionViewItem, index: Index) -> None:
        html = self._html(index)
        if html is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # background, selection and focus from the style; the text from the HTML
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        document = self._document(opt, html, opt.rect.width())
        context = QAbstractTextDocumentLayout.PaintContext()
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, opt.palette.color(role))
        painter.save()
        painter.translate(opt.rect.topLeft())
        painter.setClipRect(opt.rect.translated(-opt.rect.topLeft()))
        document.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        html = self._html(index)
        if html is None:
            return super().sizeHint(option, index)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        # The column's width, not the option's: row heights are fitted to the wrapped text.
        width = self._view.columnWidth(index.column()) or opt.rect.width()
        document = self._document(opt, html, width)
        return QSize(int(document.idealWidth()), int(document.size().height()))
