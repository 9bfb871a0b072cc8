/*
 * The corpus replay used by every fuzz target in ordinary builds: runs
 * each file of the corpus directories given on the command line through the target's
 * LLVMFuzzerTestOneInput once, so inputs found by fuzzing keep being checked by `make test`.
 * A target that holds state for the whole run frees it in sluice_fuzz_cleanup. Single-threaded.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional: a target defines it to release what it kept between inputs (leak checkers). */
void sluice_fuzz_cleanup(void) __attribute__((weak));

int main(int argc, char **argv)
{
    size_t runs = 0;
    static uint8_t buf[1 << 20];
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "cannot open corpus %s\n", argv[i]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' || strcmp(e->d_name, "README") == 0)
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            FILE *f = fopen(path, "rb");
            if (f == NULL)
                continue;
            size_t n = fread(buf, 1, sizeof(buf), f);
            fclose(f);
            LLVMFuzzerTestOneInput(buf, n);
            runs++;
        }
        closedir(d);
    }
    printf("%zu corpus inputs replayed\n", runs);
    if (sluice_fuzz_cleanup != NULL)
        sluice_fuzz_cleanup();
    return runs > 0 ? 0 : 1; /* an empty corpus is a broken test, not a pass */
}
