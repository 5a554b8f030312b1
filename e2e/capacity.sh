#!/usr/bin/env bash
# capacity.sh: the most simulated agents one Vigil server holds with a check-in p99 under a
# bound (100 ms), measured with `vigil loadgen` on this machine, on SQLite, on PostgreSQL, and
# with two server replicas on one PostgreSQL. Not run in CI: one store takes from 20 minutes to
# over an hour. Run it from the repository's root:
#
#   bash e2e/capacity.sh                       # sqlite, postgres and replicas, 5,000 to 30,000 agents
#   bash e2e/capacity.sh -s sqlite -n "10000 20000 25000" -t 300
#   bash e2e/capacity.sh -q 5 -s sqlite -n "20000 30000 40000"   # each trial at a quiet moment
#
# Options:
#   -s STORES   stores to measure, among sqlite, postgres, replicas (default: all three)
#   -n COUNTS   agent counts to try, ascending (default "5000 10000 15000 20000 25000 30000"); after
#               the first count that fails, the midpoint with the last that held is tried too
#               (when the first count fails, half of it, down to 1,000, until one holds)
#   -t SECONDS  steady phase, once every agent has enrolled (default 180: three check-ins each)
#   -b MS       the p99 bound (default 100)
#   -i SECONDS  check-in interval the server sets (default 60, the product's default)
#   -c CONNS    connections per server the simulated agents share (default 1000; 0: one per agent,
#               which needs an open-file limit above the agent count in both processes)
#   -m WHOSE    the p99 that decides: probe (the round trip one agent sees; the default),
#               generator (the fleet's round trips) or server (the server's histogram)
#   -q LOAD     before each trial, wait (up to 30 minutes) for the 1-minute load average to fall
#               under LOAD (this machine is shared: the quietest moments give the fairest figures)
#   -o FILE     where the result rows go (default: capacity-results.md in the current folder)
#
# PostgreSQL: $VIGIL_TEST_POSTGRES (as .ci/run exports it) or
# postgres://vigil:vigil@127.0.0.1:5432/postgres?sslmode=disable; each trial gets a fresh
# database, dropped after it.
#
# What a trial measures. Each simulated agent enrolls for real, checks in at the server's
# interval and sends one event a minute in one batch a minute (a quiet laptop). The agents
# share CONNS connections per server: a real fleet keeps one each, but a process here may not
# open more than 20,000 files (the hard limit), so 20,000 agents with a connection each fit
# neither in the generator nor in the server; an idle connection costs the server memory (a
# goroutine and buffers), not CPU. Once every agent has enrolled and one interval has passed,
# the server's histogram of check-in latency
# (vigil_http_request_duration_seconds{op="agentCheckin"}, read from /metrics before and after
# the steady phase) gives the server's p99: the bucket bound it falls under and the share of
# check-ins answered within the bound: the handler's time, without the time a request waits
# for the server to read it. What an agent sees is the round trip (request sent to answer
# read), measured twice over the same window. The probe: one more simulated agent, in its own
# `vigil loadgen` run at a raised CPU priority (nice -10, when root), checking in every
# 200 ms: its round trip adds TLS and the server's queueing to the handler's time, but not the
# waits of a generator starved by its own thousands of agents, as an agent on its own laptop
# would see it. The generator: the fleet's own check-ins (loadgen --settle), which do count
# those waits (the generator shares the two cores with the server and the machine's other
# users): an upper bound. A count holds when the p99 of the criterion (-m) is under the bound
# and no request failed in the steady phase.
set -euo pipefail

stores="sqlite postgres replicas"
counts="5000 10000 15000 20000 25000 30000"
steady=180
bound=100
interval=60
conns=1000
criterion=probe
quiet=""
out="$PWD/capacity-results.md"
while getopts "s:n:t:b:i:c:m:q:o:h" opt; do
  case $opt in
    s) stores=$OPTARG ;;
    n) counts=$OPTARG ;;
    t) steady=$OPTARG ;;
    b) bound=$OPTARG ;;
    i) interval=$OPTARG ;;
    c) conns=$OPTARG ;;
    m) criterion=$OPTARG ;;
    q) quiet=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
