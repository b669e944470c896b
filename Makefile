# Tern: `make run` and `make test` are the whole set-up on Debian 12.
# Everything builds in one meson tree (build/): Linux-native targets and,
# through the cross file, the bare-metal UEFI image.

BUILD      ?= build
CROSS_FILE := meson/x86_64-baremetal.ini
MESON_ARGS ?=
RUN_ARGS   ?=

CROSS := $(if $(wildcard $(CROSS_FILE)),--cross-file $(CROSS_FILE))

.PHONY: all deps deps-build build run test test-asan test-clang test-fuzz fuzz-build fuzz-long qemu image microvm microvm-image clean bench bench-storage bench-metal bench-microvm bench-net bench-metal-linux bench-workload bench-update

all: build

deps:
	@scripts/install-deps.sh test

deps-build:
	@scripts/install-deps.sh build

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(CROSS) $(MESON_ARGS)

build: deps-build $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/backends/linux/tern-linux $(RUN_ARGS)

# Every suite of the main build, then the hosted suites again under
# ASan+UBSan, a clang build of the whole tree, and each fuzz harness for a
# few seconds (FUZZ_SECONDS).
FUZZ_SECONDS ?= 5
test: deps build
	meson test -C $(BUILD) --print-errorlogs
	$(MAKE) --no-print-directory test-asan test-clang test-fuzz

test-asan:
	@[ -f $(BUILD)-asan/build.ninja ] || meson setup $(BUILD)-asan -Db_sanitize=address,undefined -Db_lundef=false -Dqemu_tests=false
	ninja -C $(BUILD)-asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C $(BUILD)-asan --print-errorlogs --no-suite qemu

# In a cross build meson takes the native compiler from CC_FOR_BUILD (CC
# would only name the cross compiler, which the cross file fixes as clang).
test-clang:
	@[ -f $(BUILD)-clang/build.ninja ] || CC=clang CC_FOR_BUILD=clang meson setup $(BUILD)-clang $(CROSS) -Dqemu_tests=false
	ninja -C $(BUILD)-clang

FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
fuzz-build:
	@[ -f $(BUILD)-fuzz/build.ninja ] || CC=clang meson setup $(BUILD)-fuzz -Dfuzz=true -Dqemu_tests=false \
		-Dfuzz_seconds=$(FUZZ_SECONDS) -Dc_args="$(FUZZ_FLAGS)" -Dc_link_args="-fsanitize=address,undefined" -Db_lundef=false
	ninja -C $(BUILD)-fuzz

test-fuzz: fuzz-build
	meson test -C $(BUILD)-fuzz --print-errorlogs --suite fuzz

# Long fuzzing (docs/fuzzing.md): every harness (or those in FUZZ_LONG_NAMES)
# for FUZZ_LONG_SECONDS each, corpus kept in $(BUILD)-fuzz/corpus/NAME,
# FUZZ_WORKERS processes per harness, a summary table at the end.
FUZZ_LONG_SECONDS ?= 1800
FUZZ_LONG_NAMES   ?=
FUZZ_WORKERS      ?= 1
fuzz-long: fuzz-build
	FUZZ_WORKERS=$(FUZZ_WORKERS) tests/fuzz/fuzz-long.sh $(BUILD)-fuzz . $(FUZZ_LONG_SECONDS) $(FUZZ_LONG_NAMES)

# Benchmarks (docs/performance.md). Each area adds itself as a
# prerequisite of `bench` (prerequisite-only lines, no recipe).
bench: bench-storage
bench: bench-metal
bench: bench-microvm
bench: bench-net
# Network benchmarks (root; namespaces the scripts create): docs/performance.md.
bench-net: deps build
	bench/net/conn_rate.sh $(BUILD)
	bench/net/conn_mem.sh $(BUILD)
	bench/net/tcp_tap.sh $(BUILD)/backends/linux/tern-linux
	bench/net/tcp_tap_profile.sh $(BUILD)/backends/linux/tern-linux
bench-storage: deps build
	bench/storage/bench.sh $(BUILD)

