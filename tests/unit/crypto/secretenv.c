/* Tests for crypto/secretenv.c, on what the kernel shows: each case re-executes this binary with
 * a secret in its environment (so the secret sits in the exec-time area /proc/<pid>/environ
 * reads), and the child reports what /proc/self/environ holds after unsetenv alone, after detach,
 * and after detach + forget, and whether getenv still works. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/secretenv.h"

#define SECRET "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e7abcd"
#define OTHER  "still-here"

static char self[4096];

/* 1 when /proc/self/environ contains needle. */
static int proc_environ_has(const char *needle)
{
    static char buf[1 << 16];
    int fd = open("/proc/self/environ", O_RDONLY);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
        n += (size_t)r;
    close(fd);
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (memcmp(buf + i, needle, nl) == 0)
            return 1;
    return 0;
}

/* The child: prints "<before> <after> <getenv T_SECRET set> <getenv T_OTHER ok>" for mode. */
static int child(const char *mode)
{
    int before = proc_environ_has(SECRET);
    if (strcmp(mode, "unsetenv") == 0) {
        unsetenv("T_SECRET");
    } else {
        if (sluice_secretenv_detach() != 0 || sluice_secretenv_detach() != 0)
            return 3;
        if (strcmp(mode, "forget") == 0)
            sluice_secretenv_forget("T_SECRET");
    }
    const char *o = getenv("T_OTHER");
    printf("%d %d %d %d\n", before, proc_environ_has(SECRET), getenv("T_SECRET") != NULL,
           o != NULL && strcmp(o, OTHER) == 0);
    return 0;
}

static void run_child(const char *mode, char *out, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        char *const argv[] = {self, (char *)mode, NULL};
        char *const envp[] = {"T_SECRET=" SECRET, "T_OTHER=" OTHER, "T_SECRET=" SECRET, NULL};
        execve(self, argv, envp);
        _exit(127);
    }
    close(p[1]);
    ssize_t n = read(p[0], out, cap - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = '\0';
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_unsetenv_leaves_the_bytes(void **state)
{
    (void)state;
    char out[64];
    run_child("unsetenv", out, sizeof(out));
    assert_string_equal(out, "1 1 0 1\n"); /* why detach exists: the kernel still shows the value */
}

static void test_detach_clears_proc_keeps_getenv(void **state)
{
    (void)state;
    char out[64];
    run_child("detach", out, sizeof(out));
    assert_string_equal(out, "1 0 1 1\n");
}

static void test_forget_removes_and_wipes(void **state)
{
    (void)state;
    char out[64];
    run_child("forget", out, sizeof(out));
    assert_string_equal(out, "1 0 0 1\n");
}

int main(int argc, char **argv)
{
    if (argc == 2)
        return child(argv[1]);
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsetenv_leaves_the_bytes),
        cmocka_unit_test(test_detach_clears_proc_keeps_getenv),
        cmocka_unit_test(test_forget_removes_and_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
