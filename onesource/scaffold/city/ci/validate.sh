#!/bin/sh
# The same check as .github/workflows/catalog.yml, for any other CI: exit 1 on catalog problems.
set -eu
cd "$(dirname "$0")/.."
exec onesource catalog validate