# Tern's own disk image (GPT, ESP with EFI/BOOT/BOOTX64.EFI, data
# partition with the default site and the workload's signed package in
# A/B slot A), booted with virtio-blk, virtio-net on QEMU's restricted
# user network (127.0.0.1:8081 -> 80) and virtio-rng.
# WORKLOAD=NAME picks the app's package (build/apps/NAME.tpk, signed with
# the TEST key; docs/packages.md). DEV=1 makes a development image
# (/tern/dev.json on the ESP: unsigned packages and raw manifests run) and
# puts the raw manifest and app file on the ESP's /tern instead.
WORKLOAD ?= hello
DEV ?= 0
image: deps build
ifeq ($(DEV),1)
	rm -rf $(BUILD)/workload && mkdir -p $(BUILD)/workload
	cp fixtures/manifests/$(WORKLOAD).json $(BUILD)/workload/manifest.json
	cp $(BUILD)/apps/$(WORKLOAD).elf $(BUILD)/workload/
	DEV=1 scripts/make-image.sh $(BUILD) $(BUILD)/tern.img "" 64 $(BUILD)/workload
else
	scripts/make-image.sh $(BUILD) $(BUILD)/tern.img "" 64 $(BUILD)/apps/$(WORKLOAD).tpk
endif

qemu: image
	scripts/run-qemu.sh $(BUILD) --image $(BUILD)/tern.img --net 8081 --rng

# The PVH kernel for microVM monitors (docs/microvm.md), built next to
# BOOTX64.EFI from the same objects, and the same disk image as `image`
# (WORKLOAD's signed package in slot A, the data partition; DEV=1 as there).
microvm-image: image
	ninja -C $(BUILD) backends/baremetal/tern-microvm.elf
	@echo "microvm-image: $(BUILD)/backends/baremetal/tern-microvm.elf and $(BUILD)/tern.img"

# Boots it on QEMU's microvm machine (TCG, QEMU's default CPU, no firmware
# of Tern's choosing): virtio-mmio blk with the image, net on the
# restricted user network (127.0.0.1:MICROVM_PORT -> 80), rng. Ctrl-C ends it.
MICROVM_PORT ?= 8082
microvm: microvm-image
	@echo "microvm: serving at http://127.0.0.1:$(MICROVM_PORT)/ once TERN_READY is printed (Ctrl-C ends it)"
	scripts/run-microvm.sh $(BUILD) --image $(BUILD)/tern.img --net $(MICROVM_PORT) --rng

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-clang

bench-metal: deps build
	bench/metal/bench.sh $(BUILD)

# Tern on QEMU's microvm (PVH, virtio-mmio) against a Debian Linux guest
# with nginx on the same microvm machine (boot to first HTTP 200, smallest
# -m, keep-alive requests/s over TAP: root), then against its own UEFI
# image (docs/microvm.md, docs/performance.md).
bench-microvm: deps build
	MACHINE=microvm bench/metal/linux_guest.sh $(BUILD)
	bench/metal/microvm.sh $(BUILD)

# Tern against a Debian Linux guest (Debian's kernel with -kernel, a busybox
# initramfs, nginx) under the same QEMU TCG settings on pc: boot to first
# HTTP 200, smallest -m, keep-alive requests/s over TAP (root). Downloads the kernel and
# busybox-static packages with apt-get download into $(BUILD)/linux-guest.
bench: bench-metal-linux
bench-metal-linux: deps build
	bench/metal/linux_guest.sh $(BUILD)

# Workloads (apps through the PAL) against the OS's own services in the
# same run: hello, echo and kv on tern-linux over TAP (root; a namespace
# the script creates), then the bare-metal boot with the app from the disk.
bench: bench-update
# Packages and updates: a 1 MiB package's check at boot on metal (TCG) and
# an update through the endpoint on tern-linux (docs/performance.md).
bench-update: deps build
	bench/update/bench.sh $(BUILD)

bench: bench-workload
bench-workload: deps build
	bench/workload/bench.sh $(BUILD)
	bench/workload/metal.sh $(BUILD)
