#!/usr/bin/env bash
# System packages the test suite needs (not the product: `lasso serve` runs with Python packages alone).
# - chromium: the app's browser test (Playwright drives Debian's chromium; it never downloads a browser);
# - redis-server, postgresql, rabbitmq-server: the queue API's end-to-end and scale-out tests (the tests start their
#   own servers; the S3 tests use moto's server, a Python package);
# - fluidsynth (with its small TimGM6mb font): the soundfont renders of data preparation.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
command -v fluidsynth >/dev/null || missing+=(fluidsynth)
[ -e /usr/share/sounds/sf2/TimGM6mb.sf2 ] || missing+=(timgm6mb-soundfont)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
