/* pendulum_mpc.c: the stand-in controller (see pendulum_mpc.h). Static memory only. */
#include "pendulum_mpc.h"

static const pendulum_real gain[PENDULUM_NX] = { 2, 40, 4, 8 };
static const pendulum_real params[PENDULUM_NP] = { 1, 0.125, 0.75 };
static pendulum_real x_pred[PENDULUM_NX], u_last[PENDULUM_NU], x_ref[PENDULUM_NX];
static pendulum_real x_next[PENDULUM_NX], A[PENDULUM_NX * PENDULUM_NX], B[PENDULUM_NX * PENDULUM_NU];

int pendulum_mpc_init(void)
{
    int i;
    for (i = 0; i < PENDULUM_NX; ++i) {
        x_pred[i] = 0;
        x_ref[i] = 0;
    }
    u_last[0] = 0;
    return 0;
}

int pendulum_mpc_start(const pendulum_real *x0)
{
    (void)x0;
    return 0;
}

int pendulum_mpc_set_x_ref(int stage, const pendulum_real *ref)
{
    int i;
    if (stage != -1 || ref == 0) {
        return PENDULUM_MPC_BAD_ARGUMENT;
    }
    for (i = 0; i < PENDULUM_NX; ++i) {
        x_ref[i] = ref[i];
    }
    return 0;
}

int pendulum_mpc_feedback(const pendulum_real *x0, pendulum_real *u0)
{
    pendulum_real u = 0;
    int i;
    for (i = 0; i < PENDULUM_NX; ++i) {
        u -= gain[i] * (x0[i] - x_ref[i]);
        x_pred[i] = x0[i];
    }
    u = u > 80 ? 80 : (u < -80 ? -80 : u);
    u0[0] = u;
    u_last[0] = u;
    return 0;
}

int pendulum_mpc_prepare(void)
{
    int status = pendulum_F_and_jacobians(x_pred, u_last, params, x_next, A, B);
    return status == PENDULUM_OK ? 0 : status;
}

int pendulum_mpc_step(const pendulum_real *x0, pendulum_real *u0)
{
    int status = pendulum_mpc_feedback(x0, u0);
    return status != 0 ? status : pendulum_mpc_prepare();
}

int pendulum_mpc_solve(const pendulum_real *x0, pendulum_real *u0)
{
    return pendulum_mpc_feedback(x0, u0);
}
