"""SessionScribe desktop app (PySide6).

Kept import-light on purpose: `sessionscribe transcribe ...` goes through `app.launcher`, and
that path must not pay for (or require) Qt. Nothing Qt-related is imported here.
"""
