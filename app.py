"""SAM 2 video tracking demo: ``python app.py`` (settings: see tracker/settings.py or --help)."""

import logging

from tracker.layout import build_ui
from tracker.model_loading import EngineCache
from tracker.settings import AppSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    settings = AppSettings.from_sources()
    limits = settings.limits
    demo = build_ui(settings, EngineCache(settings))
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=1)
    demo.launch(server_name=settings.host, server_port=settings.port, max_file_size=limits.max_upload_bytes)


if __name__ == "__main__":
    main()
