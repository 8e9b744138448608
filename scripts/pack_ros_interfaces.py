"""Pack an ament install prefix into one binary wheel.

scripts/build_ros_interfaces.sh installs the seven RMF interface packages into
a staging prefix and calls this to turn that prefix into a wheel that any venv
with the same interpreter and the same pinned ROS wheels can install without a
compiler. The layout mirrors the ROS wheels on the package index:
``lib/pythonX.Y/site-packages`` becomes the wheel's root (platlib) and every
other file (``lib/*.so``, ``share/``, ``include/``) goes to ``<dist>.data/data``,
which pip installs relative to the venv's ``sys.prefix``, where the ROS wheels'
bootstrap puts ``lib`` on the library path and ament finds ``share``.

usage: pack_ros_interfaces.py --prefix DIR --name DIST --requires "a==1,b==2" --out DIR
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import sys
import sysconfig
import zipfile
from pathlib import Path

VERSION = "1.0.0"
# A fixed timestamp keeps the wheel byte-identical for identical inputs.
EPOCH = (2020, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _wheel_tag() -> str:
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{py}-{py}-{plat}"


def pack(prefix: Path, name: str, requires: list[str], out: Path) -> Path:
    """Write ``<name>-VERSION-<tag>.whl`` into ``out`` and return its path."""
    site = (
        Path("lib") / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )
    files = sorted(p for p in prefix.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    if not files:
        raise SystemExit(f"nothing installed under {prefix}")
    dist_info = f"{name}-{VERSION}.dist-info"
    data_dir = f"{name}-{VERSION}.data/data"
    tag = _wheel_tag()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{name}-{VERSION}-{tag}.whl"
    records: list[tuple[str, str, str]] = []

    def add(zf: zipfile.ZipFile, arcname: str, data: bytes, mode: int = 0o644) -> None:
        info = zipfile.ZipInfo(arcname, date_time=EPOCH)
        info.external_attr = (mode & 0o777) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)
        records.append((arcname, _record_hash(data), str(len(data))))

    with zipfile.ZipFile(wheel, "w") as zf:
        for path in files:
            rel = path.relative_to(prefix)
            arcname = (
                rel.relative_to(site).as_posix()
                if rel.is_relative_to(site)
                else f"{data_dir}/{rel.as_posix()}"
            )
            add(zf, arcname, path.read_bytes(), path.stat().st_mode)
        metadata = (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {VERSION}\n"
            "Summary: Open-RMF interface packages built by fleethub for the PyPI ROS 2 wheels\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        )
        add(zf, f"{dist_info}/METADATA", metadata.encode())
        wheel_meta = (
            f"Wheel-Version: 1.0\nGenerator: fleethub pack_ros_interfaces\n"
            f"Root-Is-Purelib: false\nTag: {tag}\n"
        )
        add(zf, f"{dist_info}/WHEEL", wheel_meta.encode())
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows(records)
        writer.writerow((f"{dist_info}/RECORD", "", ""))
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=EPOCH)
        zf.writestr(info, buf.getvalue())
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--requires", default="")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    requires = [r for r in args.requires.split(",") if r]
    wheel = pack(args.prefix.resolve(), args.name, requires, args.out)
    print(f"{wheel} {wheel.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
