"""Firmware readiness of a generated folder, proven on an emulated Cortex-M.

build      strict host and cross builds, the symbols they reference
callgraph  recursion and worst-case stack from gcc's call graph
qemu       the check program on QEMU and on the host, instructions per step
budget     all of it for one folder, compared with the host, and the budget table
"""
