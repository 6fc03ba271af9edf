#!/bin/sh
# The real ghostls server as the editor tests start it: the editor talks to it over stdio as
# usual; its stderr and exit code are kept in $GHOSTLS_TEST_DIR for the test to check.
"$GHOSTLS_TEST_PYTHON" -m ghostls serve 2>>"$GHOSTLS_TEST_DIR/server.stderr"
echo $? >"$GHOSTLS_TEST_DIR/server.rc"
