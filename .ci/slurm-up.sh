#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the tests of `repro run --executor slurm`.
#
#   sudo .ci/slurm-up.sh      # ~15 s (more the first time: it apt-installs slurm-wlm and munge)
#   sudo .ci/slurm-down.sh    # stops every daemon by the PID recorded here
#
# Clients (sinfo, sbatch, and repro itself) must run inside the cluster's network namespace
# with SLURM_CONF set; the script's last line says how:
#   nsenter --net=/run/netns/repro-slurm env SLURM_CONF=/tmp/repro-slurm/slurm.conf sinfo
#
# Made from ../shared/slurm/'s recipe (Debian 12's slurm-wlm 22.05 and munge, as root, no
# systemd). Its three workarounds:
#  1. slurmctld and slurmd bind 0.0.0.0, so every daemon and client runs in a private network
#     namespace that has only loopback;
#  2. glibc's AI_ADDRCONFIG ignores 127.0.0.1 and slurmctld then dies with "Unable to resolve":
#     127.0.0.2/8 on lo inside the namespace fixes it;
#  3. nsenter --net=..., not `ip netns exec` (which remounts /sys and hides cgroups from slurmd).
# Accounting (slurmdbd + MariaDB) is on by default because job states come from sacct, which
# is what submitit (and so repro) reads; ACCOUNTING=0 skips it.
# The node advertises two GPUs as a count-only generic resource (no devices behind them), so
# that --gpus-per-run is scheduled for real; nothing in a job can use them.
set -euo pipefail
B=${REPRO_SLURM_DIR:-/tmp/repro-slurm}
NS=${REPRO_SLURM_NETNS:-repro-slurm}
ACCOUNTING=${ACCOUNTING:-1}
NSX="nsenter --net=/run/netns/$NS"
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 1024 ))

fail() { echo "slurm-up: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, munge and slurm daemons)"
command -v nsenter >/dev/null && command -v ip >/dev/null || fail "needs nsenter and ip (util-linux, iproute2)"

# Leftovers of an earlier cluster (a killed test session) would hold the ports and PID files.
"$(dirname "$0")/slurm-down.sh" >/dev/null 2>&1 || true

PACKAGES="slurm-wlm munge"
[ "$ACCOUNTING" = 1 ] && PACKAGES="$PACKAGES slurmdbd mariadb-server"
missing=0
for cmd in slurmctld slurmd munged sinfo; do command -v $cmd >/dev/null || missing=1; done
[ "$ACCOUNTING" = 1 ] && { command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null || missing=1; }
if [ $missing = 1 ]; then
  echo "slurm-up: installing $PACKAGES (apt)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null
fi

# A new cluster each time: no jobs, node states or accounting rows from an earlier one.
rm -rf $B/state $B/spool $B/log
mkdir -p $B/{state,spool,log,run,munge,mysql}
chown munge:munge $B/munge
chown mysql:mysql $B/mysql 2>/dev/null || true

# 1. the network namespace: loopback only, plus 127.0.0.2 (workaround 2)
ip netns add $NS 2>/dev/null || true
$NSX ip link set lo up
$NSX ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true

# 2. munge, on a unix socket of its own
SOCKET=$B/munge/munge.socket.2
runuser -u munge -- /usr/sbin/munged --socket=$SOCKET --pid-file=$B/munge/munged.pid \
  --log-file=$B/munge/munged.log --seed-file=$B/munge/munged.seed
for _ in $(seq 50); do [ -S $SOCKET ] && break; sleep 0.1; done
munge -n -S $SOCKET | unmunge -S $SOCKET >/dev/null || fail "munge does not answer; see $B/munge/munged.log"

# 3. slurm.conf
cat > $B/slurm.conf <<CONF
ClusterName=repro
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$B/state
SlurmdSpoolDir=$B/spool
SlurmctldPidFile=$B/run/slurmctld.pid
SlurmdPidFile=$B/run/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
AccountingStorageTRES=gres/gpu
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
KillWait=2
SwitchType=switch/none
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
mkdir -p $B/dev && touch $B/dev/gpu0 $B/dev/gpu1  # stand-ins for /dev/nvidia0 and 1
echo "NodeName=$HOST Name=gpu File=$B/dev/gpu[0-1]" > $B/gres.conf
export SLURM_CONF=$B/slurm.conf

# 4. accounting: MariaDB (no networking, a socket) and slurmdbd
if [ "$ACCOUNTING" = 1 ]; then
  cat >> $B/slurm.conf <<CONF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePass=$SOCKET
CONF
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  setsid $NSX /usr/sbin/mariadbd --user=mysql --skip-networking --pid-file=$B/mysql/mariadbd.pid \
    --log-error=$B/mysql/mariadb.err >/dev/null 2>&1 </dev/null &
  echo $! > $B/run/mariadbd.fgpid
  for _ in $(seq 100); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db; CREATE DATABASE slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" || fail "MariaDB did not start; see $B/mysql/mariadb.err"
  cat > $B/slurmdbd.conf <<CONF
AuthType=auth/munge
AuthInfo=socket=$SOCKET
DbdHost=$HOST
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=$B/run/slurmdbd.pid
LogFile=$B/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
CONF
  chmod 600 $B/slurmdbd.conf
  setsid $NSX env SLURM_CONF=$SLURM_CONF slurmdbd -D >$B/log/slurmdbd.out 2>&1 </dev/null &
  echo $! > $B/run/slurmdbd.fgpid
  for _ in $(seq 100); do $NSX timeout 5 sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 0.2; done
  $NSX sacctmgr -i add cluster repro >/dev/null 2>&1 || true
else
  echo "AccountingStorageType=accounting_storage/none" >> $B/slurm.conf
fi

# 5. slurmctld and slurmd in the foreground (-D), in the background of this script, PIDs recorded
setsid $NSX env SLURM_CONF=$SLURM_CONF slurmctld -D -i >$B/log/slurmctld.out 2>&1 </dev/null &
echo $! > $B/run/slurmctld.fgpid
setsid $NSX env SLURM_CONF=$SLURM_CONF slurmd -D >$B/log/slurmd.out 2>&1 </dev/null &
echo $! > $B/run/slurmd.fgpid
state=""
for _ in $(seq 150); do
  state=$($NSX timeout 5 sinfo -h -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "the node is '${state:-unreachable}', not idle; see $B/log/slurmctld.log and slurmd.log"
echo "slurm is up: nsenter --net=/run/netns/$NS env SLURM_CONF=$SLURM_CONF sinfo"
