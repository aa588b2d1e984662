"""Run the example plugin service: `python -m example_plugin_service`."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from example_plugin_service.app import create_app
from example_plugin_service.config import Settings
from example_plugin_service.venues import VenuesFileError

logger = logging.getLogger("example_plugin_service")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main() -> int:
    """Read the settings and the venues file, then serve until SIGTERM or SIGINT."""
    try:
        settings = Settings()
    except ValidationError as error:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        for issue in error.errors():
            variable = ".".join(str(part) for part in issue["loc"]).upper()
            logger.error("Invalid setting %s: %s", variable, issue["msg"])
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    try:
        app = create_app(settings)
    except VenuesFileError as error:
        logger.error("%s", error)
        return 2
    # log_config=None keeps uvicorn's loggers flowing into the handler configured above.
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
