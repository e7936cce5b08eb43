"""Django-side commands of the bench; see `commands`."""
