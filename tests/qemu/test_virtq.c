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
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metal.h"
#include "virtio.h"

/* ---- stubs for what virtio.c calls outside itself ---- */

void *mm_alloc_pages(struct metal *m, size_t n)
{
    (void)m;
    void *p = aligned_alloc(4096, n * 4096);
    if (p != NULL)
        memset(p, 0, n * 4096);
    return p;
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
    free((void *)q.desc);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
