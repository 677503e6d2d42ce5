/*
 * pendulum_mpc.h: a stand-in for mpcgen's generated controller, with its C API, so the
 * firmware check can be tested on the controller path (tests/test_firmware.py).
 * State feedback u0 = clip(-K x0); "prepare" evaluates F_and_jacobians at the
 * predicted next state, like a real-time iteration's preparation phase.
 */
#ifndef PENDULUM_MPC_H
#define PENDULUM_MPC_H

#include "pendulum.h"

#define PENDULUM_MPC_N 7

int pendulum_mpc_init(void);
int pendulum_mpc_step(const pendulum_real *x0, pendulum_real *u0);
int pendulum_mpc_feedback(const pendulum_real *x0, pendulum_real *u0);
int pendulum_mpc_prepare(void);

#endif /* PENDULUM_MPC_H */
