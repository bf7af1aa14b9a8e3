"""``python -m services.console``: the console on HTTP_HOST:HTTP_PORT (8006)."""

import uvicorn

from services.console.app import create_app
from services.console.settings import ConsoleSettings
from shared.logging import configure_logging

settings = ConsoleSettings()
configure_logging("console", settings.log_level, settings.log_format)
uvicorn.run(
    create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
)
