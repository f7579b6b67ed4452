#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests/cluster/ (Debian/Ubuntu, run as root).
#
#   tests/cluster/start_slurm.sh          # install (if needed), configure, start, wait until idle
#
# Idempotent: packages already installed are not reinstalled; daemons already running and answering
# are left alone (a running cluster is reused as it is). What it sets up:
#   - Debian's slurm-wlm (slurmctld + slurmd + client tools) and munge, through apt-get;
#   - /etc/slurm/slurm.conf for ONE node, this host, reached on 127.0.0.1, with this machine's CPU
#     count and memory; no cgroups (proctrack/linuxproc, task/none), so it also runs in containers
#     and VMs without a cgroup hierarchy or systemd;
#   - no accounting database (AccountingStorageType=accounting_storage/none). Job states are read
#     with `squeue`, which slurmctld answers from memory for MinJobAge seconds after a job ends;
#     MinJobAge is 600 s, far longer than the executor plugin's poll interval. A slurmdbd with a
#     MariaDB server would make `sacct` work too, but costs a database install and start-up in every
#     CI run and adds a daemon that can fail; nothing in the tests needs job history.
# Exit status: 0 when `sinfo` shows the node idle; 2 when SLURM cannot be installed here (not root,
# no apt-get, no package mirror); 1 when installed daemons fail to start (see the logs below).
# Logs: /var/log/slurm/slurmctld.log, /var/log/slurm/slurmd.log.
set -euo pipefail

log() { echo "start_slurm: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# exit status 2: SLURM cannot be installed here at all (the tests skip, saying why)
cannot() { log "cannot start SLURM here: $*"; exit 2; }

[ "$(id -u)" -eq 0 ] || cannot "must run as root (installs packages and starts the SLURM daemons)"
command -v apt-get >/dev/null || cannot "apt-get not found: this script supports Debian/Ubuntu only"

# --- packages ------------------------------------------------------------------------------------
need=()
for pkg in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    log "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || cannot "apt-get update failed (no network or no package mirror?)"
    # policy-rc.d 101: the packages' maintainer scripts must not try to start services (no init
    # system in containers); this script starts the daemons itself.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || { [ "$created_policy" -eq 1 ] && rm -f "$policy"; cannot "apt-get install ${need[*]} failed"; }
    [ "$created_policy" -eq 1 ] && rm -f "$policy"
fi

# --- munge -----------------------------------------------------------------------------------------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
    for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
    munge -n | unmunge >/dev/null || die "munge credentials do not round-trip"
fi

# --- slurm.conf ------------------------------------------------------------------------------------
node=$(hostname -s)
cpus=$(nproc --all)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
mem_mb=$(( mem_mb > 1024 ? mem_mb - 512 : mem_mb ))   # leave a little for the OS
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
conf=/etc/slurm/slurm.conf
new_conf=$(mktemp)
cat > "$new_conf" <<EOF
# Written by sgdrepro tests/cluster/start_slurm.sh: one node (this host), no accounting database.
ClusterName=sgdrepro
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
# Cores are consumable, memory is not (a job's --mem is checked against the node, not summed), so
# the tests' jobs never wait for memory on small CI machines.
SelectTypeParameters=CR_Core
ReturnToService=2
# squeue keeps finished jobs (with their final state) this long: the executor plugin's poll
# interval must stay below it.
MinJobAge=600
SchedulerParameters=sched_interval=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
if [ -f "$conf" ] && cmp -s "$new_conf" "$conf"; then
    rm -f "$new_conf"
else
    log "writing $conf (node ${node}: ${cpus} CPUs, ${mem_mb} MB)"
    mv "$new_conf" "$conf"; chmod 0644 "$conf"
    # A changed configuration needs restarted daemons: only ones this config describes are ours.
    if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
        scontrol reconfigure >/dev/null 2>&1 || true
    fi
fi

# --- daemons ---------------------------------------------------------------------------------------
if ! scontrol ping 2>/dev/null | grep -q "is UP"; then
    if ! pgrep -x slurmctld >/dev/null; then
        log "starting slurmctld"
        /usr/sbin/slurmctld || die "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
    fi
    for _ in $(seq 1 60); do scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 0.5; done
    scontrol ping 2>/dev/null | grep -q "is UP" \
        || die "slurmctld does not answer: $(tail -5 /var/log/slurm/slurmctld.log 2>/dev/null)"
fi
if ! pgrep -x slurmd >/dev/null; then
    log "starting slurmd"
    /usr/sbin/slurmd || die "slurmd did not start (see /var/log/slurm/slurmd.log)"
fi

# --- wait until the node is idle --------------------------------------------------------------------
state=""
for i in $(seq 1 120); do
    state=$(sinfo --noheader --nodes="$node" --format=%T 2>/dev/null | head -1 | tr -d '*~#!%$@^-')
    case "$state" in
        idle|mixed|allocated) log "node ${node} is ${state}"; exit 0 ;;
        down|drained|draining|fail|failing|unknown|"")
            # A node left down by an earlier run (e.g. a changed config) is brought back.
            if [ $((i % 10)) -eq 0 ]; then
                scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
            fi ;;
    esac
    sleep 0.5
done
die "node ${node} is not idle after 60 s (state: '${state}'); see /var/log/slurm/slurmd.log:
$(tail -5 /var/log/slurm/slurmd.log 2>/dev/null)"
