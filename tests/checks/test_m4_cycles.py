"""The Cortex-M4 cycle estimate (mpcgen/checks/firmware/cycles.py) on QEMU log lines of its
own format: the TRM's timings per instruction, the stalls it models, and the caches.
benchmarks/m4_cycles.py runs it on whole firmware runs."""

from __future__ import annotations

from mpcgen.checks.firmware.cycles import (
    LINE,
    REFILL,
    WAIT,
    StepCycles,
    _Timer,
    execute_cycles,
    parse_instruction,
    summarize,
)


def block(*lines: str):
    out = [parse_instruction(line) for line in lines]
    assert all(i is not None for i in out)
    return out


def test_parse_reads_address_size_mnemonic_and_operands() -> None:
    a, b, c = block("0x0000097c:  ed9f 7a36  vldr     s14, [pc, #0x3d8]",
                    "0x0000004c:  4816       ldr      r0, [pc, #0x58]",
                    "0x000000aa:  eef0 7a47  vmoveq.f32 s15, s14")
    assert (a.address, a.size, a.op, a.literal) == (0x97C, 4, "vldr", True)
    assert (b.size, b.op, b.literal) == (2, "ldr", True)
    assert c.op == "vmov" and not c.literal   # the condition and type suffixes are dropped
    assert parse_instruction("0x00000010:  ") is None


def test_timings_follow_the_trm() -> None:
    fma, add_dep, add_free, div, ld1, ld2, vld, push = block(
        "0x00000000:  eee7 7a87  vfma.f32 s15, s15, s14",
        "0x00000004:  ee77 6aa7  vadd.f32 s13, s15, s15",
        "0x00000008:  ee37 7a04  vadd.f32 s14, s14, s8",
        "0x0000000c:  eec6 7a26  vdiv.f32 s15, s12, s13",
        "0x00000010:  6808       ldr      r0, [r1]",
        "0x00000012:  684a       ldr      r2, [r1, #4]",
        "0x00000014:  ed9f 7a36  vldr     s14, [r0]",
        "0x00000018:  b530       push     {r4, r5, lr}")
    assert execute_cycles(fma, None) == 3
    assert execute_cycles(add_dep, fma) == 2        # reads the MAC's result at once: one stall
    assert execute_cycles(add_free, fma) == 1
    assert execute_cycles(div, None) == 14
    assert execute_cycles(ld1, None) == 2 and execute_cycles(ld2, ld1) == 1   # neighbouring loads pipeline
    assert execute_cycles(vld, ld2) == 2
    assert execute_cycles(push, None) == 4          # 1 + N
    chain = block("0x00000000:  eee7 7a87  vfma.f32 s15, s13, s14",
                  "0x00000004:  eee6 7a86  vfma.f32 s15, s13, s12")
    assert execute_cycles(chain[1], chain[0]) == 3  # the addend is consumed late: no stall
    # the optimistic variant: VLDR pipelines after a load, a MAC takes 1
    assert execute_cycles(vld, ld2, optimistic=True) == 1 and execute_cycles(fma, None, optimistic=True) == 1
    assert execute_cycles(div, None, optimistic=True) == 14


def test_caches_prefetch_and_branches() -> None:
    straight = summarize(block(*(f"0x{4 * i:08x}:  ee37 7a04  vadd.f32 s{i}, s20, s21" for i in range(8))))
    assert straight.cycles == 8 and len(straight.lines) == 2
    timer, step = _Timer(), StepCycles()
    timer.block(straight, straight.fallthrough, step)
    # the first line misses (not sequential: the whole fetch), the second is prefetched
    # while the first's 4 cycles run: it stalls for the rest of the line fetch
    assert step.zero_wait == 8 and step.flash == 8 + (WAIT + 1) + (WAIT + 1 - 4)
    again = StepCycles()
    looped = summarize(block(*(f"0x{4 * i:08x}:  ee37 7a04  vadd.f32 s{i}, s20, s21" for i in range(7)),
                             "0x0000001c:  d1f0       bne      #0x0"))
    timer.block(looped, 0, again)                   # taken back to the top: both lines are cached
    assert again.zero_wait == 8 + REFILL and again.flash == again.zero_wait
    literal = summarize(block("0x00000020:  ed9f 7a01  vldr     s14, [pc, #0x4]"))
    assert literal.literals == ((0x24 + 4) // LINE,)
    first, second = StepCycles(), StepCycles()
    timer.block(literal, -1, first)
    timer.block(literal, -1, second)
    assert first.flash - first.zero_wait >= WAIT                  # the constant's line misses once
    assert second.flash == second.zero_wait                       # then it is in the data cache


def test_blocks_carry_their_addresses_and_cycles_for_a_profile(monkeypatch) -> None:
    import mpcgen.checks.firmware.cycles as cycles

    b = summarize(block("0x00000000:  eee7 7a87  vfma.f32 s15, s15, s14",
                        "0x00000004:  ee77 6aa7  vadd.f32 s13, s15, s15"))
    assert b.addresses == (0, 4) and b.each == (3, 2) and sum(b.each) == b.cycles
    # step_cycles hands every block of a step to on_block with the step's index, and none outside
    log = [("main", b), ("p_mpc_feedback", b), ("p_mpc_prepare", b), ("main", b), ("p_mpc_feedback", b),
           ("p_mpc_prepare", b), ("main", b)]
    monkeypatch.setattr(cycles, "trace", lambda elf, target: ((name, blk, -1) for name, blk in log))
    seen: list[int] = []
    steps = cycles.step_cycles(None, None, "p", lambda i, blk: seen.append(i))
    assert len(steps) == 2 and seen == [0, 0, 1, 1]
    assert all(s.instructions == 2 * b.instructions for s in steps)
