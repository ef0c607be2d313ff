"""SAM 2 video tracking demo: ``python app.py`` (settings: see tracker/settings.py or --help)."""

import logging

from tracker.layout import build_ui
from tracker.model_loading import EngineCache
from tracker.settings import AppSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    settings = AppSettings.from_sources()
    demo = build_ui(settings, EngineCache(settings))
    demo.queue(default_concurrency_limit=1).launch(server_name=settings.host, server_port=settings.port)


if __name__ == "__main__":
    main()
