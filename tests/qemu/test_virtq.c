/*
 * Unit tests of the metal split virtqueue (backends/baremetal/virtio.c)
 * against a fake modern virtio device in process memory: the test plays
 * the device, writing the used ring the way a device would, and also the
 * ways a broken or hostile one might. QEMU's devices cannot be made to
 * misbehave, so this is where the bounds checks are proven: a used index
 * that jumps, an id not in flight and a length longer than posted each
 * reset the device (status 0 then FAILED), mark it dead, and every later
 * call returns TERN_EIO. The PCI and page-allocator calls virtio.c makes
 * are stubbed (no PCI here); the queue code is the real one.
 *
 * The MMIO transport (virtio_mmio.c) runs against a register window in
 * process memory: attach refuses a bad magic, a version other than 1 or
 * 2, device ID 0 and a window without room for the registers; the
 * modern (version 2) layout gets the three ring addresses and
 * QueueReady, the legacy (version 1) layout GuestPageSize, QueueAlign
 * and the page-frame number; a queue already in use is refused; config
 * reads past the window read 0xff; an interrupt is acknowledged with
 * the status it had.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>

#include "metal.h"
#include "virtio.h"

/* ---- stubs for what virtio.c calls outside itself ---- */

/* Pages below 2 GiB (MAP_32BIT), as on a small machine: the legacy
 * layouts give the device a 32-bit page-frame number. Freed by
 * free_pages() after each test. */
static struct { void *p; size_t len; } pages[8];
static unsigned npages;

void *mm_alloc_pages(struct metal *m, size_t n)
{
    (void)m;
    if (npages == sizeof(pages) / sizeof(pages[0]))
        return NULL;
    void *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    pages[npages].p = p;
    pages[npages++].len = n * 4096;
    return p; /* zeroed */
}

static void free_pages(void)
{
    while (npages > 0) {
        npages--;
        munmap(pages[npages].p, pages[npages].len);
    }
}

void pci_enable(struct metal *m, struct metal_pci_dev *d)
{
    (void)m;
    (void)d;
}

uint8_t pci_find_cap(struct metal *m, const struct metal_pci_dev *d, uint8_t id, uint8_t after)
{
    (void)m;
    (void)d;
    (void)id;
    (void)after;
    return 0;
}

uint8_t pci_read8(struct metal *m, const struct metal_pci_dev *d, uint16_t off)
{
    (void)m;
    (void)d;
    (void)off;
    return 0;
}

uint32_t pci_read32(struct metal *m, const struct metal_pci_dev *d, uint16_t off)
{
    (void)m;
    (void)d;
    (void)off;
    return 0;
}

tern_result pci_msix_enable(struct metal *m, const struct metal_pci_dev *d, unsigned n,
                            uint8_t vector)
{
    (void)m;
    (void)d;
    (void)n;
    (void)vector;
    return TERN_ENOTSUP;
}

tern_result mm_map(struct metal *m, uint64_t pa, uint64_t size, uint64_t flags)
{
    (void)m;
    (void)pa;
    (void)size;
    (void)flags;
    return TERN_EINVAL; /* never needed: mapped_top covers everything */
}

tern_result ioapic_route(struct metal *m, uint32_t gsi, uint8_t vector)
{
    (void)m;
    (void)vector;
    return gsi == 40 ? TERN_OK : TERN_ENOTSUP;
}

/* ---- the fake device ---- */

static struct metal machine;
static uint8_t common[64] __attribute__((aligned(8)));
static uint16_t notify_reg __attribute__((aligned(8)));
static struct metal_virtio v;
static struct metal_vq q;

#define QSIZE 8

static int setup(void **state)
{
    (void)state;
    memset(common, 0, sizeof(common));
    memset(&v, 0, sizeof(v));
    common[24] = QSIZE;          /* queue_size offered */
    v.ops = &metal_virtio_pci_ops;
    v.modern = true;
    v.common = common;
    v.notify_base = (volatile uint8_t *)&notify_reg;
    v.notify_mult = 0;
    assert_int_equal(virtio_queue_setup(&machine, &v, &q, 0, QSIZE), TERN_OK);
    assert_int_equal(q.size, QSIZE);
    v.live = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free_pages();
    return 0;
}

static uint16_t avail_head(uint16_t slot)
{
    return q.avail[2 + (slot % QSIZE)];
}