done
case $criterion in probe | generator | server) ;; *) echo "-m: probe, generator or server, not $criterion" >&2; exit 2 ;; esac
pg_base=${VIGIL_TEST_POSTGRES:-"postgres://vigil:vigil@127.0.0.1:5432/postgres?sslmode=disable"}
token="vgt_capacity-admin-token-0123456789abcdef"
secret="vge_capacity-enroll-secret-0123456789abcdef"

cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/vigil-capacity-XXXXXX)
pids=()
dbs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${dbs[@]}"; do psql "$pg_base" -qc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Every connection is an open file, on both sides.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "building vigil..."
go build -o "$work/vigil" ./cmd/vigil
vigil="$work/vigil"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
load() { cut -d' ' -f1 /proc/loadavg; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
# The probe runs at a raised priority when it may.
probe_nice=()
[ "$(id -u)" = 0 ] && probe_nice=(nice -n -10)
# field LINE NAME: the value of NAME=... in a loadgen summary line.
field() { echo "$1" | grep -o "$2=[0-9.]*" | cut -d= -f2; }

# start_server DATA PORT [DB]: starts a server and sets $started to its pid once it answers.
start_server() {
  local data=$1 port=$2 db=${3:-} args=()
  [ -n "$db" ] && args=(--db "$db")
  "$vigil" server --listen "127.0.0.1:$port" --data "$data" --log-level warn --admin-token "$token" \
    --enroll-secret "$secret" --checkin-interval "${interval}s" "${args[@]}" >"$data.log" 2>&1 &
  started=$!
  pids+=("$started")
  for _ in $(seq 1 300); do
    if curl -skf "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$started" 2>/dev/null || { cat "$data.log" >&2; return 1; }
    sleep 0.2
  done
  echo "server on $port did not answer" >&2
  return 1
}

# checkin_hist URL: "le count" lines of the check-in latency histogram, summed over labels.
checkin_hist() {
  curl -skf -H "Authorization: Bearer $token" "$1/metrics" |
    awk '/^vigil_http_request_duration_seconds_bucket\{/ && /op="agentCheckin"/ {
           match($0, /le="[^"]+"/); le=substr($0, RSTART+4, RLENGTH-5); n[le]+=$NF }
         END { for (le in n) print le, n[le] }' | sort -g
}

# p99_of BEFORE AFTER BOUND_S: from two histogram snapshots (files), prints
# "total p99_bucket share_within_bound".
p99_of() {
  join -a 2 -e 0 -o 0,1.2,2.2 <(sort -k1,1 "$1") <(sort -k1,1 "$2") | sort -g |
    awk -v b="$3" '{ le[NR]=$1; c[NR]=$3-$2 } END {
      total=c[NR]; p="none"; within=0
      for (i=1;i<=NR;i++) { if (p=="none" && total>0 && c[i] >= 0.99*total) p=le[i]; if (le[i]+0==b+0) within=c[i] }
      if (total>0) printf "%d %s %.4f\n", total, p, within/total; else print "0 none 0" }'
}

# wait_quiet: with -q, waits for the load average to fall under it (30 minutes at most).
wait_quiet() {
  [ -n "$quiet" ] || return 0
  local t0
  t0=$(date +%s)
  while [ "$(echo "$(load) >= $quiet" | bc)" = 1 ] && [ $(( $(date +%s) - t0 )) -lt 1800 ]; do sleep 15; done
}

