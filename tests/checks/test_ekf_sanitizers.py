"""The generated EKF under AddressSanitizer and UBSan, fed extreme and non-finite data.

A small C driver (below) calls init, update, predict and set_gate 20,000 times with
values drawn from NaN, +-Inf, +-1e300, +-1e-300, 0 and ordinary numbers, and aborts if
an estimate or covariance is ever not finite or a status is outside the enum. Compiled
with clang -fsanitize=address,undefined -fno-sanitize-recover=all, any out-of-bounds
access, overflow of a signed integer or misaligned access ends the run.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import ROOT

DRIVER = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "pendulum.h"
#include "pendulum_ekf.h"

static unsigned long long state = 88172645463325252ULL;
static unsigned long long next(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; }
static double draw(void)
{
    static const double special[] = {0.0, 1e300, -1e300, 1e-300, -1e-300, 1.0, -1.0, 3.14159};
    unsigned long long r = next();
    switch (r % 10) {
    case 0: return NAN;
    case 1: return (r >> 8) % 2 ? INFINITY : -INFINITY;
    case 2: return special[(r >> 8) % 8];
    default: return ((double)((r >> 11) % 2000001ULL) - 1000000.0) * 1e-5;
    }
}

int main(void)
{
    pendulum_real x0[PENDULUM_NX], P0[PENDULUM_NX * PENDULUM_NX], x[PENDULUM_NX], P[PENDULUM_NX * PENDULUM_NX];
    pendulum_real y[PENDULUM_EKF_NY], u[PENDULUM_NU], p[PENDULUM_NP] = {1.0, 0.1, 0.8};
    struct pendulum_ekf_stats stats;
    int k, i, status;
    for (i = 0; i < PENDULUM_NX; ++i) x0[i] = 0.0;
    if (pendulum_ekf_init(x0, NULL) != PENDULUM_EKF_OK) return 2;
    for (k = 0; k < 20000; ++k) {
        unsigned long long what = next() % 10;
        for (i = 0; i < PENDULUM_EKF_NY; ++i) y[i] = (next() % 3) ? draw() : (pendulum_real)(0.01 * (double)(next() % 100));
        for (i = 0; i < PENDULUM_NU; ++i) u[i] = (next() % 4) ? (pendulum_real)(next() % 160) - 80 : draw();
        if (what == 0) {
            for (i = 0; i < PENDULUM_NX; ++i) x0[i] = (next() % 4) ? 0.1 : draw();
            for (i = 0; i < PENDULUM_NX * PENDULUM_NX; ++i) P0[i] = 0.0;
            for (i = 0; i < PENDULUM_NX; ++i) P0[i * PENDULUM_NX + i] = (next() % 3) ? 1e-2 : draw();
            status = pendulum_ekf_init(x0, (next() % 2) ? P0 : NULL);
        } else if (what == 1) {
            status = pendulum_ekf_set_gate(draw());
        } else if (what < 6) {
            status = pendulum_ekf_update(y, u, p);
        } else {
            status = pendulum_ekf_predict(u, p);
        }
        if (status < 0 || status > PENDULUM_EKF_NOT_INITIALIZED) { printf("bad status %d\n", status); abort(); }
        pendulum_ekf_get_state(x, P);
        pendulum_ekf_get_stats(&stats);
        for (i = 0; i < PENDULUM_NX; ++i) if (!isfinite(x[i])) { printf("x not finite at %d\n", k); abort(); }
        for (i = 0; i < PENDULUM_NX * PENDULUM_NX; ++i) if (!isfinite(P[i])) { printf("P not finite at %d\n", k); abort(); }
        if (stats.used < 0 || stats.used > PENDULUM_EKF_NY) abort();
    }
    printf("done\n");
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed (make tools)")
def test_the_ekf_under_address_and_undefined_behaviour_sanitizers(tmp_path) -> None:
    folder = ROOT / "generated" / "pendulum"
    (tmp_path / "driver.c").write_text(DRIVER)
    exe = tmp_path / "driver"
    flags = ["-std=c99", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
             "-fno-omit-frame-pointer"]
    build = subprocess.run(["clang", *flags, "-I", str(folder), str(tmp_path / "driver.c"),
                            str(folder / "pendulum.c"), str(folder / "pendulum_ekf.c"), "-o", str(exe), "-lm"],
                           capture_output=True, text=True)
    if build.returncode != 0 and "sanitizer" in build.stderr.lower():
        pytest.skip(f"clang has no sanitizer runtime here: {build.stderr.strip()[:200]}")
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("done"), run.stdout[-500:] + run.stderr[-2000:]