/* The device returns `id` with `len` in used slot `slot` and moves idx. */
static void device_use(uint16_t slot, uint32_t id, uint32_t len, uint16_t new_idx)
{
    volatile uint32_t *e = (volatile uint32_t *)(q.used + 4 + 8u * (slot % QSIZE));
    e[0] = id;
    e[1] = len;
    *(volatile uint16_t *)(q.used + 2) = new_idx;
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t buf[100], hdr[16], st;
    struct virtq_buf chain[3] = { { hdr, 16, false }, { buf, 100, true }, { &st, 1, true } };
    assert_int_equal(virtq_post(&v, &q, chain, 3), TERN_OK);
    assert_int_equal(q.num_free, QSIZE - 3);
    assert_int_equal(q.avail[1], 1);          /* avail idx published */
    uint16_t head = avail_head(0);
    assert_true((q.desc[head].flags & VIRTQ_DESC_F_NEXT) != 0);
    assert_false(virtq_pending(&v, &q));
    device_use(0, head, 101, 1);
    assert_true(virtq_pending(&v, &q));
    uint16_t got;
    uint32_t len;
    assert_int_equal(virtq_take(&v, &q, &got, &len), TERN_OK);
    assert_int_equal(got, head);
    assert_int_equal(len, 101);
    assert_int_equal(q.num_free, QSIZE);      /* the whole chain came back */
    assert_int_equal(virtq_take(&v, &q, &got, &len), TERN_AGAIN);
    assert_false(v.dead);
}

static void test_full_ring(void **state)
{
    (void)state;
    uint8_t b[8];
    struct virtq_buf one = { b, 8, true };
    for (int i = 0; i < QSIZE; i++)
        assert_int_equal(virtq_post(&v, &q, &one, 1), TERN_OK);
    assert_int_equal(virtq_post(&v, &q, &one, 1), TERN_AGAIN);
    struct virtq_buf two[2] = { one, one };
    assert_int_equal(virtq_post(&v, &q, two, 0), TERN_AGAIN);
    assert_false(v.dead);
}

static void expect_dead(const char *why)
{
    assert_true(v.dead);
    assert_string_equal(v.fatal, why);
    assert_int_equal(v.errors, 1);
    assert_int_equal(common[20], 128);        /* status: FAILED after the reset */
    uint8_t b[8];
    struct virtq_buf one = { b, 8, true };
    uint16_t h;
    uint32_t l;
    assert_int_equal(virtq_post(&v, &q, &one, 1), TERN_EIO);
    assert_int_equal(virtq_take(&v, &q, &h, &l), TERN_EIO);
    assert_false(virtq_pending(&v, &q));
}

static void test_used_index_jump(void **state)
{
    (void)state;
    uint8_t b[8];
    struct virtq_buf one = { b, 8, true };
    assert_int_equal(virtq_post(&v, &q, &one, 1), TERN_OK);
    device_use(0, avail_head(0), 8, QSIZE + 1); /* more than the ring holds */
    uint16_t h;
    uint32_t l;
    assert_int_equal(virtq_take(&v, &q, &h, &l), TERN_EIO);
    expect_dead("used-index-out-of-range");
}

static void test_used_id_not_in_flight(void **state)
{
    (void)state;
    uint8_t b[8];
    struct virtq_buf one = { b, 8, true };
    assert_int_equal(virtq_post(&v, &q, &one, 1), TERN_OK);
    uint16_t posted = avail_head(0);
    device_use(0, (uint16_t)((posted + 1) % QSIZE), 8, 1); /* a free descriptor */
    uint16_t h;
    uint32_t l;
    assert_int_equal(virtq_take(&v, &q, &h, &l), TERN_EIO);
    expect_dead("used-id-not-in-flight");
}

static void test_used_id_out_of_range(void **state)
{
    (void)state;
    uint8_t b[8];
    struct virtq_buf one = { b, 8, true };
    assert_int_equal(virtq_post(&v, &q, &one, 1), TERN_OK);
    device_use(0, 0xffffu, 8, 1);
    uint16_t h;
    uint32_t l;
    assert_int_equal(virtq_take(&v, &q, &h, &l), TERN_EIO);
    expect_dead("used-id-not-in-flight");
}

