"""Load with wrk: one scenario is one HTTP request shape; one run of it is one wrk invocation.

The Lua script is written per scenario: it sets the method, headers and body, gives a POST a unique
`Idempotency-Key` when asked (a per-thread prefix plus a counter), spreads the requests over several
API keys round-robin when given them (each thread starts at its own offset), and reports through
wrk's `done` hook as one JSON line: requests, duration, errors, and the latency percentiles that
`--latency` prints.
"""

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

RESULT_MARK = "BENCH_RESULT "

_LUA = """
wrk.method = {method}
wrk.body = {body}
{headers}
local unique_key = {unique_key}
local api_keys = {{{api_keys}}}
local threads = 0
local counter = 0
local prefix = ""

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  prefix = (args[1] or "run") .. "-" .. tostring(thread_number)
end

if unique_key or #api_keys > 0 then
  function request()
    counter = counter + 1
    if unique_key then
      wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
    end
    if #api_keys > 0 then
      wrk.headers["Authorization"] = "Api-Key " .. api_keys[(counter + thread_number * 7) % #api_keys + 1]
    end
    return wrk.format()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d,'
      .. ' "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _lua_string(value: str) -> str:
    # JSON string escapes are valid Lua escapes for ASCII text; the bench sends ASCII only.
    if not value.isascii():
        raise ValueError("wrk scripts here carry ASCII only")
    return json.dumps(value)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    unique_key: bool = False  # a fresh Idempotency-Key on every request
    api_keys: tuple[str, ...] = ()  # when set, each request authenticates with the next of these

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "unique_key": self.unique_key,
        }


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]


@dataclass
class Measurements:
    """The rounds of one scenario."""

    runs: list[WrkResult] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return mean(run.rps for run in self.runs)

    @property
    def rps_min(self) -> float:
        return min(run.rps for run in self.runs)

    @property
    def rps_max(self) -> float:
        return max(run.rps for run in self.runs)

    @property
    def p50_ms(self) -> float:
        return mean(run.p50_ms for run in self.runs)

    @property
    def p99_ms(self) -> float:
        return mean(run.p99_ms for run in self.runs)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian's package)")
    return found


def run_wrk(
    *,
    base_url: str,
    request: Request,
    threads: int,
    connections: int,
    seconds: int,
    key_prefix: str,
    script_dir: Path,
    log: Path,
    raise_on_errors: bool = True,
) -> WrkResult:
    """One wrk run; raises when any request failed (a non-2xx/3xx answer, a socket error, a timeout),
    unless told to return the failures counted in its `errors`."""
    headers = "\n".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}" for name, value in request.headers.items()
    )
    if request.body:
        headers += '\nwrk.headers["Content-Type"] = "application/json"'
    script = script_dir / f"{key_prefix}.lua"
    script.write_text(
        _LUA.format(
            method=_lua_string(request.method),
            body=_lua_string(request.body) if request.body else "nil",
            headers=headers,
            unique_key="true" if request.unique_key else "false",
            api_keys=", ".join(_lua_string(key) for key in request.api_keys),
            mark=RESULT_MARK,
        )
    )
    command = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        base_url + request.path,
        "--",
        key_prefix,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}\n")
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    line = next((line for line in completed.stdout.splitlines() if line.startswith(RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result; see {log}")
    raw = json.loads(line.removeprefix(RESULT_MARK))
    errors = {name: int(raw[name]) for name in ("connect", "read", "write", "status", "timeout")}
    if raise_on_errors and (any(errors.values()) or raw["requests"] == 0):
        raise RuntimeError(f"{request.method} {request.path}: failed requests {errors}; see {log}")
    return WrkResult(
        requests=int(raw["requests"]),
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=errors,
    )
