/* Shared helpers for the Check suites. */
#ifndef PGREPL_TESTS_TESTUTIL_H
#define PGREPL_TESTS_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

/* Run one suite and exit with its result; prints Check's summary line. */
static inline int pgrepl_test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
