/*
 * epoll loop (see loop.h). Watches live in an array indexed by fd; each epoll registration
 * carries (fd, generation) so stale events are recognised. The thread that runs the loop.
 */
#include "vendors/loop.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 128

typedef struct watch {
    sluice_loop_cb cb;
    void *ud;
    uint32_t gen;
    int active;
} watch_t;

struct sluice_loop {
    int epfd;
    watch_t *watches;
    size_t cap;
    uint32_t next_gen;
};

sluice_loop_t *sluice_loop_create(sluice_err_t *err)
{
    sluice_loop_t *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        sluice_err_set(err, "epoll_create1: %s", strerror(errno));
        free(l);
        return NULL;
    }
    return l;
}

void sluice_loop_destroy(sluice_loop_t *l)
{
    if (l == NULL)
        return;
    close(l->epfd);
    free(l->watches);
    free(l);
}

static uint32_t to_epoll(unsigned events)
{
    return (events & SLUICE_LOOP_IN ? EPOLLIN : 0u) | (events & SLUICE_LOOP_OUT ? EPOLLOUT : 0u);
}

int sluice_loop_watch(sluice_loop_t *l, int fd, unsigned events, sluice_loop_cb cb, void *ud, sluice_err_t *err)
{
    if (fd < 0)
        return sluice_err_set(err, "watch: bad fd %d", fd);
    if ((size_t)fd >= l->cap) {
        size_t ncap = l->cap ? l->cap : 64;
        while (ncap <= (size_t)fd)
            ncap *= 2;
        watch_t *w = realloc(l->watches, ncap * sizeof(*w));
        if (w == NULL)
            return sluice_err_set(err, "out of memory");
        memset(w + l->cap, 0, (ncap - l->cap) * sizeof(*w));
        l->watches = w;
        l->cap = ncap;
    }
    watch_t *w = &l->watches[fd];
    int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (!w->active)
        w->gen = ++l->next_gen;
    struct epoll_event ev = {.events = to_epoll(events), .data.u64 = ((uint64_t)w->gen << 32) | (uint32_t)fd};
    if (epoll_ctl(l->epfd, op, fd, &ev) != 0)
        return sluice_err_set(err, "epoll_ctl(fd %d): %s", fd, strerror(errno));
    w->cb = cb;
    w->ud = ud;
    w->active = 1;
    return 0;
}

void sluice_loop_unwatch(sluice_loop_t *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->cap || !l->watches[fd].active)
        return;
    /* The fd may already be closed (then the kernel dropped it): ENOENT/EBADF are fine. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->watches[fd].active = 0;
    l->watches[fd].cb = NULL;
}

int sluice_loop_run_once(sluice_loop_t *l, int timeout_ms, sluice_err_t *err)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return sluice_err_set(err, "epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        int fd = (int)(uint32_t)evs[i].data.u64;
        uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
        if ((size_t)fd >= l->cap)
            continue;
        watch_t *w = &l->watches[fd];
        if (!w->active || w->gen != gen)
            continue; /* unwatched (and perhaps reused) during this round */
        unsigned ready = (evs[i].events & EPOLLIN ? SLUICE_LOOP_IN : 0u) |
                         (evs[i].events & EPOLLOUT ? SLUICE_LOOP_OUT : 0u) |
                         (evs[i].events & (EPOLLERR | EPOLLHUP) ? SLUICE_LOOP_ERR : 0u);
        w->cb(w->ud, fd, ready);
    }
    return n;
}
