"""The CPU an emulated arm64 root is told it runs on: a sysfs tree and a /proc/cpuinfo for N Arm cores.

qemu-user runs arm64 code on this machine's kernel, which describes its own x86 CPU: /proc/cpuinfo
lists x86 processors and /sys an x86 topology. The Arm runtimes read those to plan their threads and
kernels, and crash on what they find: onnxruntime's cpuinfo on an x86 topology, OpenVINO's hwloc
without one and its xbyak_aarch64 without MIDR_EL1. scripts/arm64_check.sh emulates Neoverse N1 cores
(QEMU_CPU) and bind-mounts what this writes over the root's /sys and /proc/cpuinfo, so both runtimes
see the CPU they run on, as on an AWS Graviton2 (MIDR 0x413fd0c1, 64 KiB L1, 1 MiB L2, a shared L3).
It changes what they plan, never what a graph computes.

Usage: python scripts/arm64_cpu.py OUT_DIR [--cores 2]   (writes OUT_DIR/sys/… and OUT_DIR/cpuinfo)
"""

from __future__ import annotations

import argparse
from pathlib import Path

MIDR_EL1 = 0x413FD0C1  # implementer 0x41 (Arm), variant 3, architecture 0xf, part 0xd0c (Neoverse N1), revision 1
FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs"
CACHES = [  # (level, type, size, shared by all cores)
    (1, "Data", "64K", False),
    (1, "Instruction", "64K", False),
    (2, "Unified", "1024K", False),
    (3, "Unified", "32768K", True),
]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def cpu_list(cores: range) -> str:
    return f"{cores.start}-{cores.stop - 1}" if len(cores) > 1 else str(cores.start)


def cpu_mask(cores: range) -> str:
    return f"{sum(1 << core for core in cores):x}"


def write_sysfs(root: Path, count: int) -> None:
    """/sys/devices/system/{cpu,node} and /sys/bus/cpu/devices for `count` cores in one package and one NUMA node."""
    everyone = range(count)
    cpu = root / "devices/system/cpu"
    for name in ("online", "possible", "present"):
        _write(cpu / name, cpu_list(everyone))
    _write(cpu / "offline", "")
    _write(cpu / "kernel_max", "511")
    for core in everyone:
        own, folder = range(core, core + 1), cpu / f"cpu{core}"
        _write(folder / "online", "1")
        _write(folder / "regs/identification/midr_el1", f"0x{MIDR_EL1:016x}")
        _write(folder / "cpufreq/cpuinfo_max_freq", "2500000")
        _write(folder / "cpufreq/cpuinfo_min_freq", "1000000")
        topology = folder / "topology"
        for name, value in (("physical_package_id", "0"), ("core_id", str(core)), ("cluster_id", "0"), ("die_id", "0")):
            _write(topology / name, value)
        for name, cores in (("thread_siblings", own), ("core_cpus", own), ("core_siblings", everyone), ("cluster_cpus", everyone),
                            ("package_cpus", everyone), ("die_cpus", everyone)):
            _write(topology / name, cpu_mask(cores))
            _write(topology / f"{name}_list", cpu_list(cores))
        for index, (level, kind, size, shared) in enumerate(CACHES):
            cache, cores = folder / f"cache/index{index}", everyone if shared else own
            for name, value in (("level", str(level)), ("type", kind), ("size", size), ("coherency_line_size", "64"), ("ways_of_associativity", "8"),
                                ("shared_cpu_list", cpu_list(cores)), ("shared_cpu_map", cpu_mask(cores)), ("id", "0" if shared else str(core))):
                _write(cache / name, value)
        (root / "bus/cpu/devices").mkdir(parents=True, exist_ok=True)
        (root / "bus/cpu/devices" / f"cpu{core}").symlink_to(f"../../../devices/system/cpu/cpu{core}")
    node = root / "devices/system/node"
    for name in ("online", "possible", "has_cpu"):
        _write(node / name, "0")
    _write(node / "node0/cpulist", cpu_list(everyone))
    _write(node / "node0/cpumap", cpu_mask(everyone))


def cpuinfo(count: int) -> str:
    fields = [("BogoMIPS", "50.00"), ("Features", FEATURES), ("CPU implementer", f"0x{MIDR_EL1 >> 24:02x}"), ("CPU architecture", "8"),
              ("CPU variant", f"0x{(MIDR_EL1 >> 20) & 0xF:x}"), ("CPU part", f"0x{(MIDR_EL1 >> 4) & 0xFFF:03x}"), ("CPU revision", str(MIDR_EL1 & 0xF))]
    return "\n".join(f"processor\t: {core}\n" + "\n".join(f"{name}\t: {value}" for name, value in fields) + "\n" for core in range(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    if (args.out / "sys").exists():
        raise SystemExit(f"error: {args.out / 'sys'} exists; remove it first")
    write_sysfs(args.out / "sys", args.cores)
    _write(args.out / "cpuinfo", cpuinfo(args.cores).rstrip("\n"))


if __name__ == "__main__":
    main()
