# mpcgen developer entry points. Two commands do everything on a fresh machine:
#   make demo   install; generate the pendulum and its MPC, verify the Jacobians,
#               run the swing-up closed loop and plot it
#   make test   install and run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
MPCGEN := $(VENV)/bin/mpcgen
STAMP  := $(VENV)/.installed
DEMO   := build/demo

.PHONY: install tools demo test bench embedded generated clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,plot]'
	touch $(STAMP)

# System tools the tests use: a C compiler pair (gcc and clang), libFuzzer and valgrind
# (the fuzz and memcheck tests) and, for the firmware
# checks, the Cortex-M cross compiler with newlib and QEMU. Installed with apt-get when
# missing (CI and fresh machines run as root).
tools:
	@command -v gcc >/dev/null && command -v clang >/dev/null || { \
	  echo "installing clang with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc clang >/dev/null; }
	@printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
	  | clang -fsanitize=fuzzer,address,undefined -x c - -o /dev/null 2>/dev/null || { \
	  v=$$(clang -dumpversion | cut -d. -f1); echo "installing libFuzzer for clang $$v with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-rt-$$v-dev >/dev/null 2>&1 \
	  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-common-$$v-dev >/dev/null; } \
	  || echo "warning: could not install libFuzzer; the fuzz tests will be skipped"
	@command -v valgrind >/dev/null || { echo "installing valgrind with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; } \
	  || echo "warning: could not install valgrind; the memcheck test will be skipped"
	@command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null \
	  && test -n "$$(find /usr/lib/arm-none-eabi /usr/arm-none-eabi -name librdimon.a 2>/dev/null | head -n 1)" || { \
	  echo "installing gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm >/dev/null; } \
	  || echo "warning: could not install the Cortex-M tools; the firmware tests will be skipped"

demo: install tools
	$(MPCGEN) generate pendulum -o $(DEMO)/pendulum
	$(MPCGEN) verify $(DEMO)/pendulum
	$(MPCGEN) simulate $(DEMO)/pendulum --plot $(DEMO)/pendulum-swing-up.png

# two test processes (CI's 2-core machine); a test file stays on one of them
TEST_WORKERS ?= 2

test: install tools
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: install tools
	$(MPCGEN) bench
	$(MPCGEN) bench-mpc

# The firmware budget of every example (float on a Cortex-M4F, double on a Cortex-M7),
# each proven under QEMU against the host build: the model functions, then the controller
# (and the float quadrotor at N = 10, the horizon of issue 4's target).
EMBEDDED := build/embedded
embedded: install tools
	@for p in float double; do for m in pendulum quadrotor cstr robot_arm chain; do \
	  $(MPCGEN) generate $$m -o $(EMBEDDED)/$$p/$$m --precision $$p >/dev/null || exit 1; done; done
	@$(MPCGEN) generate quadrotor -o $(EMBEDDED)/float/quadrotor10 --precision float --horizon 10 >/dev/null
	$(MPCGEN) firmware --model $(foreach m,pendulum quadrotor cstr robot_arm chain,$(foreach p,float double,$(EMBEDDED)/$(p)/$(m)))
	$(MPCGEN) firmware $(EMBEDDED)/float/pendulum $(EMBEDDED)/double/pendulum $(EMBEDDED)/float/quadrotor10 \
	  $(foreach m,quadrotor cstr robot_arm chain,$(foreach p,float double,$(EMBEDDED)/$(p)/$(m)))

# Regenerate the committed example outputs in generated/.
generated: install
	$(MPCGEN) examples --generate generated

clean:
	rm -rf build $(VENV)
