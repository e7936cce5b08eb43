#!/usr/bin/env bash
# Run a command at the lowest CPU priority: it gets a core only when nothing else wants one. For the
# client webhooks' worker, whose work must not slow the money path on a machine they share.
#
# `chrt --idle 0` (SCHED_IDLE) alone is not enough on kernels that group processes by session
# ("autogroup", on by default in Debian's and Ubuntu's): they first share the CPU evenly between the
# sessions' groups, whatever the policies of the processes inside, so a command in a session of its
# own (each of honcho's processes, each of the bench's) would still get a full share. So when this
# script leads a session of its own, it also gives that session's group the lowest weight (nice 19)
# (the Procfile `exec`s it, so that it replaces the shell honcho starts as the session's leader).
# In a terminal's session it leaves the group alone (that would slow the terminal's other commands).
# In a container autogroups do not apply (its cgroup does): see the service's `cpu_shares` in
# docker-compose.yml.
set -eu
stat=$(< /proc/$$/stat)
read -r -a fields <<< "${stat##*) }"  # state, ppid, process group, session, ...
if [ "${fields[3]}" = "$$" ] && [ -w /proc/self/autogroup ]; then
    echo 19 > /proc/self/autogroup
fi
exec chrt --idle 0 "$@"
