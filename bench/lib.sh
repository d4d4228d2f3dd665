# Shell functions shared by the bench sections (sourced,
# not run). The caller sets TMP (its temporary directory) and PIDS (the
# processes to stop on exit), and installs cleanup() as the trap of EXIT,
# HUP, INT, PIPE and TERM.

CLK_TCK=$(getconf CLK_TCK)

# bench_args SCRIPT ARGS...: BUILD_DIR [--quick] into BUILD (absolute) and
# QUICK (0 or 1); exits 2 with a usage line on anything else.
bench_args() {
	script=$(basename "$1")
	shift
	if [ $# -lt 1 ]; then
		echo "usage: sh bench/$script BUILD_DIR [--quick]" >&2
		exit 2
	fi
	BUILD=$1
	shift
	QUICK=0
	for a in "$@"; do
		case $a in
		--quick) QUICK=1 ;;
		*) echo "usage: sh bench/$script BUILD_DIR [--quick]" >&2
		   exit 2 ;;
		esac
	done
	dir=$BUILD
	BUILD=$(cd "$dir" 2>/dev/null && pwd) ||
	    { echo "bench: no build directory $dir" >&2; exit 2; }
}
TIMED_PID=""

# running PID: true while the process exists and is not a zombie.
running() {
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	set -- ${s##*) }
	[ "$1" != Z ]
}

# Children of process $1.
children() {
	parent=$1
	for f in /proc/[0-9]*/stat; do
		s=$(cat "$f" 2>/dev/null) || continue
		pid=${s%% *}
		set -- ${s##*) }
		[ "$2" = "$parent" ] && echo "$pid"
	done
	return 0
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	n=0
	while running "$1" && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# stop_tree PID: GNU time passes no signal on, so the timeout(1) under it
# is stopped first (it passes TERM to the command it runs).
stop_tree() {
	for c in $(children "$1"); do
		stop_pid "$c"
	done
	stop_pid "$1"
}

stop_all() {
	[ -z "$TIMED_PID" ] || stop_tree "$TIMED_PID"
	TIMED_PID=""
	for p in $PIDS; do
		stop_pid "$p"
	done
	PIDS=""
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_http URL PID: until URL answers 2xx, while PID lives (20 s at most).
wait_http() {
	n=0
	while [ $n -lt 200 ]; do
		running "$2" || return 1
		curl -fs -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

# CPU ticks (user + system, all threads) of the given processes.
ticks() {
	t=0
	for p in "$@"; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		set -- ${s##*) }
		t=$((t + ${12} + ${13}))
	done
	echo $t
}

# CPU ticks the whole machine spent busy (all cores), from /proc/stat.
machine_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# procs_snapshot FILE: "pid ticks" of every user-space process.
procs_snapshot() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{
		pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
		if (pid == 2 || f[2] == 2) next
		print pid, f[12] + f[13] }' >"$1"
}

# foreign_ticks BEFORE AFTER OURS...: ticks used between the snapshots by
# processes that are not ours (one that exited in between is not counted).
foreign_ticks() {
	b=$1
	a=$2
	shift 2
	awk -v ours=" $* " 'FNR == NR { t0[$1] = $2; next }
	    index(ours, " " $1 " ") == 0 { d += $2 - ($1 in t0 ? t0[$1] : 0) }
	    END { print d + 0 }' "$b" "$a"
}

# timed NAME LIMIT CMD...: runs CMD under GNU time and timeout(1), in the
# background so that a signal reaches the trap at once. Output in
# $TMP/NAME.out and NAME.err; NAME.time holds "wall user sys maxrss_kb";
# NAME.cpu "foreign other": the CPU, in % of one core, that live processes
# not ours (foreign) and the rest of the machine (other: kernel threads,
# I/O writeback, processes that came and went) used meanwhile. The ticks
# of the processes in $OURS (a server under test) count as ours.
timed() {
	t_name=$1
	t_limit=$2
	shift 2
	procs_snapshot "$TMP/procs0"
	t_m0=$(machine_ticks)
	t_o0=$(ticks ${OURS:-})
	t_t0=$(date +%s.%N)
	/usr/bin/time -f '%e %U %S %M' -o "$TMP/$t_name.time" \
	    timeout -k 5 "$t_limit" "$@" >"$TMP/$t_name.out" \
	    2>"$TMP/$t_name.err" &
	TIMED_PID=$!
	t_rc=0
	wait $TIMED_PID || t_rc=$?
	TIMED_PID=""
	t_t1=$(date +%s.%N)
	t_m1=$(machine_ticks)
	t_o1=$(ticks ${OURS:-})
	procs_snapshot "$TMP/procs1"
	t_f=$(foreign_ticks "$TMP/procs0" "$TMP/procs1" $$ ${OURS:-})
	# GNU time prefixes a line when the command failed: keep the last.
	tail -1 "$TMP/$t_name.time" >"$TMP/$t_name.time1" 2>/dev/null || true
	mv "$TMP/$t_name.time1" "$TMP/$t_name.time"
	read -r t_wall t_user t_sys t_rss <"$TMP/$t_name.time" || true
	awk -v w0="$t_t0" -v w1="$t_t1" -v m="$((t_m1 - t_m0))" \
	    -v o="$((t_o1 - t_o0))" -v f="$t_f" -v hz="$CLK_TCK" \
	    -v u="${t_user:-0}" -v s="${t_sys:-0}" \
	    'BEGIN { d = w1 - w0; if (d <= 0) d = 1
	      other = m / hz - (u + s) - o / hz - f / hz; if (other < 0) other = 0
	      printf "%.0f %.0f\n", 100 * f / hz / d, 100 * other / d }' \
	    >"$TMP/$t_name.cpu"
	[ $t_rc -ne 124 ] || echo "bench: $t_name took more than $t_limit s" >&2
	return $t_rc
}
