"""`python -m app.contracts write|release`: the committed contracts from the composed app,
and the event contract (AsyncAPI) from the event catalog.

It lives beside `main.py`, not in `app/governance/`: building the app to read its
contracts is the composition root's business, and the governance package that serves
and checks the contracts must not import the app it is part of.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.governance import asyncapi
from app.governance.contracts import contracts_of, release, write
from app.main import create_app
from core.settings import Settings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.contracts")
    parser.add_argument("command", choices=["write", "release"])
    parser.add_argument("--dir", type=Path, default=Path("openapi"), help="default: openapi")
    arguments = parser.parse_args(argv)
    if arguments.command == "write":
        app = create_app(Settings(_env_file=None, environment="test"))
        paths = write(app, arguments.dir)
        paths.append(asyncapi.write(arguments.dir, contracts_of(app)["v1"]["info"]["contact"]))
    else:
        paths = [*release(arguments.dir), *asyncapi.release(arguments.dir)]
    sys.stdout.writelines(f"{path}\n" for path in paths)


if __name__ == "__main__":
    main()
