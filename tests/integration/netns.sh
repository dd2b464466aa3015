# Sourced by tests that need their own network: port 53 and port 25 on any 127.0.0.0/8
# address (and ::1) belong to the test, nothing outside can reach in or be reached.
#
# usage, first thing in a test (before t_home or starting anything, since the script is
# started again from the top inside the namespace):
#     . "$(dirname "$0")/lib.sh"
#     . "$(dirname "$0")/netns.sh"
#     t_netns "$0" "$@"
#
# Outside a namespace (T_NETNS unset) t_netns re-runs the script with sh under
# `unshare -n` (root) or `unshare -rn` (not root) with T_NETNS=1 exported; inside, it brings
# lo up and adds ::1 to it when missing.  Needs unshare (util-linux) and ip (iproute2).
# A test that cannot get a namespace prints "not ok - ..." and exits 1: it counts as failed.

t_netns() {
	_t_script=$1; shift
	if [ -z "${T_NETNS:-}" ]; then
		command -v ip >/dev/null 2>&1 || {
			echo "not ok - ip (iproute2) is missing: cannot set up a network namespace"
			exit 1
		}
		if [ "$(id -u)" = 0 ]; then _t_unshare="unshare -n"; else _t_unshare="unshare -rn"; fi
		# Try first, so a failure can still be reported: after exec nothing can.
		_t_err=$($_t_unshare true 2>&1) || {
			echo "not ok - cannot create a network namespace: ${_t_err:-$_t_unshare failed}"
			exit 1
		}
		T_NETNS=1
		export T_NETNS
		trap - EXIT	# lib.sh's cleanup runs in the re-run script, not here
		exec $_t_unshare sh "$_t_script" "$@"
	fi
	_t_err=$(ip link set lo up 2>&1) || {
		echo "not ok - cannot bring lo up in the network namespace: $_t_err"
		exit 1
	}
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' ||
		ip -6 addr add ::1/128 dev lo 2>/dev/null ||
		echo "# netns: no ::1 on lo (IPv6 disabled?)" >&2
	return 0
}
