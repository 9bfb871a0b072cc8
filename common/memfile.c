/* Sealed in-memory copies of files (common/memfile.h). Main thread; no state. */
#include "common/memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int sluice_memfile_copy(const char *path, const char *label, sluice_err_t *err)
{
    /* Not blocking in open(): a FIFO there waited for a writer, on the main thread that loads the
     * config and handles SIGTERM; the check below then refuses it. */
    int in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        sluice_err_set(err, "%s: cannot be read: %s", path, in < 0 ? strerror(errno) : "not a regular file");
        if (in >= 0)
            close(in);
        return -1;
    }
    char name[250]; /* the kernel's limit for a memory file's name, with its NUL */
    snprintf(name, sizeof(name), "%s", label);
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        close(in);
        return -2;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sluice_err_set(err, "%s: cannot be read: %s", path, strerror(errno));
            goto fail;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                sluice_err_set(err, "%s: cannot be copied into memory: %s", path, strerror(errno));
                goto fail;
            }
            off += w;
        }
    }
    close(in);
    /* Nothing may change it once it is mapped. */
    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
fail:
    close(in);
    close(fd);
    return -1;
}
