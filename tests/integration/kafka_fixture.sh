#!/usr/bin/env bash
# ctest fixture around scripts/kafka-local: `start MARKER` starts the local broker unless one
# is running (and leaves MARKER so that `stop MARKER` stops only a broker ctest started).
set -euo pipefail
kafka="$(cd "$(dirname "$0")/../.." && pwd)/scripts/kafka-local"
case "${1:-}" in
  start)
    # Also reuse a broker another checkout (or anything else) serves at the tests' address.
    bootstrap="${SLUICE_TEST_BOOTSTRAP:-127.0.0.1:9092}"
    if "$kafka" status >/dev/null 2>&1 || kcat -L -b "$bootstrap" -m 5 >/dev/null 2>&1; then
      echo "kafka already running at $bootstrap; leaving it as it is"
    else
      "$kafka" start
      touch "$2"
    fi ;;
  stop)
    if [ -f "$2" ]; then
      rm -f "$2"
      "$kafka" stop
    fi ;;
  *) echo "usage: $0 start|stop MARKER" >&2; exit 2 ;;
esac
