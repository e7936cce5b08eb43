"""`python -m bench.django_side COMMAND [ARGS]`: set Django up, run one command, print its JSON.

`count` works under any settings module (the project's or the ceiling's); `seed`, `seed_many`,
`cursor` and `explain` need the project's apps.
"""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup()

from bench.django_side import counting  # noqa: E402 (needs the settings above)


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "count":
        requests = json.load(sys.stdin)
        counting.emit({name: counting.statements_of(request) for name, request in requests.items()})
        return
    # The project's models cannot be imported under the ceiling's settings: imported only here.
    from bench.django_side import project  # noqa: PLC0415

    if command == "seed":
        counting.emit(project.seed())
    elif command == "seed_many":
        counting.emit(project.seed_many(argv[1], int(argv[2])))
    elif command == "cursor":
        counting.emit(project.deep_cursor(argv[1], argv[2], int(argv[3])))
    elif command == "explain":
        counting.emit(project.explain(json.load(sys.stdin)))
    else:
        raise SystemExit(f"unknown command {command!r}")


main(sys.argv[1:])
