"""The PySide6 user interface: windows, models, views, dialogs. The only layer that knows Qt."""
