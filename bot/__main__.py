"""`python -m bot` runs the bot; `python -m bot check` validates config.toml and the environment."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.config import Config, advice, deadlines, load_config
from bot.errors import ConfigError
from bot.llm.retirements import Clock, utc_now


def _load(path: Path | None) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print("The configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        print("Secrets come from the environment; everything else from config.toml.", file=sys.stderr)
        return None


def main(argv: list[str] | None = None, clock: Clock = utc_now) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="A Discord bot that a community teaches.")
    parser.add_argument("command", nargs="?", choices=["run", "check"], default="run")
    parser.add_argument("--config", type=Path, default=None, help="path to config.toml (default: ./config.toml)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    args = parser.parse_args(argv)
    config = _load(args.config)
    if config is None:
        return 2
    if args.command == "check":
        print("Configuration OK.")
        for line in advice(config.settings):
            print(f"  note: {line}")
        for line in deadlines(config.settings, clock()):
            print(f"  dated: {line}")
        return 0
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # Alembic narrates every start ("Context impl ..."); bot.store.migrate logs what actually changed.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    for line in advice(config.settings) + deadlines(config.settings, clock()):
        logging.getLogger("bot").warning("%s", line)
    from bot.app import build  # imported here so `check` stays fast and light
    from bot.launch import run

    discord = config.settings.discord
    return run(build(config).bot, shard_ids=discord.shard_ids, shard_count=discord.shard_count)


if __name__ == "__main__":
    sys.exit(main())
