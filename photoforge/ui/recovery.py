"""Autosave timing in the GUI and the recovery dialog at start; the saving itself is
core/autosave.py. Everything runs on the GUI thread: a save costs milliseconds per step,
less than a thread handing the Document across would."""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QVBoxLayout)

from photoforge.core.autosave import (Autosaver, SessionInfo, discard_session, orphaned_sessions,
                                      recover_session)


class SessionAutosave(QObject):
    """Saves the window's document after each history step (coalesced to one save per
    event-loop turn) and every `seconds` while it changes, e.g. during a long stroke."""

    def __init__(self, window, seconds: int) -> None:
        super().__init__(window)
        self.window = window
        self.saver: Autosaver | None = None
        self._soon = QTimer(self, singleShot=True, interval=0, timeout=self.save)
        self._every = QTimer(self, timeout=self.save)
        self._failed = False
        self.set_interval(seconds)

    def set_interval(self, seconds: int) -> None:
        if seconds > 0:
            self._every.start(int(seconds * 1000))
        else:
            self._every.stop()

    def attach(self, document) -> None:
        """Start the session of `document`; the previous one had nothing left to keep
        (it was saved, or the user chose to discard it)."""
        self.finish()
        self.saver = Autosaver(document)
        document.history.listeners.append(self._schedule)

    def finish(self) -> None:
        if self.saver is not None:
            listeners = self.saver.doc.history.listeners
            if self._schedule in listeners:
                listeners.remove(self._schedule)
            self.saver.close()
            self.saver = None
        self._soon.stop()

    def _schedule(self) -> None:
        self._soon.start()  # after the step's other listeners, once per burst of changes

    def save(self) -> None:
        if self.saver is None or self.window.document is not self.saver.doc:
            return
        try:
            self.saver.save()
        except OSError as error:  # a full disk must not stop the painting: say it once
            if not self._failed:
                self.window.statusBar().showMessage(f"Autosave failed: {error}", 10000)
            self._failed = True
        else:
            self._failed = False


class RecoveryDialog(QDialog):
    """Lists unsaved sessions; Recover / Discard act on the selected one, Later keeps
    them all for the next start."""

    def __init__(self, sessions: list[SessionInfo], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved work")
        self.choice = "later"
        self.list = QListWidget()
        for s in sessions:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.saved_at))
            text = f"{s.name} — {when} — " + (f"damaged: {s.error}" if s.error else f"{s.steps} steps")
            item = QListWidgetItem(text)
            item.setData(256, s)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        box = QDialogButtonBox()
        for name, role in (("Recover", QDialogButtonBox.ButtonRole.AcceptRole),
                           ("Discard", QDialogButtonBox.ButtonRole.DestructiveRole),
                           ("Later", QDialogButtonBox.ButtonRole.RejectRole)):
            button = box.addButton(name, role)
            button.clicked.connect(lambda checked=False, n=name.lower(): self._choose(n))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("PhotoForge did not close normally. Recover this work?"))
        layout.addWidget(self.list)
        layout.addWidget(box)

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept() if choice != "later" else self.reject()

    def selected(self) -> SessionInfo | None:
        item = self.list.currentItem()
        return None if item is None else item.data(256)


def ask(sessions: list[SessionInfo], parent) -> tuple[str, SessionInfo | None]:
    """("recover" | "discard" | "later", the session chosen); tests replace this."""
    dialog = RecoveryDialog(sessions, parent)
    dialog.exec()
    return dialog.choice, dialog.selected()


def offer_recovery(window) -> bool:
    """At start: offer each session a crashed process left behind; True if one was
    recovered into `window`."""
    sessions = orphaned_sessions()
    while sessions:
        choice, session = ask(sessions, window)
        if choice == "later" or session is None:
            return False
        if choice == "discard":
            discard_session(session.folder)
            sessions.remove(session)
            continue
        try:
            document = recover_session(session.folder)
        except Exception as error:  # noqa: BLE001 - SessionError, MemoryError: say so, keep the files
            window.error("Cannot recover", f"{session.name}: {error}\n\nThe session is kept; "
                         "choose Discard to remove it.")
            continue
        window.adopt_recovered(document)
        discard_session(session.folder)  # only now: the new session holds all of it
        return True
    return False