# trial STORE N: runs one trial, appends its row, returns 0 when the count holds.
trial() {
  local store=$1 n=$2 dir="$work/$1-$2" db="" urls port port2 pid pid2="" pin
  wait_quiet
  mkdir -p "$dir"
  if [ "$store" != sqlite ]; then
    local name="vigil_capacity_$$_${n}_$store"
    psql "$pg_base" -qc "CREATE DATABASE $name" >/dev/null
    dbs+=("$name")
    db=$(printf '%s' "$pg_base" | sed -E "s#/[^/?]+(\?|$)#/$name\1#")
  fi
  port=$(free_port)
  start_server "$dir/a" "$port" "$db"
  pid=$started
  urls="https://127.0.0.1:$port"
  if [ "$store" = replicas ]; then
    mkdir -p "$dir/b" && chmod 700 "$dir/b"
    cp -r "$dir/a/tls" "$dir/a/policy-signing.key" "$dir/b/"
    port2=$(free_port)
    start_server "$dir/b" "$port2" "$db"
    pid2=$started
    urls="$urls,https://127.0.0.1:$port2"
  fi
  pin=$(grep -o 'sha256:[0-9a-f]\{64\}' "$dir/a.log" | head -1)
  local load0 t0 enrolled_at
  load0=$(load)
  t0=$(date +%s)
  "$vigil" loadgen --server "$urls" --enroll-secret "$secret" --ca-pin "$pin" --agents "$n" --duration 90m \
    --events-per-min 1 --batch-every 60s --conns "$conns" --settle "${interval}s" --machine-prefix "cap-$store-$n" >"$dir/loadgen.out" 2>"$dir/loadgen.err" &
  local lg=$!
  pids+=("$lg")
  # Enrollment: wait until every agent is in (30 minutes at most).
  while ! grep -q "agents=$n/$n " "$dir/loadgen.err" 2>/dev/null; do
    if ! kill -0 "$lg" 2>/dev/null || [ $(( $(date +%s) - t0 )) -gt 1800 ]; then
      kill -INT "$lg" 2>/dev/null || true; wait "$lg" 2>/dev/null || true
      row "$store" "$n" "$load0" "enrollment did not finish in $(( $(date +%s) - t0 )) s: $(tail -1 "$dir/loadgen.err")" "" "" "" "" "" "no"
      return 1
    fi
    sleep 2
  done
  enrolled_at=$(( $(date +%s) - t0 ))
  # Let the check-ins of the enrollment burst spread out over one interval, then measure.
  sleep "$interval"
  checkin_hist "https://127.0.0.1:$port" >"$dir/h0a"
  [ -n "$pid2" ] && checkin_hist "https://127.0.0.1:$port2" >"$dir/h0b"
  local c0 c0b=0 errs0 s0
  c0=$(cpu_ticks "$pid"); [ -n "$pid2" ] && c0b=$(cpu_ticks "$pid2")
  errs0=$(tail -1 "$dir/loadgen.err" | grep -o 'errors=[0-9]*' | cut -d= -f2)
  s0=$(date +%s.%N)
  # The probe: one agent per server, checking in every 200 ms over the steady phase.
  local nprobe=1
  [ -n "$pid2" ] && nprobe=2
  "${probe_nice[@]}" "$vigil" loadgen --server "$urls" --enroll-secret "$secret" --ca-pin "$pin" --agents "$nprobe" \
    --duration "${steady}s" --checkin-every 200ms --events-per-min 1 --batch-every 60s --machine-prefix "probe-$store-$n" \
    >"$dir/probe.out" 2>"$dir/probe.err" &
  local pr=$!
  pids+=("$pr")
  sleep "$steady"
  wait "$pr" || true
  checkin_hist "https://127.0.0.1:$port" >"$dir/h1a"
  [ -n "$pid2" ] && checkin_hist "https://127.0.0.1:$port2" >"$dir/h1b"
  local c1 c1b=0 errs1 s1 secs
  c1=$(cpu_ticks "$pid"); [ -n "$pid2" ] && c1b=$(cpu_ticks "$pid2")
  errs1=$(tail -1 "$dir/loadgen.err" | grep -o 'errors=[0-9]*' | cut -d= -f2)
  s1=$(date +%s.%N)
  local rss
  rss=$(rss_mb "$pid")
  [ -n "$pid2" ] && rss="$rss + $(rss_mb "$pid2")"
  kill -INT "$lg"; wait "$lg" 2>/dev/null || true
  secs=$(echo "$s1 - $s0" | bc)
  # Both replicas' histograms add up to the fleet's.
  if [ -n "$pid2" ]; then
    join -a1 -a2 -e 0 -o 0,1.2,2.2 <(sort -k1,1 "$dir/h0a") <(sort -k1,1 "$dir/h0b") | awk '{print $1, $2+$3}' >"$dir/h0"
    join -a1 -a2 -e 0 -o 0,1.2,2.2 <(sort -k1,1 "$dir/h1a") <(sort -k1,1 "$dir/h1b") | awk '{print $1, $2+$3}' >"$dir/h1"
  else
    cp "$dir/h0a" "$dir/h0"; cp "$dir/h1a" "$dir/h1"
  fi
  local total p99 within server_p99_ms cpu line gen ok="yes"
  read -r total p99 within < <(p99_of "$dir/h0" "$dir/h1" "$(echo "$bound / 1000" | bc -l | sed 's/0*$//')")
  if [ "$p99" = none ]; then server_p99_ms="none"; else server_p99_ms="≤ $(awk -v p="$p99" 'BEGIN { printf "%g", p * 1000 }') ms"; fi
  cpu=$(awk -v t="$(( c1 - c0 + c1b - c0b ))" -v hz="$(getconf CLK_TCK)" -v s="$secs" 'BEGIN { printf "%.2f", t / hz / s }')
  line=$(tail -1 "$dir/loadgen.out")
  local gen50 gen99 pline probe50 probe99 probeerr
  gen50=$(field "$line" p50_ms)
  gen99=$(field "$line" p99_ms)
  gen="${gen50:-none} / ${gen99:-none} ms"
  pline=$(tail -1 "$dir/probe.out")
  probe50=$(field "$pline" p50_ms)
  probe99=$(field "$pline" p99_ms)
  probeerr=$(field "$pline" errors)
  if [ "${errs1:-0}" != "${errs0:-0}" ] || [ "${probeerr:-1}" != 0 ]; then ok="no"; fi
  case $criterion in
    server) if [ "$p99" = none ] || [ "$(echo "$p99 * 1000 > $bound" | bc)" = 1 ]; then ok="no"; fi ;;
    generator) if [ -z "$gen99" ] || [ "$(echo "$gen99 >= $bound" | bc)" = 1 ]; then ok="no"; fi ;;
    probe) if [ -z "$probe99" ] || [ "$(echo "$probe99 >= $bound" | bc)" = 1 ]; then ok="no"; fi ;;
  esac
  row "$store" "$n" "$load0" "enrolled in ${enrolled_at} s; $total check-ins in ${secs%.*} s" "$server_p99_ms" \
    "$(echo "$within * 100" | bc -l | xargs printf '%.1f') %" "${probe50:-none} / ${probe99:-none} ms (${probeerr:-?} failed)" "$gen" \
    "$cpu of a core, ${rss} MB; $(( ${errs1:-0} - ${errs0:-0} )) failed requests" "$ok"
  kill "$pid" ${pid2:+"$pid2"} 2>/dev/null || true
  wait "$pid" ${pid2:+"$pid2"} 2>/dev/null || true
  [ "$ok" = yes ]
}

