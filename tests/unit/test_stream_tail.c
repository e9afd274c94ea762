/*
 * The end of an output file pgrepl-stream appends to (examples/stream_tail.h):
 * where its last unit ends (C, P, p, K, r and non-transactional M lines),
 * what follows it (lines of a transaction cut off, a torn line), also when
 * that lies chunks back, and files that are not pgrepl-stream's refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../examples/stream_tail.h"
#include "testutil.h"

#define B "{\"action\":\"B\",\"xid\":7,\"timestamp\":\"2026-01-02T03:04:05.000006Z\",\"lsn\":\"0/30\"}\n"
#define I "{\"action\":\"I\",\"xid\":7,\"timestamp\":\"2026-01-02T03:04:05.000006Z\",\"lsn\":\"0/20\",\"schema\":\"public\"}\n"
#define C "{\"action\":\"C\",\"xid\":7,\"timestamp\":\"2026-01-02T03:04:05.000006Z\",\"lsn\":\"0/30\",\"nextlsn\":\"1/A8\"}\n"

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

static void check(const char *text, off_t keep, off_t torn, uint64_t cut_lines, pgrepl_lsn resume)
{
    tail_info t;
    ck_assert_int_eq(tail_of(text, strlen(text), &t), 0);
    ck_assert_int_eq(t.keep, keep);
    ck_assert_int_eq(t.torn, torn);
    ck_assert_uint_eq(t.cut_lines, cut_lines);
    ck_assert_uint_eq(t.resume, resume);
}

START_TEST(a_whole_file_is_kept)
{
    check(B I C, (off_t)strlen(B I C), 0, 0, 0x1000000A8);
    check(B I C B I C, (off_t)strlen(B I C B I C), 0, 0, 0x1000000A8);
    check("", 0, 0, 0, 0);
}
END_TEST

START_TEST(every_unit_ends_a_file)
{
    static const struct {
        const char *line;
        pgrepl_lsn resume;
    } units[] = {
        {"{\"action\":\"P\",\"xid\":7,\"timestamp\":\"t\",\"lsn\":\"0/30\",\"nextlsn\":\"0/40\",\"gid\":\"g\"}\n", 0x40},
        {"{\"action\":\"p\",\"xid\":7,\"timestamp\":\"t\",\"lsn\":\"0/30\",\"nextlsn\":\"0/41\",\"gid\":\"g\"}\n", 0x41},
        {"{\"action\":\"K\",\"xid\":7,\"timestamp\":\"t\",\"lsn\":\"0/30\",\"nextlsn\":\"0/42\",\"gid\":\"g\"}\n", 0x42},
        {"{\"action\":\"r\",\"xid\":7,\"timestamp\":\"t\",\"nextlsn\":\"0/43\",\"prepare_nextlsn\":\"0/3\",\"gid\":\"g\"}\n",
         0x43},
        /* non-transactional: acknowledged at its lsn, which the server would send again */
        {"{\"action\":\"M\",\"xid\":null,\"timestamp\":null,\"lsn\":\"0/44\",\"transactional\":false,\"prefix\":\"x\","
         "\"content\":\"\"}\n",
         0x45},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, B I C "%s" B I, units[i].line);
        check(text, (off_t)(strlen(B I C) + strlen(units[i].line)), 0, 2, units[i].resume);
    }
    /* a transactional message is a line inside its transaction */
    check(B I C B "{\"action\":\"M\",\"xid\":8,\"timestamp\":\"t\",\"lsn\":\"0/99\",\"transactional\":true}\n",
          (off_t)strlen(B I C), 0, 2, 0x1000000A8);
}
END_TEST

START_TEST(what_a_stopped_run_left_is_cut)
{
    static const char *const torn[] = {"{", "{\"ac", "{\"action\":\"", "{\"action\":\"C\",\"xid\":7,\"times"};
    for (size_t i = 0; i < sizeof torn / sizeof torn[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, B I C "%s", torn[i]);
        check(text, (off_t)strlen(B I C), (off_t)strlen(torn[i]), 0, 0x1000000A8);
        snprintf(text, sizeof text, B I C B I I "%s", torn[i]);
        check(text, (off_t)strlen(B I C), (off_t)strlen(torn[i]), 3, 0x1000000A8);
        /* nothing whole: everything goes */
        snprintf(text, sizeof text, B I "%s", torn[i]);
        check(text, 0, (off_t)strlen(torn[i]), 2, 0);
    }
    /* streamed blocks after the last commit come again too */
    check(B I C "{\"action\":\"S\",\"xid\":9,\"first\":true}\n" I "{\"action\":\"E\"}\n", (off_t)strlen(B I C), 0, 3,
          0x1000000A8);
}
END_TEST

/* A transaction cut off after many chunks of lines, and a torn line longer than a chunk. */
START_TEST(a_long_tail)
{
    size_t lines = 20000, n = strlen(B I C) + lines * strlen(I) + 100000;
    char *text = malloc(n + 1);
    ck_assert_ptr_nonnull(text);
    char *p = text + sprintf(text, B I C);
    for (size_t i = 0; i < lines; i++)
        p += sprintf(p, I);
    memcpy(p, "{\"action\":\"I\",\"columns\":\"", 25);
    memset(p + 25, 'x', (size_t)(text + n - p) - 25);
    tail_info t;
    ck_assert_int_eq(tail_of(text, n, &t), 0);
    ck_assert_int_eq(t.keep, (off_t)strlen(B I C));
    ck_assert_int_eq(t.torn, (off_t)(text + n - p));
    ck_assert_uint_eq(t.cut_lines, lines);
    ck_assert_uint_eq(t.resume, 0x1000000A8);
    free(text);
}
END_TEST

START_TEST(someone_elses_file_is_refused)
{
    static const char *const foreign[] = {
        "notes\nno newline",
        "x",
        "{\"id\":1}\n",
        B I C "{\"id\"",
        B I C "[",
        B I C "plain text\n" B,
        /* a C line without its position (wal2json's, say) */
        B I "{\"action\":\"C\",\"xid\":7,\"lsn\":\"0/30\"}\n",
        B I "{\"action\":\"C\",\"xid\":7,\"nextlsn\":\"not an LSN\"}\n",
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        tail_info t;
        ck_assert_msg(tail_of(foreign[i], strlen(foreign[i]), &t) == TAIL_FOREIGN, "case %zu", i);
    }
}
END_TEST

START_TEST(a_failed_read_is_an_error)
{
    tail_info t;
    int fd = file_of(B I C, strlen(B I C));
    /* the file is shorter than the caller thinks */
    errno = 0;
    ck_assert_int_eq(tail_read(fd, 100000, &t), TAIL_EIO);
    ck_assert_int_eq(errno, EIO);
    close(fd);
    ck_assert_int_eq(tail_read(fd, (off_t)strlen(B I C), &t), TAIL_EIO);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stream_tail");
    TCase *tc = tcase_create("tail");
    tcase_add_test(tc, a_whole_file_is_kept);
    tcase_add_test(tc, every_unit_ends_a_file);
    tcase_add_test(tc, what_a_stopped_run_left_is_cut);
    tcase_add_test(tc, a_long_tail);
    tcase_add_test(tc, someone_elses_file_is_refused);
    tcase_add_test(tc, a_failed_read_is_an_error);
    suite_add_tcase(s, tc);
    return pgrepl_test_run_suite(s);
}
