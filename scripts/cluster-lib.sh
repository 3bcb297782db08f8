# Sourced by the cluster benchmarks (bench-cluster.sh, bench-paper.sh): the `l2s cluster` they run in the
# background (cluster_pid), its stop on exit, and its processes' CPU time.
cluster_pid=
stop_cluster() {
    if [ -n "$cluster_pid" ]; then
        kill -TERM "$cluster_pid" 2>/dev/null || true
        wait "$cluster_pid" 2>/dev/null || true
        cluster_pid=
    fi
}
trap stop_cluster EXIT

# cpu_seconds PID: CPU seconds (user + system) the children of the `l2s cluster` process PID have used so far,
# summed per role, as a JSON object {"router":1.2,"encoder":0.8,"decoder":3.4} (Linux /proc; fields 14 and 15
# of /proc/PID/stat).
cpu_seconds() {
    local child role ticks members="" hz
    hz=$(getconf CLK_TCK)
    for role in router encoder decoder; do
        ticks=0
        for child in $(pgrep -P "$1" -f "l2s $role "); do
            ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$child/stat")))
        done
        members+="${members:+,}\"$role\":$(awk "BEGIN{printf \"%.2f\", $ticks / $hz}")"
    done
    echo "{$members}"
}
