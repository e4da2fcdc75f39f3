/* Request arena: what it holds stays proportional to what was asked of it (capped block
 * growth, large allocations in blocks of their own), and reservations cost nothing until
 * committed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/arena.h"

#include <string.h>

/* Blocks used to double without bound: after one 8 MiB allocation the next small one took a
 * 16 MiB block, the next overflow 32 MiB, and so on. */
static void test_growth_is_capped(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    assert_non_null(cs_arena_alloc(&a, 100));
    assert_non_null(cs_arena_alloc(&a, 8u << 20));
    for (int i = 0; i < 1000; i++)
        assert_non_null(cs_arena_alloc(&a, 1000));
    assert_true(a.held <= (8u << 20) + 1000 * 1024 + 2 * CS_ARENA_MAX_STEP);
    /* the large block went behind the current one: the small allocations kept using it */
    size_t before = a.held;
    assert_non_null(cs_arena_alloc(&a, 16));
    assert_int_equal(a.held, before);
    cs_arena_free(&a);
}

static void test_text_is_packed(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    char *p = cs_arena_alloc_bytes(&a, 7), *q = cs_arena_alloc_bytes(&a, 7);
    assert_ptr_equal(q, p + 7);
    void *r = cs_arena_alloc(&a, 8);
    assert_int_equal((uintptr_t)r % 16, 0);
    char *s = cs_arena_strndup(&a, "abc", 3);
    assert_string_equal(s, "abc");
    cs_arena_free(&a);
}

static void test_reservations(void **state) {
    (void)state;
    cs_arena_t a;
    cs_arena_init(&a);
    assert_non_null(cs_arena_alloc(&a, 1));
    size_t avail, total = a.total;
    char *p = cs_arena_reserve(&a, 100, &avail);
    assert_non_null(p);
    assert_true(avail >= 100);
    assert_int_equal((uintptr_t)p % 16, 0);
    /* abandoned: nothing handed out, the same space is offered again */
    assert_int_equal(a.total, total);
    assert_ptr_equal(cs_arena_reserve(&a, 100, &avail), p);
    memset(p, 'x', avail);
    /* grown: the contents move, the old block (which also holds the first allocation) stays */
    size_t old = avail;
    char *g = cs_arena_regrow(&a, old, 2 * old, &avail);
    assert_non_null(g);
    assert_true(avail >= 2 * old);
    assert_int_equal(g[0], 'x');
    assert_int_equal(g[old - 1], 'x');
    /* grown again from a block that held only the reservation: that block is released */
    size_t held = a.held, mid = avail;
    memset(g, 'y', avail);
    char *h = cs_arena_regrow(&a, mid, 2 * mid, &avail);
    assert_non_null(h);
    assert_int_equal(h[mid - 1], 'y');
    assert_true(a.held <= held - mid + avail);
    cs_arena_commit(&a, mid + 1);
    assert_int_equal(a.total, total + ((mid + 1 + 15) & ~(size_t)15));
    char *next = cs_arena_alloc(&a, 16);
    assert_true(next >= h + mid + 1);
    cs_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_is_capped),
        cmocka_unit_test(test_text_is_packed),
        cmocka_unit_test(test_reservations),
    };
    return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
