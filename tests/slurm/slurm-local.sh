#!/usr/bin/env bash
# A private single-node SLURM cluster on localhost (slurmctld + slurmd + munged), for tests. Adapted from the
# recipe in shared/examples/slurm/slurm-local.sh, but isolated so that it can run beside another cluster or
# munged on the same machine: everything lives under DIR (config, state, logs, pid files, its own munge key
# and socket), and the slurmctld/slurmd ports are free ones picked at start.
#   slurm-local.sh up DIR      starts the daemons; clients then need: export SLURM_CONF=DIR/slurm.conf
#   slurm-local.sh down DIR    cancels the cluster's jobs and stops the daemons by the PIDs in their pid files
# Exit codes of `up`: 0 started, 77 cannot run here (not root, slurm or munge missing), 1 failed to start.
# Run it (do not source it). No systemd and no cgroups are needed (proctrack/linuxproc, task/none).
set -u
cmd="${1:-}"
D="${2:-}"
[[ ( $cmd == up || $cmd == down ) && -n $D ]] || { echo "usage: $0 up|down DIR" >&2; exit 2; }
D="$(mkdir -p "$D" && cd "$D" && pwd)"
export SLURM_CONF="$D/slurm.conf"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() {  # pid_of FILE: the PID in FILE, if it is one
  local pid=""
  [[ -s $1 ]] && pid="$(cat "$1")"
  [[ $pid =~ ^[0-9]+$ ]] && echo "$pid"
  return 0
}

if [[ $cmd == down ]]; then
  if [[ -n $(pid_of "$D/slurmctld.pid") ]] && command -v scancel >/dev/null; then
    timeout 10 scancel --full --quiet -p debug 2>/dev/null || true
  fi
  # TERM slurmd and slurmctld together (each takes 1-2 s), then munged (they use it while shutting down);
  # wait up to 10 s for each, then KILL.
  stop() {
    local pids=() pid f
    for f in "$@"; do
      pid="$(pid_of "$f")"
      [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    done
    for pid in "${pids[@]}"; do
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    done
  }
  stop "$D/slurmd.pid" "$D/slurmctld.pid"
  stop "$D/munge/munged.pid"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || { echo "slurm-local: needs root (slurmd runs jobs as any user)" >&2; exit 77; }
for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged; do
  [[ -x $b ]] || { echo "slurm-local: $b missing (apt-get install slurm-wlm munge)" >&2; exit 77; }
done
id munge >/dev/null 2>&1 || { echo "slurm-local: no munge user" >&2; exit 77; }

mkdir -p "$D"/{state,spool,log,munge}
chmod 755 "$D"
chown munge:munge "$D/munge"
chmod 755 "$D/munge"  # munged: the socket directory must be executable by all
runuser -u munge -- test -w "$D/munge" || { echo "slurm-local: user munge cannot reach $D/munge (make its parents o+x)" >&2; exit 1; }
if [[ ! -s $D/munge/munge.key ]]; then
  dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$D/munge/munge.key"
  chmod 400 "$D/munge/munge.key"
fi

# Two free ports next to each other, away from the defaults (6817/6818) another cluster may hold.
PORT=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 20000))
  if port_free "$p" && port_free $((p + 1)); then PORT=$p; break; fi
done
[[ -n $PORT ]] || { echo "slurm-local: no free port" >&2; exit 1; }

MEM=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 2048))
NCPU=$(getconf _NPROCESSORS_ONLN)  # not nproc: it obeys OMP_NUM_THREADS, which CI sets to 1
cat >"$SLURM_CONF" <<CONF
ClusterName=aftershocktest
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

runuser -u munge -- /usr/sbin/munged --socket="$D/munge/munge.socket" --pid-file="$D/munge/munged.pid" \
  --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" --key-file="$D/munge/munge.key" \
  || { echo "slurm-local: munged failed to start" >&2; exit 1; }
/usr/sbin/slurmctld -f "$SLURM_CONF" || { echo "slurm-local: slurmctld failed to start" >&2; exit 1; }
/usr/sbin/slurmd -f "$SLURM_CONF" -N localhost || { echo "slurm-local: slurmd failed to start" >&2; exit 1; }
for _ in $(seq 1 100); do
  [[ $(sinfo -h -o %T 2>/dev/null) == idle ]] && break
  sleep 0.2
done
[[ $(sinfo -h -o %T 2>/dev/null) == idle ]] || { echo "slurm-local: node not idle" >&2; tail -5 "$D"/log/*.log >&2; exit 1; }
echo "slurm-local: up in $D (slurmctld port $PORT, $NCPU CPUs)"
