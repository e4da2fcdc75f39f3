/* Allocation failure on request, for tests that include the .c file under test and route its
 * allocations through a wrapper (h2o's way, as test_native does): the next `alloc_pass`
 * allocations succeed, then every one fails; -1 never fails. `alloc_count` counts the calls, so
 * a test can fail each allocation in turn until a pass makes fewer calls than it allows. */
#ifndef CS_TESTS_FAIL_ALLOC_H
#define CS_TESTS_FAIL_ALLOC_H

#include <stdbool.h>

static int alloc_pass = -1;
static int alloc_count;

static bool alloc_fails(void) {
    alloc_count++;
    if (alloc_pass < 0)
        return false;
    if (alloc_pass == 0)
        return true;
    alloc_pass--;
    return false;
}

/* Starts a pass in which the first `pass` allocations succeed. */
static void alloc_fail_after(int pass) {
    alloc_pass = pass;
    alloc_count = 0;
}

/* Ends the pass: true when it made no more allocations than it allowed (nothing failed). */
static bool alloc_pass_done(int pass) {
    alloc_pass = -1;
    return alloc_count <= pass;
}

#endif
