# Sourced by tests/integration/t-*.sh.  Each test gets its own TERN_HOME, starts the real
# binaries from $TERN_TEST_BIN, prints "ok - what" / "not ok - what" lines, and stops only
# the processes it started, by PID.
set -u
T_TOP=$(cd "$(dirname "$0")/../.." && pwd)
T_BIN=${TERN_TEST_BIN:-$T_TOP/bin}
T_BIN=$(cd "$T_BIN" && pwd)
T_PIDS=""
T_FAILED=0
T_N=0
PATH=$T_BIN:$PATH
export PATH

ok()   { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
fail() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
# check "description" command args...: ok when the command succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# is "description" got expected
is() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', expected '$3')"; fi; }

# A fresh self-contained home (tern-run -i), exported as TERN_HOME.
t_home() {
	TERN_HOME=$(mktemp -d /tmp/tern-test.XXXXXX)
	export TERN_HOME
	"$T_BIN/tern-run" -i -d "$TERN_HOME" >/dev/null || { fail "tern-run -i"; exit 1; }
	mkdir -p "$TERN_HOME/log"
	# Tests never reach past loopback: remote mail goes to a closed port here (it is
	# deferred) unless a test routes it itself, as t-remote does in its own namespace.
	printf ':[127.0.0.1]:1\n' >"$TERN_HOME/control/smtproutes"
}

# Start tern-send in the background, logging to $TERN_HOME/log/send.log.
t_start_send() {
	"$T_BIN/tern-send" 2>>"$TERN_HOME/log/send.log" &
	T_SEND_PID=$!
	T_PIDS="$T_PIDS $T_SEND_PID"
	t_wait 5 test -p "$TERN_HOME/queue/trigger" -a -s "$TERN_HOME/queue/pid"
}

t_stop_send() {
	[ -n "${T_SEND_PID:-}" ] || return 0
	kill "$T_SEND_PID" 2>/dev/null
	wait "$T_SEND_PID" 2>/dev/null
	T_SEND_PID=""
}

# t_wait SECONDS command args...: poll (every 20 ms) until the command succeeds.
t_wait() {
	_limit=$(( $1 * 50 )); shift
	_i=0
	while [ $_i -lt $_limit ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.02; _i=$((_i + 1))
	done
	return 1
}

# Number of files in a Maildir's new/ and cur/.
t_count() { ls "$1/new" "$1/cur" 2>/dev/null | grep -vc -e '^$' -e ':$'; }
# t_wait_count SECONDS DIR N: wait until DIR (a Maildir) holds N messages.
t_wait_count() { t_wait "$1" t_count_is "$2" "$3"; }
t_count_is() { [ "$(t_count "$1")" -eq "$2" ]; }

# t_listen VAR BASE LOG PROG ARGS...: tcpserver (options in $T_TCPOPTS, then -1 -q -R -H
# -l 0) on a free port of 127.0.0.1 in BASE..BASE+4999 running PROG ARGS, its stderr
# appended to LOG.  The port goes into $VAR, its PID into ${VAR}_PID and T_PIDS.
# Each test has a BASE of its own, so tests running side by side do not collide.
T_LISTEN_N=0
t_listen() {
	_var=$1 _base=$2 _log=$3; shift 3
	T_LISTEN_N=$((T_LISTEN_N + 1))
	_pf=$TERN_HOME/log/port.$_var.$T_LISTEN_N
	_try=0
	while [ $_try -lt 20 ]; do
		_port=$((_base + ($$ * 37 + T_LISTEN_N * 1709 + _try * 991) % 5000))
		: >"$_pf"
		# shellcheck disable=SC2086
		tcpserver -1 ${T_TCPOPTS:-} -q -R -H -l 0 127.0.0.1 "$_port" "$@" >"$_pf" 2>>"$_log" &
		_pid=$!
		_i=0
		while [ $_i -lt 250 ] && kill -0 $_pid 2>/dev/null && [ ! -s "$_pf" ]; do
			sleep 0.02; _i=$((_i + 1))
		done
		if [ -s "$_pf" ] && kill -0 $_pid 2>/dev/null; then
			T_PIDS="$T_PIDS $_pid"
			eval "$_var=$_port; ${_var}_PID=$_pid"
			return 0
		fi
		kill $_pid 2>/dev/null; wait $_pid 2>/dev/null
		_try=$((_try + 1))
	done
	return 1
}

T_DEMO=""
t_demo() { echo "$TERN_HOME/mail/example.test/demo/Maildir"; }

t_cleanup() {
	for p in $T_PIDS; do kill "$p" 2>/dev/null; done
	for p in $T_PIDS; do wait "$p" 2>/dev/null; done
	[ "${TERN_KEEP:-}" ] || { [ -n "${TERN_HOME:-}" ] && case $TERN_HOME in /tmp/tern-test.*) rm -rf "$TERN_HOME";; esac; }
}
trap t_cleanup EXIT

# Last thing in every test.
t_done() { exit $(( T_FAILED > 0 )); }
