/*
 * The end of an output file pgrepl-stream appends to (examples/stream_tail.h):
 * a torn last line is found, also when the last newline lies chunks back,
 * and a torn line that is not pgrepl-stream's is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../examples/stream_tail.h"
#include "testutil.h"

/* A temporary file holding text (n bytes), open for reading; unlinked already. */
static int file_of(const char *text, size_t n)
{
    char path[] = "/tmp/pgrepl-tail-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
    return fd;
}

/* tail_read on text; its return code, *t filled when 0. */
static int tail_of(const char *text, size_t n, tail_info *t)
{
    int fd = file_of(text, n);
    int rc = tail_read(fd, (off_t)n, t);
    close(fd);
    return rc;
}

START_TEST(whole_lines_are_kept)
{
    static const char text[] = "{\"action\":\"B\"}\n{\"action\":\"C\"}\n";
    tail_info t;
    ck_assert_int_eq(tail_of(text, sizeof text - 1, &t), 0);
    ck_assert_int_eq(t.keep, (off_t)(sizeof text - 1));
    ck_assert_int_eq(t.torn, 0);
    ck_assert_int_eq(tail_of("", 0, &t), 0);
    ck_assert_int_eq(t.keep, 0);
    ck_assert_int_eq(t.torn, 0);
}
END_TEST

START_TEST(a_torn_line_is_found)
{
    static const char *const torn[] = {"{", "{\"ac", "{\"action\":\"", "{\"action\":\"I\",\"xid\":7,\"times"};
    for (size_t i = 0; i < sizeof torn / sizeof torn[0]; i++) {
        char text[256];
        int n = snprintf(text, sizeof text, "{\"action\":\"C\"}\n%s", torn[i]);
        tail_info t;
        ck_assert_int_eq(tail_of(text, (size_t)n, &t), 0);
        ck_assert_int_eq(t.keep, 15);
        ck_assert_int_eq(t.torn, (off_t)strlen(torn[i]));
        /* a file of nothing but the torn line */
        ck_assert_int_eq(tail_of(torn[i], strlen(torn[i]), &t), 0);
        ck_assert_int_eq(t.keep, 0);
        ck_assert_int_eq(t.torn, (off_t)strlen(torn[i]));
    }
}
END_TEST

/* The last newline several reads back from the end. */
START_TEST(a_long_torn_line)
{
    size_t n = 200000;
    char *text = malloc(n);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "{\"action\":\"C\"}\n{\"action\":\"I\",\"columns\":\"", 41);
    memset(text + 41, 'x', n - 41);
    tail_info t;
    ck_assert_int_eq(tail_of(text, n, &t), 0);
    ck_assert_int_eq(t.keep, 15);
    ck_assert_int_eq(t.torn, (off_t)(n - 15));
    free(text);
}
END_TEST

START_TEST(someone_elses_file_is_refused)
{
    static const char *const foreign[] = {"notes\nno newline", "x", "{\"id\":1}\n{\"id\"", "{\"action\":\"C\"}\n["};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        tail_info t;
        ck_assert_int_eq(tail_of(foreign[i], strlen(foreign[i]), &t), TAIL_FOREIGN);
    }
}
END_TEST

START_TEST(a_failed_read_is_an_error)
{
    tail_info t;
    int fd = file_of("{\"action\":\"C\"}\n", 15);
    /* the file is shorter than the caller thinks */
    errno = 0;
    ck_assert_int_eq(tail_read(fd, 100, &t), TAIL_EIO);
    ck_assert_int_eq(errno, EIO);
    close(fd);
    ck_assert_int_eq(tail_read(fd, 15, &t), TAIL_EIO);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stream_tail");
    TCase *tc = tcase_create("tail");
    tcase_add_test(tc, whole_lines_are_kept);
    tcase_add_test(tc, a_torn_line_is_found);
    tcase_add_test(tc, a_long_torn_line);
    tcase_add_test(tc, someone_elses_file_is_refused);
    tcase_add_test(tc, a_failed_read_is_an_error);
    suite_add_tcase(s, tc);
    return pgrepl_test_run_suite(s);
}
