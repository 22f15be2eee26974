"""The access log keeps paths, never query strings: signed upload and download URLs carry their signature there."""

import logging


class DropQueryStrings(logging.Filter):
    """Cuts `?...` from the path argument of uvicorn's access records (`client, method, path, version, status`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install() -> None:
    """Attach the filter to uvicorn's access logger once per process."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
