#!/usr/bin/env bash
# Stop the cluster .ci/slurm-up.sh started: each daemon by the PID it recorded, then the namespace.
B=${REPRO_SLURM_DIR:-/tmp/repro-slurm}
NS=${REPRO_SLURM_NETNS:-repro-slurm}
for daemon in slurmd slurmctld slurmdbd mariadbd; do
  pidfile=$B/run/$daemon.fgpid
  [ -f $pidfile ] || continue
  pid=$(cat $pidfile)
  if kill $pid 2>/dev/null; then
    for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.2; done
    kill -9 $pid 2>/dev/null || true
    echo "stopped $daemon (pid $pid)"
  fi
  rm -f $pidfile
done
if [ -f $B/munge/munged.pid ]; then
  pid=$(cat $B/munge/munged.pid)
  kill $pid 2>/dev/null && echo "stopped munged (pid $pid)"
  rm -f $B/munge/munged.pid
fi
ip netns del $NS 2>/dev/null || true
