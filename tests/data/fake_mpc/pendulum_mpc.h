/*
 * pendulum_mpc.h: a stand-in for mpcgen's generated controller, with its C API, so the
 * firmware check can be tested on the controller path (tests/test_firmware.py).
 * State feedback u0 = clip(-K (x0 - x_ref)); "prepare" evaluates F_and_jacobians at the
 * predicted next state, like a real-time iteration's preparation phase; "solve" is
 * feedback and "start" a no-op.
 */
#ifndef PENDULUM_MPC_H
#define PENDULUM_MPC_H

#include "pendulum.h"

#define PENDULUM_MPC_N 7

enum pendulum_mpc_status { PENDULUM_MPC_OK = 0, PENDULUM_MPC_MAX_ITER = 1, PENDULUM_MPC_NONFINITE_INPUT = 3,
                          PENDULUM_MPC_BAD_ARGUMENT = 4, PENDULUM_MPC_MODEL_FAILURE = 5,
                          PENDULUM_MPC_INFEASIBLE = 6 };

int pendulum_mpc_init(void);
int pendulum_mpc_start(const pendulum_real *x0);
int pendulum_mpc_set_x_ref(int stage, const pendulum_real *x_ref);
int pendulum_mpc_solve(const pendulum_real *x0, pendulum_real *u0);
int pendulum_mpc_step(const pendulum_real *x0, pendulum_real *u0);
int pendulum_mpc_feedback(const pendulum_real *x0, pendulum_real *u0);
int pendulum_mpc_prepare(void);

#endif /* PENDULUM_MPC_H */
