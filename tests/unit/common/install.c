/* Tests for common/install.c, run from the build tree: the program's own directory, and the
 * default plugin dir (the build tree's plugins, after the missing installed-layout place).
 * The installed layout itself is tested end to end by tests/integration/install.sh. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/install.h"

static char exe_dir[PATH_MAX];   /* canonical dir of this test binary */
static char build_dir[PATH_MAX]; /* canonical SLUICE_BUILD_DIR */

static int setup(void **state)
{
    (void)state;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(exe_dir, sizeof(exe_dir), "%s", exe);
    const char *b = getenv("SLUICE_BUILD_DIR");
    return b != NULL && realpath(b, build_dir) != NULL ? 0 : -1;
}

static void test_exe_dir(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_install_exe_dir(dir, sizeof(dir), &err), 0);
    assert_string_equal(dir, exe_dir);
    assert_int_equal(sluice_install_exe_dir(dir, 4, &err), -1);
    assert_string_equal(err.msg, "this program's own path is too long");
}

static void test_plugin_subdir(void **state)
{
    (void)state;
    /* Computed by CMake from bindir to <libdir>/sluice/plugins: relative, so any prefix works. */
    const char *sub = sluice_install_plugin_subdir();
    assert_true(strncmp(sub, "../", 3) == 0);
    assert_true(strlen(sub) > 15 && strcmp(sub + strlen(sub) - 15, "/sluice/plugins") == 0);
}

static void test_plugin_dirs_in_build_tree(void **state)
{
    (void)state;
    sluice_install_dir_t dirs[SLUICE_INSTALL_MAX_DIRS];
    sluice_err_t err = {{0}};
    size_t n = sluice_install_plugin_dirs(dirs, SLUICE_INSTALL_MAX_DIRS, &err);
    assert_int_equal(n, 2);

    /* First the installed layout next to this binary: not there in a build tree, shown tidied
     * (<exe dir>/../lib/sluice/plugins is <parent of exe dir>/lib/sluice/plugins). */
    char want[PATH_MAX + 64], exe[2 * PATH_MAX];
    snprintf(want, sizeof(want), "%s", exe_dir);
    *strrchr(want, '/') = '\0';
    strncat(want, sluice_install_plugin_subdir() + 2, sizeof(want) - strlen(want) - 1);
    assert_string_equal(dirs[0].path, want);
    assert_int_equal(dirs[0].exists, 0);
    snprintf(exe, sizeof(exe), "next to %s/unit_common_install", exe_dir);
    assert_string_equal(dirs[0].how, exe);

    /* Then the build tree's own plugins, because this binary lives in that tree. */
    snprintf(want, sizeof(want), "%s/plugins", build_dir);
    assert_string_equal(dirs[1].path, want);
    assert_int_equal(dirs[1].exists, 1);
    snprintf(exe, sizeof(exe), "the build tree of %s/unit_common_install", exe_dir);
    assert_string_equal(dirs[1].how, exe);

    /* Room for one: only the first. */
    assert_int_equal(sluice_install_plugin_dirs(dirs, 1, &err), 1);

    /* The default is the first that exists. */
    char *dir = sluice_install_plugin_dir(&err);
    assert_non_null(dir);
    assert_string_equal(dir, want);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exe_dir),
        cmocka_unit_test(test_plugin_subdir),
        cmocka_unit_test(test_plugin_dirs_in_build_tree),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