static void test_used_length_too_long(void **state)
{
    (void)state;
    uint8_t b[8], ro[4];
    struct virtq_buf chain[2] = { { ro, 4, false }, { b, 8, true } };
    assert_int_equal(virtq_post(&v, &q, chain, 2), TERN_OK);
    device_use(0, avail_head(0), 9, 1); /* only 8 writable bytes were posted */
    uint16_t h;
    uint32_t l;
    assert_int_equal(virtq_take(&v, &q, &h, &l), TERN_EIO);
    expect_dead("used-length-too-long");
}

static void test_id_returned_twice(void **state)
{
    (void)state;
    uint8_t b[8];
    struct virtq_buf one = { b, 8, true };
    assert_int_equal(virtq_post(&v, &q, &one, 1), TERN_OK);
    uint16_t head = avail_head(0);
    device_use(0, head, 8, 1);
    uint16_t h;
    uint32_t l;
    assert_int_equal(virtq_take(&v, &q, &h, &l), TERN_OK);
    device_use(1, head, 8, 2); /* the same buffer again */
    assert_int_equal(virtq_take(&v, &q, &h, &l), TERN_EIO);
    expect_dead("used-id-not-in-flight");
}

/* ---- the MMIO transport ---- */

static uint8_t regs[0x110] __attribute__((aligned(8))); /* 16 config bytes */
static struct metal_virtio_loc loc;

static uint32_t reg(unsigned off)
{
    uint32_t v32;
    memcpy(&v32, regs + off, 4);
    return v32;
}

static void set_reg(unsigned off, uint32_t v32)
{
    memcpy(regs + off, &v32, 4);
}

/* A device of version `version`: "virt", device 1 (net), features bit 0
 * (which a passive register also shows as bit 32: VERSION_1), 1000
 * entries per queue at most. */
static int mmio_setup(uint32_t version)
{
    memset(regs, 0, sizeof(regs));
    memset(&v, 0, sizeof(v));
    memset(&q, 0, sizeof(q));
    machine.mm.mapped_top = UINT64_MAX;
    set_reg(0x000, 0x74726976u);
    set_reg(0x004, version);
    set_reg(0x008, 1);
    set_reg(0x010, 1);
    set_reg(0x034, 1000);
    regs[0x100] = 0xab;
    loc = (struct metal_virtio_loc){ .bus = METAL_VIRTIO_MMIO,
                                     .mmio_base = (uint64_t)(uintptr_t)regs,
                                     .mmio_size = sizeof(regs), .gsi = 40 };
    return 0;
}

static int mmio_modern(void **state)
{
    (void)state;
    return mmio_setup(2);
}

static int mmio_legacy(void **state)
{
    (void)state;
    return mmio_setup(1);
}

static int mmio_teardown(void **state)
{
    (void)state;
    free_pages();
    return 0;
}

static void test_mmio_modern_queue(void **state)
{
    (void)state;
    assert_int_equal(virtio_open(&machine, &v, &loc, 1), TERN_OK);
    assert_true(v.modern);
    assert_true((v.features & VIRTIO_F_VERSION_1) != 0);
    assert_int_equal(reg(0x070), 1 | 2 | 8);                /* ACK|DRIVER|FEATURES_OK */
    assert_int_equal(virtio_queue_setup(&machine, &v, &q, 1, 128), TERN_OK);
    assert_int_equal(q.size, 128);                          /* largest power of 2 <= 128 */
    assert_int_equal(reg(0x030), 1);                        /* QueueSel */
    assert_int_equal(reg(0x038), 128);                      /* QueueNum */
    uint64_t desc = (uint64_t)(uintptr_t)q.desc, avail = (uint64_t)(uintptr_t)q.avail;
    uint64_t used = (uint64_t)(uintptr_t)q.used;
    assert_int_equal(reg(0x080) | (uint64_t)reg(0x084) << 32, desc);
    assert_int_equal(reg(0x090) | (uint64_t)reg(0x094) << 32, avail);
    assert_int_equal(reg(0x0a0) | (uint64_t)reg(0x0a4) << 32, used);
    assert_int_equal(reg(0x044), 1);                        /* QueueReady */
    assert_int_equal(reg(0x040), 0);                        /* no legacy PFN */
    virtio_driver_ok(&machine, &v, 1);
    assert_true(v.irq);                                     /* gsi 40 routed */
    assert_int_equal(reg(0x070) & 4, 4);                    /* DRIVER_OK */
    virtq_kick(&v, &q);
    assert_int_equal(reg(0x050), 1);                        /* QueueNotify = the index */
    set_reg(0x060, 3);
    virtio_irq_ack(&v);
    assert_int_equal(reg(0x064), 3);                        /* ACK = what was pending */
    assert_int_equal(virtio_cfg8(&v, 0), 0xab);
    assert_int_equal(virtio_cfg8(&v, 16), 0xff);            /* past the window */
    assert_int_equal(virtio_cfg32(&v, 14), 0xffff0000u);
}

