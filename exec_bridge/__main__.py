"""Run the exec bridge: `python -m exec_bridge`."""

from __future__ import annotations

import logging
import shutil
import sys

from pydantic import ValidationError

from exec_bridge.config import Settings

logger = logging.getLogger("exec_bridge")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main() -> int:
    """Read the settings, then serve until SIGTERM or SIGINT; exit 2 on a bad setting."""
    try:
        settings = Settings()
    except ValidationError as error:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        for issue in error.errors():
            variable = ".".join(str(part) for part in issue["loc"]).upper()
            logger.error("Invalid setting %s: %s", variable, issue["msg"])
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    program = settings.argv[0]
    if shutil.which(program) is None:
        logger.error("Invalid setting EXEC_COMMAND: no executable program %r", program)
        return 2
    # Imported only now, so a bad setting is reported without loading the web stack.
    import uvicorn

    from exec_bridge.app import create_app

    logger.info("Serving the output of: %s", settings.exec_command)
    # log_config=None keeps uvicorn's loggers flowing into the handler configured above.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
