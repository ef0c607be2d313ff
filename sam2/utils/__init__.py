"""The official ``sam2.utils`` import paths (``misc``, ``transforms``, ``amg``), for code written
against the official package; each module is backed by this package's own implementation."""
