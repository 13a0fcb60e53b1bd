"""Image ▸ Date and Caption…: when a scanned print was taken, and what it shows. The values
go into the photo's EXIF/XMP (core/photo_date.py) as one undo step, so Export writes them
and the project file keeps them."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QMessageBox

from photoforge.core.photo_date import DateError, PhotoDate, parse_date


class DateCaptionDialog(QDialog):
    def __init__(self, date: PhotoDate | None, caption: str | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Date and Caption")
        self.date = QLineEdit(date.iso() if date else "")
        self.date.setPlaceholderText("YYYY, YYYY-MM or YYYY-MM-DD")
        self.circa = QCheckBox("Circa (the date is an estimate)")
        self.circa.setChecked(bool(date and date.circa))
        self.caption = QLineEdit(caption or "")
        self.caption.setPlaceholderText("Who, where, the occasion")
        # Wide enough for the date's placeholder and a sentence of caption.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 32)
        note = QLabel("Leave a field empty to remove it. Unknown month or day: write only what is known.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Date taken", self.date)
        form.addRow(self.circa)
        form.addRow("Caption", self.caption)
        form.addRow(note)
        form.addRow(buttons)

    def values(self) -> tuple[PhotoDate | None, str | None]:
        """The date and caption entered (None = empty); DateError for a date that cannot be."""
        text = self.date.text().strip()
        date = parse_date(text, circa=self.circa.isChecked()) if text else None
        return date, self.caption.text().strip() or None

    def accept(self) -> None:
        try:
            self.values()
        except DateError as error:  # the dialog stays open, with what was typed
            QMessageBox.warning(self, "Date and Caption", f"The date {error}")
            return
        super().accept()
