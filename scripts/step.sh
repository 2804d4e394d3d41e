#!/bin/sh
# One step of `make`'s set-up, on one line: what it does (and how long it usually takes), then how
# long it took. Its output (pip's progress, warnings) goes to a log, shown only if the step fails.
#
#     sh scripts/step.sh LOG "Installing X (about 5 s)" command args...
log=$1 what=$2
shift 2
printf '%s... ' "$what"
started=$(date +%s)
if "$@" >>"$log" 2>&1; then
    echo "done ($(($(date +%s) - started)) s)"
    exit 0
else
    status=$?
fi
echo "failed." >&2
echo "----- the end of $log -----" >&2
tail -n 25 "$log" >&2
echo "----- (the whole output is in $log) -----" >&2
exit "$status"
