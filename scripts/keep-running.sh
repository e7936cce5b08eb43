#!/usr/bin/env bash
# Run a command again whenever it dies, until this script is told to stop (SIGTERM or SIGINT,
# passed on to the command). For `make run`'s processes: a Celery worker exits when its broker goes
# away while it holds unacknowledged messages (kombu 5.7 raises AttributeError restoring them), and
# the stack must not carry on half-dead. Each restart is logged on stderr; restarts are spaced by
# KEEP_RUNNING_PAUSE seconds (default 2) so that a command failing at once does not spin.
set -u
pause="${KEEP_RUNNING_PAUSE:-2}"
child=0
stopping=0
stop() {
    stopping=1
    if [ "$child" -ne 0 ]; then kill -TERM "$child" 2>/dev/null; fi
}
trap stop TERM INT
while :; do
    "$@" &
    child=$!
    wait "$child"
    status=$?
    # `wait` returns early when a trapped signal arrives: wait for the command itself to finish.
    while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
    child=0
    if [ "$stopping" -eq 1 ]; then exit 0; fi
    echo "keep-running: '$*' exited with status $status; starting it again in ${pause}s" >&2
    sleep "$pause" & wait $!
    if [ "$stopping" -eq 1 ]; then exit 0; fi
done
