"""A prompt box that knows its model's words: it completes them and marks the ones it will ignore.

Only models with a closed vocabulary (:mod:`studio.vocabulary`) give it words; for the others it
is a plain text box.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtGui import QColor, QKeyEvent, QSyntaxHighlighter, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QCompleter, QLabel, QPlainTextEdit

from studio.textsafe import safe

POPUP_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Escape, Qt.Key.Key_Backtab)


class IgnoredWords(QSyntaxHighlighter):
    """Underlines, in red, the words the model turns into its unknown token."""

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self.vocabulary: Any = None
        self.format = QTextCharFormat()
        self.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.format.setUnderlineColor(QColor("#e5534b"))
        self.format.setForeground(QColor("#ff8a80"))

    def highlightBlock(self, text: str) -> None:  # noqa: N802
        if self.vocabulary is None:
            return
        for start, end, _word in self.vocabulary.unknown(text):
            self.setFormat(start, end - start, self.format)


class PromptEdit(QPlainTextEdit):
    """The prompt text box: completion from the model's words, unknown words marked."""

    def __init__(self) -> None:
        super().__init__()
        self.vocabulary: Any = None
        self.marks = IgnoredWords(self.document())
        self.words = QStringListModel(self)  # owned here: PySide would free an unowned model
        self.completer = QCompleter(self.words, self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self._complete_with)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        self.textChanged.connect(self.refresh_note)

    def set_vocabulary(self, vocabulary: Any, model_name: str = "") -> None:
        """Complete from ``vocabulary``'s words and mark the others (None: a plain box)."""
        self.vocabulary = vocabulary
        self.model_name = model_name or "the model"
        self.marks.vocabulary = vocabulary
        self.words.setStringList(list(vocabulary.words) if vocabulary else [])
        self.marks.rehighlight()
        self.refresh_note()

    def ignored_words(self) -> list[str]:
        if self.vocabulary is None:
            return []
        return [word for _s, _e, word in self.vocabulary.unknown(self.toPlainText())]

    def refresh_note(self) -> None:
        if self.vocabulary is None:
            self.note.hide()
            return
        ignored = self.ignored_words()
        known = len(self.vocabulary.words)
        if ignored:
            shown = ", ".join(dict.fromkeys(ignored))
            self.note.setObjectName("error")
            self.note.setText(
                safe(
                    f"{self.model_name} ignores: {shown}. It knows {known} words; type to complete, Ctrl+Space lists them."
                )
            )
        else:
            self.note.setObjectName("dim")
            self.note.setText(f"{self.model_name} knows {known} words: type to complete, Ctrl+Space lists them.")
        self.note.style().unpolish(self.note)  # the object name changed: apply the theme's rule for it
        self.note.style().polish(self.note)
        self.note.show()

    # ---- completion ------------------------------------------------------------------------------
    def _word_before_cursor(self) -> str:
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.StartOfWord, QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText()

    def _complete_with(self, word: str) -> None:
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.StartOfWord, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(word)
        self.setTextCursor(cursor)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        popup = self.completer.popup()
        if popup.isVisible() and event.key() in POPUP_KEYS:
            event.ignore()  # the completer's popup takes these
            return
        forced = event.key() == Qt.Key.Key_Space and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if not forced:
            super().keyPressEvent(event)
        if self.vocabulary is None:
            return
        prefix = self._word_before_cursor()
        if not forced and (len(prefix) < 1 or not event.text() or not event.text()[-1].isalnum()):
            popup.hide()
            return
        self.completer.setCompletionPrefix(prefix)
        if self.completer.completionCount() == 0 or (
            not forced and self.completer.currentCompletion().lower() == prefix.lower()
        ):
            popup.hide()
            return
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))
        rect = self.cursorRect()
        rect.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width() + 12)
        self.completer.complete(rect)
