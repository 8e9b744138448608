# Sourced by scripts/test and scripts/test_ros_distro after scripts/_venv.sh.
# ensure_ros DISTRO: rclpy and the project's RMF interface packages of DISTRO in $VENV, built once
# and cached by their inputs (scripts/build_ros_interfaces.sh); re-installed only when those change.
ensure_ros() {
  local distro="$1" key
  key="$(cat "$ROOT/scripts/build_ros_interfaces.sh" "$ROOT"/ros_bridge/constraints-*.txt \
    $(find "$ROOT/ros_bridge/interfaces" -type f | sort) | sha256sum | cut -c1-16)"
  if [ ! -e "$VENV/.fleethub-ros-$distro-$key" ]; then
    # Runs on one machine (a developer's and CI's) share the build cache: one builds at a
    # time, so a second waits and then finds the wheel cached instead of deleting the
    # first's work directory mid-build.
    local cache="${FLEETHUB_CACHE_DIR:-$HOME/.cache/fleethub}"
    mkdir -p "$cache"
    (
      flock 9
      "$ROOT/scripts/build_ros_interfaces.sh" --distro "$distro" --venv "$VENV"
    ) 9>"$cache/.ros-$distro.lock"
    touch "$VENV/.fleethub-ros-$distro-$key"
  fi
}