# row STORE N LOAD0 PHASE SERVER_P99 WITHIN PROBE GEN SERVER OK: one Markdown row, printed and
# appended.
row() {
  local r
  r="| $(date -u '+%Y-%m-%d %H:%M') | $1 | $2 | $3 → $(load) | $4 | $5 | $6 | $7 | $8 | $9 | ${10} |"
  echo "$r"
  echo "$r" >>"$out"
}

[ -s "$out" ] || {
  echo "| date (UTC) | store | agents | load average (start → end) | phase | server check-in p99 (handler) | within ${bound} ms | probe p50 / p99 (one agent's round trip) | generator p50 / p99 (the fleet's round trips) | server CPU, RSS | holds ($criterion p99 < ${bound} ms) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} | tee -a "$out"
for store in $stores; do
  good=0 bad=0
  for n in $counts; do
    if trial "$store" "$n"; then good=$n; else bad=$n; break; fi
  done
  while [ "$bad" -gt 0 ] && [ "$good" = 0 ] && [ $(( bad / 2 )) -ge 1000 ]; do
    n=$(( bad / 2 / 500 * 500 ))
    if trial "$store" "$n"; then good=$n; else bad=$n; fi
  done
  if [ "$bad" -gt 0 ] && [ "$good" -gt 0 ]; then
    mid=$(( (good + bad) / 2 / 500 * 500 ))
    if [ "$mid" -gt "$good" ] && [ "$mid" -lt "$bad" ] && trial "$store" "$mid"; then good=$mid; fi
  fi
  if [ "$bad" -gt 0 ]; then bad="$bad agents"; else bad="none of those tried"; fi
  echo "$store: holds the bound at $good agents (the first count that did not: $bad)" | tee -a "$out"
done
