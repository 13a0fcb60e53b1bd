"""The PySide6 desktop application. Nothing below this package imports Qt."""
