# The kube-proxy image's kube-proxy as netdojo's netns lab runs it. The rules are the lab's
# controllers' work; this process reads its configuration file as kube-proxy does, logs what
# kube-proxy logs as it starts, and fails where kube-proxy fails: an unknown mode, or the ipvs mode
# on a kernel without IP Virtual Server (no /proc/net/ip_vs in the node's network namespace), which
# leaves the pod in CrashLoopBackOff and the node's Service rules as they were.
# Usage: kube-proxy.sh --config=<file> [--hostname-override=<node>] [other kube-proxy flags]
config= node=$(cat /proc/sys/kernel/hostname)
for a in "$@"; do
  case "$a" in
    --config=*) config=${a#--config=} ;;
    --hostname-override=*) node=${a#--hostname-override=} ;;
  esac
done
klog() { # level file:line message...
  level=$1 at=$2; shift 2
  printf '%s%s       1 %s] %s\n' "$level" "$(date -u +%m%d\ %H:%M:%S.%6N)" "$at" "$*"
}
if [ -z "$config" ] || [ ! -r "$config" ]; then
  klog E run.go:72 "\"command failed\" err=\"failed to load kube-proxy config file: open $config: no such file or directory\""
  exit 1
fi
mode=$(sed -n 's/^mode:[[:space:]]*//p' "$config" | tr -d '"'"'" | tr -d '[:space:]')
case "$mode" in
  ''|iptables) klog I server_linux.go:66 '"Using iptables proxy"' ;;
  ipvs)
    if [ ! -e /proc/net/ip_vs ]; then
      klog E run.go:72 '"command failed" err="can'"'"'t use the IPVS proxier: IPVS proxier will not be used because the kernel has no IP Virtual Server support (ip_vs)"'
      exit 1
    fi
    klog E run.go:72 '"command failed" err="the ipvs mode is not built in this lab: set mode: iptables"'
    exit 1 ;;
  nftables)
    klog E run.go:72 '"command failed" err="the nftables mode is not built in this lab: set mode: iptables"'
    exit 1 ;;
  *)
    klog E run.go:72 "\"command failed\" err=\"KubeProxyConfiguration.Mode: Invalid value: \\\"$mode\\\": must be iptables, ipvs, nftables or blank (blank means the best-available proxy [currently iptables])\""
    exit 1 ;;
esac
klog I server.go:715 "\"Successfully retrieved node IP(s)\" IPs=[\"$(ip -4 -o addr show dev eth0 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')\"]"
klog I server.go:245 "\"kube-proxy running in single-stack mode\" ipFamily=\"IPv4\""
klog I config.go:199 '"Starting service config controller"'
klog I config.go:105 '"Starting endpoint slice config controller"'
klog I config.go:329 "\"Starting node config controller\" node=\"$node\""
exec sleep infinity
