# How netdojo's netns lab runs the nginx image's `nginx`: the host's nginx binary ($1), the image's
# configuration (nginx.conf beside this file), and the pod's own writable directory as nginx's
# prefix for its pid and temp files. The remaining arguments are the container's (-g 'daemon off;').
nginx="$1"
shift
conf="$(cd "$(dirname "$0")" && pwd)/nginx.conf"
prefix="${NETDOJO_POD_DIR:?the kubelet names the pod's writable directory in NETDOJO_POD_DIR}/nginx"
mkdir -p "$prefix" || exit 1
# The access log is /dev/stdout, as in the image. Opening it fails when stdout is a socket (the
# pipes of Node's child_process are): a FIFO then relays it to the real stdout.
if [ -S /dev/stdout ]; then
  fifo="$prefix/stdout.$$"
  mkfifo "$fifo" || exit 1
  cat "$fifo" &
  exec >"$fifo"
  rm -f "$fifo"
fi
exec "$nginx" -p "$prefix/" -c "$conf" "$@"
