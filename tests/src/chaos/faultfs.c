/* An LD_PRELOAD shim that makes a process's disk slow, failing or full on demand, for the
 * chaos harness's disk nemeses (tests/src/chaos/disk.rs). It works for any dynamically
 * linked process: zkrs-server, and the JVM running Apache ZooKeeper.
 *
 * Control files in the directory named by $ZKRS_FAULTFS_DIR (relative paths are taken
 * from the process's working directory), looked up at every call:
 *   fail      fsync and fdatasync fail with EIO without syncing;
 *   delay_ms  they first sleep that many milliseconds;
 *   full      the disk is full: writes that would add data to a regular file (write,
 *             pwrite, writev, pwritev, fallocate, posix_fallocate, an ftruncate that
 *             grows the file) fail with ENOSPC without writing.
 *
 * `full` spares everything that is not a regular file (sockets, pipes, terminals: the
 * process keeps talking to its peers and clients) and the standard descriptors 0-2 (a
 * member's stdout and stderr are its log file; a JVM that cannot print would hide why it
 * stopped). A full disk still lets a file shrink, as a real one does.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The real function `name` of the C library, looked up once (a race between threads
 * stores the same pointer twice). */
#define REAL(name)                                                                         \
    static __typeof__(&name) real_##name;                                                  \
    if (real_##name == NULL) {                                                             \
        real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name);                          \
    }

/* Whether control file `name` exists. */
static int control_exists(const char *name) {
    const char *dir = getenv("ZKRS_FAULTFS_DIR");
    char path[4096];
    if (dir == NULL) {
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Returns -1 (errno EIO) when syncs must fail; sleeps first when they must be slow. */
static int injected_fault(void) {
    const char *dir = getenv("ZKRS_FAULTFS_DIR");
    char path[4096];
    char text[32];
    if (dir == NULL) {
        return 0;
    }
    if (control_exists("fail")) {
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

/* Whether adding data to `fd` must fail because the disk is full: `fd` is a regular file
 * other than stdin, stdout and stderr, and the `full` control file exists. Leaves errno
 * as it found it. */
static int disk_full_for(int fd) {
    struct stat st;
    int saved = errno;
    int full = fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && control_exists("full");
    errno = saved;
    return full;
}

/* Whether `fd` is a regular file that `length` would grow on a full disk. */
static int growth_refused(int fd, off_t length) {
    struct stat st;
    int saved = errno;
    int refused = fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                  length > st.st_size && control_exists("full");
    errno = saved;
    return refused;
}

int fsync(int fd) {
    REAL(fsync);
    int saved = errno;
    if (injected_fault() != 0) {
        return -1;
    }
    errno = saved;
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    int saved = errno;
    if (injected_fault() != 0) {
        return -1;
    }
    errno = saved;
    return real_fdatasync(fd);
}

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write);
    if (count > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite);
    if (count > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    REAL(pwrite64);
    if (count > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    REAL(writev);
    if (iovcnt > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_writev(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    REAL(pwritev);
    if (iovcnt > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwritev(fd, iov, iovcnt, offset);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset) {
    REAL(pwritev64);
    if (iovcnt > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwritev64(fd, iov, iovcnt, offset);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    REAL(pwritev2);
    if (iovcnt > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwritev2(fd, iov, iovcnt, offset, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off64_t offset, int flags) {
    REAL(pwritev64v2);
    if (iovcnt > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwritev64v2(fd, iov, iovcnt, offset, flags);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
    REAL(fallocate);
    if (len > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_fallocate(fd, mode, offset, len);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t len) {
    REAL(fallocate64);
    if (len > 0 && disk_full_for(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_fallocate64(fd, mode, offset, len);
}

/* posix_fallocate reports its error as its result, not in errno. */
int posix_fallocate(int fd, off_t offset, off_t len) {
    REAL(posix_fallocate);
    if (len > 0 && disk_full_for(fd)) {
        return ENOSPC;
    }
    return real_posix_fallocate(fd, offset, len);
}

int posix_fallocate64(int fd, off64_t offset, off64_t len) {
    REAL(posix_fallocate64);
    if (len > 0 && disk_full_for(fd)) {
        return ENOSPC;
    }
    return real_posix_fallocate64(fd, offset, len);
}

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    if (growth_refused(fd, length)) {
        errno = ENOSPC;
        return -1;
    }
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
    REAL(ftruncate64);
    if (growth_refused(fd, (off_t)length)) {
        errno = ENOSPC;
        return -1;
    }
    return real_ftruncate64(fd, length);
}