static void test_mmio_legacy_queue(void **state)
{
    (void)state;
    assert_int_equal(virtio_open(&machine, &v, &loc, 1), TERN_OK);
    assert_false(v.modern);
    assert_int_equal(v.features, 1);                        /* 32 bits, no VERSION_1 */
    assert_int_equal(reg(0x070), 1 | 2);                    /* no FEATURES_OK in legacy */
    assert_int_equal(reg(0x028), 4096);                     /* GuestPageSize */
    assert_int_equal(virtio_queue_setup(&machine, &v, &q, 0, 8), TERN_OK);
    assert_int_equal(q.size, 8);
    assert_int_equal(reg(0x038), 8);
    assert_int_equal(reg(0x03c), 4096);                     /* QueueAlign */
    assert_int_equal(reg(0x040), (uint64_t)(uintptr_t)q.desc / 4096);
    assert_int_equal((uint64_t)(uintptr_t)q.used % 4096, 0);
    assert_int_equal(reg(0x044), 0);                        /* no QueueReady */
    loc.gsi = 0;                                            /* no line: polled */
    virtio_driver_ok(&machine, &v, 1);
    assert_false(v.irq);
    set_reg(0x060, 1);
    virtio_irq_ack(&v);
    assert_int_equal(reg(0x064), 0);                        /* polled: nothing acknowledged */
}

static void test_mmio_queue_in_use(void **state)
{
    (void)state;
    assert_int_equal(virtio_open(&machine, &v, &loc, 0), TERN_OK);
    set_reg(0x044, 1);                                      /* QueueReady already */
    assert_int_equal(virtio_queue_setup(&machine, &v, &q, 0, 8), TERN_EIO);
    set_reg(0x044, 0);
    set_reg(0x034, 0);                                      /* no such queue */
    assert_int_equal(virtio_queue_setup(&machine, &v, &q, 0, 8), TERN_EIO);
}

static void test_mmio_refusals(void **state)
{
    (void)state;
    set_reg(0x000, 0x74726977u);                            /* bad magic */
    assert_int_equal(virtio_open(&machine, &v, &loc, 0), TERN_ENOTSUP);
    set_reg(0x000, 0x74726976u);
    set_reg(0x004, 3);                                      /* unknown version */
    assert_int_equal(virtio_open(&machine, &v, &loc, 0), TERN_ENOTSUP);
    set_reg(0x004, 0);
    assert_int_equal(virtio_open(&machine, &v, &loc, 0), TERN_ENOTSUP);
    set_reg(0x004, 2);
    set_reg(0x008, 0);                                      /* an empty slot */
    assert_int_equal(virtio_open(&machine, &v, &loc, 0), TERN_ENOTSUP);
    set_reg(0x008, 1);
    loc.mmio_size = 0xfc;                                   /* no room for the registers */
    assert_int_equal(virtio_open(&machine, &v, &loc, 0), TERN_ENOTSUP);
    loc.mmio_size = sizeof(regs);
    set_reg(0x010, 0);                                      /* modern without VERSION_1 */
    assert_int_equal(virtio_open(&machine, &v, &loc, 0), TERN_ENOTSUP);
    assert_string_equal(v.fatal, "no-version-1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_index_jump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_id_not_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_id_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_length_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_returned_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_modern_queue, mmio_modern, mmio_teardown),
        cmocka_unit_test_setup_teardown(test_mmio_legacy_queue, mmio_legacy, mmio_teardown),
        cmocka_unit_test_setup_teardown(test_mmio_queue_in_use, mmio_modern, mmio_teardown),
        cmocka_unit_test_setup_teardown(test_mmio_refusals, mmio_modern, mmio_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
