"""`python -m bot.training_service`: run the training service until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.training_service.config import TrainerConfigError, load_config
from bot.training_service.service import TrainerService


async def _serve() -> int:
    try:
        config = load_config()
    except TrainerConfigError as exc:
        print(f"training service configuration problems:\n{exc}", file=sys.stderr)
        return 2
    service = TrainerService(config)
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await service.stop()
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_serve())


if __name__ == "__main__":
    sys.exit(main())
