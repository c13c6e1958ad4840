/* An LD_PRELOAD shim that makes fsync and fdatasync slow or fail on demand, for the chaos
 * harness's disk nemeses (tests/src/chaos/disk.rs). It works for any dynamically linked
 * process: zkrs-server, and the JVM running Apache ZooKeeper.
 *
 * Control files in the directory named by $ZKRS_FAULTFS_DIR (relative paths are taken
 * from the process's working directory), looked up at every call:
 *   fail      fsync and fdatasync fail with EIO without syncing;
 *   delay_ms  they first sleep that many milliseconds.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Returns -1 (errno EIO) when syncs must fail; sleeps first when they must be slow. */
static int injected_fault(void) {
    const char *dir = getenv("ZKRS_FAULTFS_DIR");
    char path[4096];
    char text[32];
    if (dir == NULL) {
        return 0;
    }
    snprintf(path, sizeof path, "%s/fail", dir);
    if (access(path, F_OK) == 0) {
        errno = EIO;
        return -1;
    }
    snprintf(path, sizeof path, "%s/delay_ms", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        if (n > 0) {
            text[n] = '\0';
            long ms = strtol(text, NULL, 10);
            if (ms > 0) {
                struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
                while (nanosleep(&pause, &pause) == -1 && errno == EINTR) {
                }
            }
        }
    }
    return 0;
}

int fsync(int fd) {
    static int (*real)(int);
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    int saved = errno;
    if (injected_fault() != 0) {
        return -1;
    }
    errno = saved;
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    int saved = errno;
    if (injected_fault() != 0) {
        return -1;
    }
    errno = saved;
    return real(fd);
}
