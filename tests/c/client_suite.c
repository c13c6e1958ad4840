/*
 * A client-compatibility suite on Apache ZooKeeper's own C client (libzookeeper_mt, 3.8),
 * synchronous API.
 *
 *   gcc -std=gnu11 -O1 -Wall -o client_suite client_suite.c -lzookeeper_mt -lpthread
 *   ./client_suite 127.0.0.1:PORT 'alice:<base64 sha1 of "alice:secret">'
 *
 * The second argument is the digest ACL id of the credentials "alice:secret" (the test driver
 * computes it, so this program needs no crypto library).
 *
 * Every check prints one line, "ok <name>" or "FAIL <name>: <what went wrong>"; the exit code
 * is 0 only if every check held. Watch notifications are waited for on a condition variable
 * with a deadline. A check that something did NOT happen uses a marker: the server delivers a
 * session's notifications in zxid order, so once the notification of a later change has
 * arrived, one for an earlier change would already have been delivered.
 */

#define _GNU_SOURCE
/* The synchronous API of the multi-threaded library is declared under THREADED. */
#ifndef THREADED
#define THREADED
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#define WAIT_MS 15000
#define SESSION_TIMEOUT_MS 10000
#define MAX_EVENTS 64

static const char *hosts;
static const char *alice_digest_id; /* "alice:<base64>" */
static char root[128];
static int passed, failed;
static char errbuf[2048];

/* ------------------------------------------------------------------ events */

typedef struct {
    int type;
    int state;
    char path[512];
} event_t;

typedef struct {
    const char *name;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    event_t ev[MAX_EVENTS];
    int head, tail; /* ring buffer: [head, tail) */
} evq_t;

static void evq_init(evq_t *q, const char *name)
{
    memset(q, 0, sizeof *q);
    q->name = name;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &attr);
    pthread_condattr_destroy(&attr);
}

static void evq_push(evq_t *q, int type, int state, const char *path)
{
    pthread_mutex_lock(&q->mu);
    if (q->tail - q->head < MAX_EVENTS) {
        event_t *e = &q->ev[q->tail % MAX_EVENTS];
        e->type = type;
        e->state = state;
        snprintf(e->path, sizeof e->path, "%s", path ? path : "");
        q->tail++;
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Pops the next event, waiting up to ms. Returns 1 if one was popped. */
static int evq_pop(evq_t *q, event_t *out, int ms)
{
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&q->mu);
    while (q->head == q->tail) {
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT && q->head == q->tail) {
            pthread_mutex_unlock(&q->mu);
            return 0;
        }
    }
    *out = q->ev[q->head % MAX_EVENTS];
    q->head++;
    pthread_mutex_unlock(&q->mu);
    return 1;
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    if (ctx) {
        evq_push((evq_t *)ctx, type, state, path);
    }
}

static const char *type_name(int t)
{
    if (t == ZOO_CREATED_EVENT) return "CREATED";
    if (t == ZOO_DELETED_EVENT) return "DELETED";
    if (t == ZOO_CHANGED_EVENT) return "CHANGED";
    if (t == ZOO_CHILD_EVENT) return "CHILD";
    if (t == ZOO_SESSION_EVENT) return "SESSION";
    if (t == ZOO_NOTWATCHING_EVENT) return "NOTWATCHING";
    return "?";
}

static const char *state_name(int s)
{
    if (s == ZOO_CONNECTED_STATE) return "CONNECTED";
    if (s == ZOO_CONNECTING_STATE) return "CONNECTING";
    if (s == ZOO_ASSOCIATING_STATE) return "ASSOCIATING";
    if (s == ZOO_EXPIRED_SESSION_STATE) return "EXPIRED";
    if (s == ZOO_AUTH_FAILED_STATE) return "AUTH_FAILED";
    if (s == ZOO_READONLY_STATE) return "READONLY";
    if (s == ZOO_NOTCONNECTED_STATE) return "NOTCONNECTED";
    if (s == 0) return "0";
    return "?";
}

/* ------------------------------------------------------------------ framework */

#define FAILF(...)                                        \
    do {                                                  \
        snprintf(errbuf, sizeof errbuf, __VA_ARGS__);     \
        return errbuf;                                    \
    } while (0)

#define EXPECT(cond, ...)          \
    do {                           \
        if (!(cond)) {             \
            FAILF(__VA_ARGS__);    \
        }                          \
    } while (0)

#define RC(call, want, what)                                                              \
    do {                                                                                  \
        int rc_ = (call);                                                                 \
        if (rc_ != (want)) {                                                              \
            FAILF("%s: expected %d (%s) but got %d (%s)", (what), (want), zerror(want),   \
                  rc_, zerror(rc_));                                                      \
        }                                                                                 \
    } while (0)

#define OK(call, what) RC(call, ZOK, what)

#define TRY(expr)                    \
    do {                             \
        const char *e_ = (expr);     \
        if (e_) {                    \
            return e_;               \
        }                            \
    } while (0)

typedef const char *(*check_fn)(void);

static void check(const char *name, check_fn fn)
{
    errbuf[0] = 0;
    const char *err = fn();
    if (err == NULL) {
        printf("ok %s\n", name);
        passed++;
    } else {
        char one[2048];
        snprintf(one, sizeof one, "%s", err);
        for (char *c = one; *c; c++) {
            if (*c == '\n') *c = ' ';
        }
        printf("FAIL %s: %s\n", name, one);
        failed++;
    }
    fflush(stdout);
}

/* The next node event of q must be (type, path). */
static const char *expect_event(evq_t *q, int type, const char *path)
{
    event_t e;
    if (!evq_pop(q, &e, WAIT_MS)) {
        FAILF("watcher %s: no event within %d ms, waiting for %s %s", q->name, WAIT_MS,
              type_name(type), path);
    }
    if (e.type != type || strcmp(e.path, path) != 0) {
        FAILF("watcher %s: expected %s %s but got %s %s (state %s)", q->name, type_name(type),
              path, type_name(e.type), e.path, state_name(e.state));
    }
    return NULL;
}

/* No event may be pending in q. */
static const char *expect_no_event(evq_t *q, const char *context)
{
    event_t e;
    if (evq_pop(q, &e, 0)) {
        FAILF("watcher %s: unexpected %s %s %s", q->name, type_name(e.type), e.path, context);
    }
    return NULL;
}

/* Waits for a session event with this state on q (other session events are skipped). */
static const char *expect_state(evq_t *q, int state)
{
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += WAIT_MS / 1000;
    char seen[512] = "";
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
        event_t e;
        if (left <= 0 || !evq_pop(q, &e, (int)left)) {
            FAILF("watcher %s: no session state %s within %d ms (saw:%s)", q->name,
                  state_name(state), WAIT_MS, seen);
        }
        if (e.type == ZOO_SESSION_EVENT) {
            size_t n = strlen(seen);
            snprintf(seen + n, sizeof seen - n, " %s", state_name(e.state));
            if (e.state == state) {
                return NULL;
            }
        }
    }
}

typedef struct {
    evq_t q; /* session events (the handle's default watcher) */
    zhandle_t *zh;
} client_t;

static const char *client_open(client_t *c, const char *name, const clientid_t *cid)
{
    evq_init(&c->q, name);
    c->zh = zookeeper_init(hosts, watcher, SESSION_TIMEOUT_MS, cid, &c->q, 0);
    if (c->zh == NULL) {
        FAILF("zookeeper_init(%s) failed: %s", hosts, strerror(errno));
    }
    return NULL;
}

static const char *client_connect(client_t *c, const char *name)
{
    TRY(client_open(c, name, NULL));
    return expect_state(&c->q, ZOO_CONNECTED_STATE);
}

static void client_close(client_t *c)
{
    if (c->zh) {
        zookeeper_close(c->zh);
        c->zh = NULL;
    }
}

/* zoo_add_auth is asynchronous: wait for its completion. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int rc;
} completion_t;

static void void_done(int rc, const void *data)
{
    completion_t *c = (completion_t *)data;
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void completion_init(completion_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &attr);
}

/* Waits for the completion; its rc, or INT32_MIN on timeout. */
static int completion_wait(completion_t *c)
{
    struct timespec ts;
    deadline_in(&ts, WAIT_MS);
    pthread_mutex_lock(&c->mu);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT && !c->done) {
            break;
        }
    }
    int rc = c->done ? c->rc : INT32_MIN;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Returns the completion's rc, or INT32_MIN on timeout. */
static int add_auth_sync(zhandle_t *zh, const char *scheme, const char *cred)
{
    completion_t c;
    completion_init(&c);
    int rc = zoo_add_auth(zh, scheme, cred, (int)strlen(cred), void_done, &c);
    return rc != ZOK ? rc : completion_wait(&c);
}

static void string_done(int rc, const char *value, const void *data)
{
    (void)value;
    void_done(rc, data);
}

/* Brings zh's server up to date with the leader before zh reads what another session
 * wrote: in an ensemble that session may be on another member, and zh's may be behind.
 * Returns the completion's rc, or INT32_MIN on timeout. */
static int sync_path(zhandle_t *zh, const char *path)
{
    completion_t c;
    completion_init(&c);
    int rc = zoo_async(zh, path, string_done, &c);
    return rc != ZOK ? rc : completion_wait(&c);
}

static const char *stat_eq(const struct Stat *a, const struct Stat *b, const char *what)
{
#define F(f)                                                                               \
    if (a->f != b->f) {                                                                    \
        FAILF("%s: stat field " #f " differs: %" PRId64 " vs %" PRId64, what,             \
              (int64_t)a->f, (int64_t)b->f);                                               \
    }
    F(czxid) F(mzxid) F(ctime) F(mtime) F(version) F(cversion) F(aversion)
    F(ephemeralOwner) F(dataLength) F(numChildren) F(pzxid)
#undef F
    return NULL;
}

static const char *seq_suffix(const char *created, const char *prefix, long *out)
{
    size_t n = strlen(prefix);
    EXPECT(strncmp(created, prefix, n) == 0, "sequential name %s does not start with %s", created, prefix);
    const char *s = created + n;
    EXPECT(strlen(s) == 10, "sequential suffix of %s is not 10 digits", created);
    for (const char *c = s; *c; c++) {
        EXPECT(*c >= '0' && *c <= '9', "sequential suffix of %s is not 10 digits", created);
    }
    *out = strtol(s, NULL, 10);
    return NULL;
}

static char *P(const char *suffix)
{
    static char bufs[16][512];
    static int i;
    char *b = bufs[i++ % 16];
    snprintf(b, 512, "%s%s", root, suffix);
    return b;
}

static const char *mk(zhandle_t *zh, const char *path)
{
    int rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    EXPECT(rc == ZOK, "create %s: %s", path, zerror(rc));
    return NULL;
}

/* Waits until path does not exist, with an exists watch. */
static const char *wait_gone(zhandle_t *zh, const char *path)
{
    /* Not freed: the server may still hold this watch (e.g. if the node never existed). */
    evq_t *q = malloc(sizeof *q);
    EXPECT(q != NULL, "out of memory");
    evq_init(q, "gone");
    struct Stat st;
    int rc = zoo_wexists(zh, path, watcher, q, &st);
    if (rc == ZNONODE) {
        return NULL;
    }
    EXPECT(rc == ZOK, "exists %s: %s", path, zerror(rc));
    return expect_event(q, ZOO_DELETED_EVENT, path);
}

static client_t main_c, other_c;
#define ZH (main_c.zh)
#define OTHER (other_c.zh)

/* ------------------------------------------------------------------ checks */

static const char *c_connect(void)
{
    TRY(client_connect(&main_c, "main"));
    TRY(client_connect(&other_c, "other"));
    const clientid_t *id = zoo_client_id(ZH);
    EXPECT(id->client_id != 0, "session id is 0");
    EXPECT(id->client_id != zoo_client_id(OTHER)->client_id, "two handles share a session id");
    int to = zoo_recv_timeout(ZH);
    EXPECT(to >= 4000 && to <= SESSION_TIMEOUT_MS, "negotiated timeout %d out of [4000, 10000]", to);
    EXPECT(zoo_state(ZH) == ZOO_CONNECTED_STATE, "state %s", state_name(zoo_state(ZH)));
    return mk(ZH, root);
}

static const char *c_create_persistent(void)
{
    char *p = P("/persistent");
    char created[512];
    OK(zoo_create(ZH, p, "hello", 5, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, created, sizeof created),
       "zoo_create");
    EXPECT(strcmp(created, p) == 0, "returned path %s", created);
    char buf[64];
    int len = sizeof buf;
    struct Stat st;
    OK(zoo_get(ZH, p, 0, buf, &len, &st), "zoo_get");
    EXPECT(len == 5 && memcmp(buf, "hello", 5) == 0, "data %.*s (len %d)", len > 0 ? len : 0, buf, len);
    EXPECT(st.version == 0 && st.cversion == 0 && st.aversion == 0, "versions %d/%d/%d", st.version,
           st.cversion, st.aversion);
    EXPECT(st.ephemeralOwner == 0, "ephemeralOwner %" PRId64, st.ephemeralOwner);
    EXPECT(st.dataLength == 5 && st.numChildren == 0, "dataLength %d numChildren %d", st.dataLength,
           st.numChildren);
    EXPECT(st.czxid == st.mzxid && st.czxid == st.pzxid, "czxid/mzxid/pzxid differ");
    struct Stat ex;
    OK(zoo_exists(ZH, p, 0, &ex), "zoo_exists");
    TRY(stat_eq(&st, &ex, "get vs exists"));
    /* NULL data (valuelen -1) reads back as "no data" (buffer_len -1). */
    char *n = P("/persistent-null");
    OK(zoo_create(ZH, n, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "create null data");
    len = sizeof buf;
    OK(zoo_get(ZH, n, 0, buf, &len, &st), "zoo_get null data");
    EXPECT(len == -1, "buffer_len for null data: expected -1 but got %d", len);
    EXPECT(st.dataLength == 0, "dataLength of null data %d", st.dataLength);
    /* Empty data (valuelen 0) reads back as 0 bytes. */
    char *e = P("/persistent-empty");
    OK(zoo_create(ZH, e, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "create empty data");
    len = sizeof buf;
    OK(zoo_get(ZH, e, 0, buf, &len, &st), "zoo_get empty data");
    EXPECT(len == 0, "buffer_len for empty data: expected 0 but got %d", len);
    return NULL;
}

static const char *c_create2(void)
{
    char *p = P("/create2");
    char created[512];
    struct Stat st, ex;
    OK(zoo_create2(ZH, p, "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, created, sizeof created, &st),
       "zoo_create2");
    EXPECT(strcmp(created, p) == 0, "returned path %s", created);
    EXPECT(st.czxid > 0 && st.dataLength == 1, "create2 stat czxid %" PRId64 " dataLength %d", st.czxid,
           st.dataLength);
    OK(zoo_exists(ZH, p, 0, &ex), "zoo_exists");
    return stat_eq(&st, &ex, "create2 vs exists");
}

static const char *c_create_ephemeral(void)
{
    char *p = P("/ephemeral");
    OK(zoo_create(ZH, p, "e", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0), "create ephemeral");
    struct Stat st;
    OK(zoo_exists(OTHER, p, 0, &st), "exists from another session");
    EXPECT(st.ephemeralOwner == zoo_client_id(ZH)->client_id, "ephemeralOwner 0x%" PRIx64 " != session 0x%" PRIx64,
           st.ephemeralOwner, zoo_client_id(ZH)->client_id);
    RC(zoo_create(ZH, P("/ephemeral/child"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
       ZNOCHILDRENFOREPHEMERALS, "child of an ephemeral");
    return NULL;
}

static const char *c_create_sequential(void)
{
    TRY(mk(ZH, P("/seq")));
    char a[512], b[512], e1[512], e2[512];
    long sa, sb, s1, s2;
    OK(zoo_create(ZH, P("/seq/p-"), "a", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, a, sizeof a), "seq 1");
    OK(zoo_create(ZH, P("/seq/p-"), "b", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, b, sizeof b), "seq 2");
    OK(zoo_create(ZH, P("/seq/e-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, e1, sizeof e1), "eseq 1");
    OK(zoo_create(ZH, P("/seq/e-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, e2, sizeof e2), "eseq 2");
    TRY(seq_suffix(a, P("/seq/p-"), &sa));
    TRY(seq_suffix(b, P("/seq/p-"), &sb));
    TRY(seq_suffix(e1, P("/seq/e-"), &s1));
    TRY(seq_suffix(e2, P("/seq/e-"), &s2));
    /* One counter per parent (its cversion), shared by all prefixes. */
    EXPECT(sa == 0 && sb == 1 && s1 == 2 && s2 == 3, "suffixes %ld %ld %ld %ld, expected 0 1 2 3", sa, sb, s1, s2);
    struct Stat st;
    OK(zoo_exists(ZH, e2, 0, &st), "exists ephemeral sequential");
    EXPECT(st.ephemeralOwner == zoo_client_id(ZH)->client_id, "ephemeral sequential owner");
    /* A truncated path buffer: the node is still created with its full name. */
    char small[8];
    OK(zoo_create(ZH, P("/seq/t-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, small,
                  sizeof small), "seq with small buffer");
    EXPECT(strlen(small) == sizeof small - 1, "truncated path %s", small);
    OK(zoo_exists(ZH, P("/seq/t-0000000004"), 0, &st), "truncated-buffer node exists");
    return NULL;
}

static const char *c_create_errors(void)
{
    TRY(mk(ZH, P("/errs")));
    RC(zoo_create(ZH, P("/errs"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZNODEEXISTS,
       "create existing");
    RC(zoo_create(ZH, P("/errs/missing/child"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
       ZNONODE, "create without parent");
    RC(zoo_create(ZH, P("/errs/creator"), NULL, -1, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0),
       ZINVALIDACL, "CREATOR_ALL_ACL without auth");
    char buf[8];
    int len = sizeof buf;
    RC(zoo_get(ZH, P("/errs/nope"), 0, buf, &len, NULL), ZNONODE, "get missing");
    RC(zoo_set(ZH, P("/errs/nope"), "x", 1, -1), ZNONODE, "set missing");
    struct Stat st;
    RC(zoo_exists(ZH, P("/errs/nope"), 0, &st), ZNONODE, "exists missing");
    RC(zoo_create(ZH, "no-slash", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZBADARGUMENTS,
       "relative path (client-side)");
    return NULL;
}

static const char *c_create_container_ttl(void)
{
    char *c = P("/container");
    struct Stat st;
    OK(zoo_create2(ZH, c, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, NULL, 0, &st), "create container");
    EXPECT(st.ephemeralOwner == 0, "container ephemeralOwner as seen by clients: %" PRId64, st.ephemeralOwner);
    OK(zoo_create(ZH, P("/container/child"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "child");
    OK(zoo_delete(ZH, P("/container/child"), -1), "delete child");
    TRY(wait_gone(ZH, c));

    char *t = P("/ttl");
    OK(zoo_create2_ttl(ZH, t, "t", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL, 200, NULL, 0, &st),
       "create TTL node");
    EXPECT(st.ephemeralOwner == 0, "TTL ephemeralOwner as seen by clients: %" PRId64, st.ephemeralOwner);
    char seq[512];
    TRY(mk(ZH, P("/ttlseq")));
    OK(zoo_create_ttl(ZH, P("/ttlseq/t-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL,
                      60000, seq, sizeof seq), "create sequential TTL node");
    long s;
    TRY(seq_suffix(seq, P("/ttlseq/t-"), &s));
    TRY(wait_gone(ZH, t));
    OK(zoo_exists(ZH, seq, 0, &st), "60 s TTL node still there");
    return NULL;
}

static const char *c_get_set_versions(void)
{
    char *p = P("/versions");
    OK(zoo_create(ZH, p, "v0", 2, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "create");
    OK(zoo_set(ZH, p, "v1", 2, 0), "set version 0");
    RC(zoo_set(ZH, p, "bad", 3, 0), ZBADVERSION, "set stale version");
    struct Stat st;
    OK(zoo_set2(ZH, p, "v22", 3, -1, &st), "zoo_set2 unconditional");
    EXPECT(st.version == 2 && st.dataLength == 3, "set2 stat version %d dataLength %d", st.version, st.dataLength);
    EXPECT(st.mzxid > st.czxid, "mzxid not after czxid");
    char buf[64];
    int len = sizeof buf;
    struct Stat got;
    OK(zoo_get(ZH, p, 0, buf, &len, &got), "zoo_get");
    EXPECT(len == 3 && memcmp(buf, "v22", 3) == 0, "data %.*s", len > 0 ? len : 0, buf);
    TRY(stat_eq(&st, &got, "set2 vs get"));
    /* A short buffer gets a prefix of the data. */
    len = 2;
    OK(zoo_get(ZH, p, 0, buf, &len, &got), "zoo_get short buffer");
    EXPECT(len == 2 && memcmp(buf, "v2", 2) == 0, "short read %.*s (len %d)", len > 0 ? len : 0, buf, len);
    /* Setting NULL data. */
    OK(zoo_set(ZH, p, NULL, -1, 2), "set NULL data");
    len = sizeof buf;
    OK(zoo_get(ZH, p, 0, buf, &len, &got), "zoo_get after NULL set");
    EXPECT(len == -1 && got.dataLength == 0 && got.version == 3, "after NULL set: len %d dataLength %d version %d",
           len, got.dataLength, got.version);
    return NULL;
}

static const char *c_exists_watch(void)
{
    char *p = P("/wexists");
    static evq_t q;
    evq_init(&q, "wexists");
    struct Stat st;
    RC(zoo_wexists(ZH, p, watcher, &q, &st), ZNONODE, "wexists before create");
    OK(zoo_create(OTHER, p, "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "other creates");
    TRY(expect_event(&q, ZOO_CREATED_EVENT, p));
    OK(zoo_wexists(ZH, p, watcher, &q, &st), "wexists after create");
    OK(zoo_set(OTHER, p, "y", 1, -1), "other sets");
    TRY(expect_event(&q, ZOO_CHANGED_EVENT, p));
    OK(zoo_wexists(ZH, p, watcher, &q, &st), "wexists again");
    OK(zoo_delete(OTHER, p, -1), "other deletes");
    TRY(expect_event(&q, ZOO_DELETED_EVENT, p));
    /* The legacy watch flag delivers to the handle's default watcher. */
    RC(zoo_exists(ZH, p, 1, &st), ZNONODE, "exists(watch=1) on missing node");
    OK(zoo_create(OTHER, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "other creates again");
    for (;;) {
        event_t e;
        EXPECT(evq_pop(&main_c.q, &e, WAIT_MS), "default watcher: no CREATED %s within %d ms", p, WAIT_MS);
        if (e.type == ZOO_SESSION_EVENT) {
            continue;
        }
        EXPECT(e.type == ZOO_CREATED_EVENT && strcmp(e.path, p) == 0, "default watcher got %s %s",
               type_name(e.type), e.path);
        break;
    }
    return NULL;
}

static const char *c_get_watch(void)
{
    char *p = P("/wdata");
    char *marker = P("/wdata-marker");
    static evq_t q;
    evq_init(&q, "wdata");
    OK(zoo_create(ZH, p, "0", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "create");
    char buf[16];
    int len = sizeof buf;
    struct Stat st;
    OK(zoo_wget(ZH, p, watcher, &q, buf, &len, &st), "zoo_wget");
    OK(zoo_set(OTHER, p, "1", 1, -1), "other sets");
    TRY(expect_event(&q, ZOO_CHANGED_EVENT, p));
    /* One-shot: the second change is not reported. */
    RC(zoo_wexists(ZH, marker, watcher, &q, &st), ZNONODE, "marker watch");
    OK(zoo_set(OTHER, p, "2", 1, -1), "other sets again");
    OK(zoo_create(OTHER, marker, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "marker");
    TRY(expect_event(&q, ZOO_CREATED_EVENT, marker));
    TRY(expect_no_event(&q, "(one-shot data watch fired twice)"));
    /* Deleting a watched node fires DELETED on a data watch. */
    len = sizeof buf;
    OK(zoo_wget(ZH, p, watcher, &q, buf, &len, &st), "zoo_wget again");
    OK(zoo_delete(OTHER, p, -1), "other deletes");
    TRY(expect_event(&q, ZOO_DELETED_EVENT, p));
    return NULL;
}

static int has_child(const struct String_vector *v, const char *name)
{
    for (int i = 0; i < v->count; i++) {
        if (strcmp(v->data[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *c_get_children2(void)
{
    char *p = P("/children");
    TRY(mk(ZH, p));
    TRY(mk(ZH, P("/children/b")));
    TRY(mk(ZH, P("/children/a")));
    TRY(mk(ZH, P("/children/c")));
    struct String_vector v;
    struct Stat st;
    static evq_t q;
    evq_init(&q, "wchildren");
    OK(zoo_wget_children2(ZH, p, watcher, &q, &v, &st), "zoo_wget_children2");
    int count = v.count, all = has_child(&v, "a") && has_child(&v, "b") && has_child(&v, "c");
    deallocate_String_vector(&v);
    EXPECT(count == 3 && all, "children: %d entries, a/b/c present: %d", count, all);
    EXPECT(st.numChildren == 3 && st.cversion == 3, "numChildren %d cversion %d", st.numChildren, st.cversion);
    struct Stat cst;
    OK(zoo_exists(ZH, P("/children/c"), 0, &cst), "exists c");
    EXPECT(st.pzxid == cst.czxid, "pzxid %" PRId64 " != last child's czxid %" PRId64, st.pzxid, cst.czxid);
    OK(zoo_set(OTHER, p, "d", 1, -1), "data change of the parent");
    OK(zoo_create(OTHER, P("/children/d"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "other adds child");
    TRY(expect_event(&q, ZOO_CHILD_EVENT, p));
    OK(zoo_get_children2(ZH, p, 0, &v, &st), "zoo_get_children2");
    count = v.count;
    deallocate_String_vector(&v);
    EXPECT(count == 4 && st.numChildren == 4, "after add: %d entries, numChildren %d", count, st.numChildren);
    RC(zoo_get_children2(ZH, P("/children/nope"), 0, &v, &st), ZNONODE, "children of missing node");
    return NULL;
}

static const char *c_delete(void)
{
    char *p = P("/del");
    TRY(mk(ZH, p));
    TRY(mk(ZH, P("/del/c")));
    RC(zoo_delete(ZH, p, -1), ZNOTEMPTY, "delete non-empty");
    RC(zoo_delete(ZH, P("/del/c"), 3), ZBADVERSION, "delete bad version");
    OK(zoo_delete(ZH, P("/del/c"), 0), "delete version 0");
    RC(zoo_delete(ZH, P("/del/c"), -1), ZNONODE, "delete twice");
    struct Stat st;
    OK(zoo_exists(ZH, p, 0, &st), "exists parent");
    EXPECT(st.cversion == 2 && st.numChildren == 0, "parent cversion %d numChildren %d", st.cversion, st.numChildren);
    OK(zoo_delete(ZH, p, -1), "delete parent");
    RC(zoo_exists(ZH, p, 0, &st), ZNONODE, "exists after delete");
    return NULL;
}

static const char *c_multi_success(void)
{
    char *p = P("/multi-ok");
    TRY(mk(ZH, p));
    char created[512], seq[512];
    struct Stat setst;
    zoo_op_t ops[6];
    zoo_op_result_t res[6];
    memset(res, 0, sizeof res);
    zoo_create_op_init(&ops[0], P("/multi-ok/a"), "a", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, created, sizeof created);
    zoo_create_op_init(&ops[1], P("/multi-ok/s-"), "s", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, seq, sizeof seq);
    zoo_set_op_init(&ops[2], P("/multi-ok/a"), "a2", 2, 0, &setst);
    zoo_check_op_init(&ops[3], P("/multi-ok/a"), 1);
    zoo_create_op_init(&ops[4], P("/multi-ok/gone"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    zoo_delete_op_init(&ops[5], P("/multi-ok/gone"), 0);
    OK(zoo_multi(ZH, 6, ops, res), "zoo_multi");
    for (int i = 0; i < 6; i++) {
        EXPECT(res[i].err == ZOK, "op%d err %d (%s)", i, res[i].err, zerror(res[i].err));
    }
    EXPECT(strcmp(created, P("/multi-ok/a")) == 0, "op0 path %s", created);
    long s;
    TRY(seq_suffix(seq, P("/multi-ok/s-"), &s));
    EXPECT(s == 1, "op1 suffix %ld, expected 1 (op0 counted)", s);
    EXPECT(setst.version == 1, "op2 stat version %d", setst.version);
    char buf[16];
    int len = sizeof buf;
    struct Stat st, sst;
    OK(zoo_get(ZH, P("/multi-ok/a"), 0, buf, &len, &st), "get after multi");
    EXPECT(len == 2 && memcmp(buf, "a2", 2) == 0, "data after multi %.*s", len > 0 ? len : 0, buf);
    RC(zoo_exists(ZH, P("/multi-ok/gone"), 0, &sst), ZNONODE, "created-then-deleted node");
    OK(zoo_exists(ZH, seq, 0, &sst), "sequential node");
    EXPECT(st.mzxid == sst.czxid, "the ops of one multi have different zxids");
    return NULL;
}

static const char *c_multi_failure(void)
{
    char *p = P("/multi-fail");
    TRY(mk(ZH, p));
    TRY(mk(ZH, P("/multi-fail/exists")));
    zoo_op_t ops[3];
    zoo_op_result_t res[3];
    memset(res, 0x55, sizeof res);
    zoo_create_op_init(&ops[0], P("/multi-fail/a"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    zoo_check_op_init(&ops[1], P("/multi-fail/exists"), 7);
    zoo_create_op_init(&ops[2], P("/multi-fail/b"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    RC(zoo_multi(ZH, 3, ops, res), ZBADVERSION, "multi with failing check");
    EXPECT(res[0].err == ZOK && res[1].err == ZBADVERSION && res[2].err == ZRUNTIMEINCONSISTENCY,
           "per-op errors %d %d %d, expected 0 %d %d", res[0].err, res[1].err, res[2].err, ZBADVERSION,
           ZRUNTIMEINCONSISTENCY);
    struct Stat st;
    RC(zoo_exists(ZH, P("/multi-fail/a"), 0, &st), ZNONODE, "rolled-back create");
    RC(zoo_exists(ZH, P("/multi-fail/b"), 0, &st), ZNONODE, "create after the failure");

    zoo_op_t ops2[3];
    zoo_op_result_t res2[3];
    memset(res2, 0x55, sizeof res2);
    zoo_set_op_init(&ops2[0], P("/multi-fail/exists"), "x", 1, -1, NULL);
    zoo_check_op_init(&ops2[1], P("/multi-fail/exists"), 1); /* sees op0's write */
    zoo_delete_op_init(&ops2[2], P("/multi-fail/missing"), -1);
    RC(zoo_multi(ZH, 3, ops2, res2), ZNONODE, "multi deleting a missing node");
    EXPECT(res2[0].err == ZOK && res2[1].err == ZOK && res2[2].err == ZNONODE,
           "per-op errors %d %d %d, expected 0 0 %d", res2[0].err, res2[1].err, res2[2].err, ZNONODE);
    OK(zoo_exists(ZH, P("/multi-fail/exists"), 0, &st), "exists");
    EXPECT(st.version == 0, "setData of a failed multi was applied (version %d)", st.version);

    zoo_op_t ops3[2];
    zoo_op_result_t res3[2];
    memset(res3, 0x55, sizeof res3);
    zoo_create_op_init(&ops3[0], P("/multi-fail/exists"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    zoo_delete_op_init(&ops3[1], P("/multi-fail/exists"), -1);
    RC(zoo_multi(ZH, 2, ops3, res3), ZNODEEXISTS, "multi creating an existing node");
    EXPECT(res3[0].err == ZNODEEXISTS && res3[1].err == ZRUNTIMEINCONSISTENCY, "per-op errors %d %d",
           res3[0].err, res3[1].err);
    OK(zoo_exists(ZH, P("/multi-fail/exists"), 0, &st), "node deleted by a failed multi");
    return NULL;
}

static const char *acl_has(const struct ACL_vector *v, int perms, const char *scheme, const char *id)
{
    for (int i = 0; i < v->count; i++) {
        if (v->data[i].perms == perms && strcmp(v->data[i].id.scheme, scheme) == 0 &&
            strcmp(v->data[i].id.id, id) == 0) {
            return NULL;
        }
    }
    char list[1024] = "";
    for (int i = 0; i < v->count; i++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, " %d,%s:%s", v->data[i].perms, v->data[i].id.scheme, v->data[i].id.id);
    }
    FAILF("ACL has no %d,%s:%s (has:%s)", perms, scheme, id, list);
}

static const char *c_acl_digest(void)
{
    char *p = P("/acl-digest");
    char *q = P("/acl-private");
    client_t alice, alice2, mallory;
    memset(&alice, 0, sizeof alice);
    memset(&alice2, 0, sizeof alice2);
    memset(&mallory, 0, sizeof mallory);
    const char *err = NULL;
#define STEP(x)                 \
    do {                        \
        err = (x);              \
        if (err) goto out;      \
    } while (0)
#define STEP_RC(call, want, what)                                                              \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        if (rc_ != (want)) {                                                                   \
            snprintf(errbuf, sizeof errbuf, "%s: expected %d (%s) but got %d (%s)", (what),    \
                     (want), zerror(want), rc_, zerror(rc_));                                  \
            err = errbuf;                                                                      \
            goto out;                                                                          \
        }                                                                                      \
    } while (0)
    STEP(client_connect(&alice, "alice"));
    STEP(client_connect(&alice2, "alice2"));
    STEP(client_connect(&mallory, "mallory"));
    STEP_RC(add_auth_sync(alice.zh, "digest", "alice:secret"), ZOK, "add_auth alice");
    STEP_RC(add_auth_sync(alice2.zh, "digest", "alice:secret"), ZOK, "add_auth alice2");
    STEP_RC(add_auth_sync(mallory.zh, "digest", "alice:wrong"), ZOK, "add_auth with a wrong password");

    struct ACL entries[2] = {
        {ZOO_PERM_ALL, {"digest", (char *)alice_digest_id}},
        {ZOO_PERM_READ, {"world", "anyone"}},
    };
    struct ACL_vector acl = {2, entries};
    STEP_RC(zoo_create(alice.zh, p, "private", 7, &acl, ZOO_PERSISTENT, NULL, 0), ZOK, "create with digest ACL");

    struct ACL_vector got;
    struct Stat st;
    STEP_RC(zoo_get_acl(alice.zh, p, &got, &st), ZOK, "get_acl by owner");
    err = acl_has(&got, ZOO_PERM_ALL, "digest", alice_digest_id);
    if (!err) err = acl_has(&got, ZOO_PERM_READ, "world", "anyone");
    deallocate_ACL_vector(&got);
    if (err) goto out;
    /* Without ADMIN, digest ids are masked as user:x. */
    STEP_RC(sync_path(ZH, p), ZOK, "sync before reading another session's node");
    STEP_RC(zoo_get_acl(ZH, p, &got, &st), ZOK, "get_acl without ADMIN");
    err = acl_has(&got, ZOO_PERM_ALL, "digest", "alice:x");
    deallocate_ACL_vector(&got);
    if (err) goto out;

    char buf[32];
    int len = sizeof buf;
    STEP_RC(zoo_get(ZH, p, 0, buf, &len, NULL), ZOK, "world read");
    STEP_RC(zoo_set(ZH, p, "x", 1, -1), ZNOAUTH, "unauthenticated set");
    STEP_RC(zoo_create(ZH, P("/acl-digest/c"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZNOAUTH,
            "unauthenticated create child");
    STEP_RC(zoo_set(mallory.zh, p, "x", 1, -1), ZNOAUTH, "wrong-password set");
    STEP_RC(zoo_set(alice2.zh, p, "changed", 7, -1), ZOK, "authenticated set from another session");
    STEP_RC(zoo_create(alice2.zh, P("/acl-digest/c"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
            ZOK, "authenticated create child");

    struct ACL_vector only_alice = {1, entries};
    STEP_RC(zoo_create(alice.zh, q, "q", 1, &only_alice, ZOO_PERSISTENT, NULL, 0), ZOK, "create private node");
    STEP_RC(sync_path(ZH, q), ZOK, "sync (main)");
    STEP_RC(sync_path(alice2.zh, q), ZOK, "sync (alice2)");
    len = sizeof buf;
    STEP_RC(zoo_get(ZH, q, 0, buf, &len, NULL), ZNOAUTH, "unauthenticated get of private node");
    STEP_RC(zoo_exists(ZH, q, 0, &st), ZOK, "exists needs no permission");
    len = sizeof buf;
    STEP_RC(zoo_get(alice2.zh, q, 0, buf, &len, NULL), ZOK, "authenticated get of private node");

    /* ZOO_CREATOR_ALL_ACL stores the creator's digest identity. */
    STEP_RC(zoo_create(alice.zh, P("/acl-creator"), NULL, -1, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0), ZOK,
            "create with CREATOR_ALL_ACL");
    STEP_RC(sync_path(ZH, P("/acl-creator")), ZOK, "sync (main)");
    STEP_RC(sync_path(alice2.zh, P("/acl-creator")), ZOK, "sync (alice2)");
    STEP_RC(zoo_get_acl(ZH, P("/acl-creator"), &got, &st), ZNOAUTH, "get_acl without READ or ADMIN");
    STEP_RC(zoo_get_acl(alice2.zh, P("/acl-creator"), &got, &st), ZOK, "get_acl of CREATOR_ALL_ACL node");
    err = got.count == 1 ? acl_has(&got, ZOO_PERM_ALL, "digest", alice_digest_id) : "expected exactly one ACL entry";
    deallocate_ACL_vector(&got);
out:
    client_close(&alice);
    client_close(&alice2);
    client_close(&mallory);
    return err;
#undef STEP
#undef STEP_RC
}

static const char *c_auth_failed(void)
{
    client_t c;
    memset(&c, 0, sizeof c);
    const char *err = client_connect(&c, "badscheme");
    if (!err) {
        int rc = add_auth_sync(c.zh, "no-such-scheme", "whatever");
        if (rc != ZAUTHFAILED) {
            snprintf(errbuf, sizeof errbuf, "add_auth with an unknown scheme: expected %d (%s) but got %d (%s)",
                     ZAUTHFAILED, zerror(ZAUTHFAILED), rc, zerror(rc));
            err = errbuf;
        } else {
            err = expect_state(&c.q, ZOO_AUTH_FAILED_STATE);
        }
    }
    client_close(&c);
    return err;
}

static const char *c_getconfig(void)
{
    char cfg[4096], raw[4096];
    int clen = sizeof cfg, rlen = sizeof raw;
    struct Stat cst, rst;
    OK(zoo_getconfig(ZH, 0, cfg, &clen, &cst), "zoo_getconfig");
    OK(zoo_get(ZH, "/zookeeper/config", 0, raw, &rlen, &rst), "get /zookeeper/config");
    EXPECT(clen == rlen && (clen <= 0 || memcmp(cfg, raw, clen) == 0), "getconfig (%d bytes) != get (%d bytes)",
           clen, rlen);
    return stat_eq(&cst, &rst, "getconfig vs get");
}

static const char *c_remove_watches(void)
{
    char *p = P("/rmw");
    char *marker = P("/rmw-marker");
    TRY(mk(ZH, p));
    static evq_t q;
    evq_init(&q, "rmw");
    struct Stat st;
    OK(zoo_wexists(ZH, p, watcher, &q, &st), "wexists");
    OK(zoo_remove_all_watches(ZH, p, ZWATCHTYPE_DATA, 0), "remove data watches");
    RC(zoo_wexists(ZH, marker, watcher, &q, &st), ZNONODE, "marker watch");
    OK(zoo_set(OTHER, p, "x", 1, -1), "other sets");
    OK(zoo_create(OTHER, marker, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), "marker");
    /* Up to the marker, only a removal notice may arrive, never CHANGED. */
    for (;;) {
        event_t e;
        EXPECT(evq_pop(&q, &e, WAIT_MS), "no CREATED %s within %d ms", marker, WAIT_MS);
        if (e.type == ZOO_CREATED_EVENT && strcmp(e.path, marker) == 0) {
            break;
        }
        EXPECT(e.type != ZOO_CHANGED_EVENT, "removed watch fired: %s %s", type_name(e.type), e.path);
    }
    TRY(expect_no_event(&q, "(after the marker)"));
    RC(zoo_remove_all_watches(ZH, p, ZWATCHTYPE_DATA, 0), ZNOWATCHER, "remove again");
    return NULL;
}

static const char *c_session_close(void)
{
    client_t c;
    memset(&c, 0, sizeof c);
    TRY(client_connect(&c, "closing"));
    char *p = P("/closing");
    int rc = zoo_create(c.zh, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    if (rc != ZOK) {
        client_close(&c);
        FAILF("create ephemeral: %s", zerror(rc));
    }
    clientid_t id = *zoo_client_id(c.zh);
    static evq_t q;
    evq_init(&q, "closing");
    struct Stat st;
    int synced = sync_path(ZH, p);
    EXPECT(synced == ZOK, "sync before watching another session's node: %d", synced);
    OK(zoo_wexists(ZH, p, watcher, &q, &st), "watch the ephemeral");
    rc = zookeeper_close(c.zh);
    c.zh = NULL;
    EXPECT(rc == ZOK, "zookeeper_close: %d (%s)", rc, zerror(rc));
    TRY(expect_event(&q, ZOO_DELETED_EVENT, p));
    /* The closed session cannot be resumed. */
    client_t again;
    memset(&again, 0, sizeof again);
    TRY(client_open(&again, "closed-reattach", &id));
    const char *err = expect_state(&again.q, ZOO_EXPIRED_SESSION_STATE);
    client_close(&again);
    return err;
}

static const char *self_path;

/* Helper mode (`--hold HOSTS PATH`): open a session, create PATH as its ephemeral, print
 * "<session id hex> <password hex>" and exit without closing the session (the kernel closes
 * the socket; the server keeps the session until its timeout). */
static int hold_session(const char *path)
{
    client_t c;
    memset(&c, 0, sizeof c);
    const char *err = client_connect(&c, "hold");
    if (err) {
        fprintf(stderr, "hold: %s\n", err);
        _exit(3);
    }
    int rc = zoo_create(c.zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    if (rc != ZOK) {
        fprintf(stderr, "hold: create %s: %s\n", path, zerror(rc));
        _exit(4);
    }
    const clientid_t *id = zoo_client_id(c.zh);
    printf("%" PRIx64 " ", (uint64_t)id->client_id);
    for (int i = 0; i < 16; i++) {
        printf("%02x", (unsigned char)id->passwd[i]);
    }
    printf("\n");
    fflush(stdout);
    _exit(0);
}

/* Runs this program in --hold mode; reads its session id and password. */
static const char *spawn_holder(const char *path, clientid_t *out)
{
    int fds[2];
    EXPECT(pipe(fds) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    EXPECT(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(self_path, self_path, "--hold", hosts, path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(got && WIFEXITED(status) && WEXITSTATUS(status) == 0, "helper process failed (status %d, output '%s')",
           status, line);
    uint64_t sid = 0;
    char pw[64] = "";
    EXPECT(sscanf(line, "%" SCNx64 " %32s", &sid, pw) == 2 && strlen(pw) == 32, "bad helper output '%s'", line);
    out->client_id = (int64_t)sid;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(pw + 2 * i, "%2x", &v);
        out->passwd[i] = (char)v;
    }
    return NULL;
}

static const char *c_session_reattach(void)
{
    /* A session whose client went away without closing it can be resumed with its id and
     * password; its ephemerals are still there, and closing the resumed handle removes them. */
    char *p = P("/reattach");
    clientid_t id;
    TRY(spawn_holder(p, &id));
    struct Stat st;
    OK(zoo_exists(ZH, p, 0, &st), "helper's ephemeral");
    EXPECT(st.ephemeralOwner == id.client_id, "helper's ephemeral owner 0x%" PRIx64 " != 0x%" PRIx64,
           st.ephemeralOwner, id.client_id);
    client_t b;
    memset(&b, 0, sizeof b);
    TRY(client_open(&b, "reattach", &id));
    const char *err = expect_state(&b.q, ZOO_CONNECTED_STATE);
    if (!err && zoo_client_id(b.zh)->client_id != id.client_id) {
        snprintf(errbuf, sizeof errbuf, "reattached session id 0x%" PRIx64 " != 0x%" PRIx64,
                 zoo_client_id(b.zh)->client_id, id.client_id);
        err = errbuf;
    }
    if (!err) {
        int rc = zoo_create(b.zh, P("/reattach-2"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
        if (rc != ZOK) {
            snprintf(errbuf, sizeof errbuf, "create in reattached session: %s", zerror(rc));
            err = errbuf;
        }
    }
    int rc = zoo_exists(ZH, p, 0, &st);
    if (!err && rc != ZOK) {
        snprintf(errbuf, sizeof errbuf, "ephemeral gone after reattach: %s", zerror(rc));
        err = errbuf;
    }
    client_close(&b);
    if (!err) err = wait_gone(ZH, p);
    if (!err) err = wait_gone(ZH, P("/reattach-2"));
    return err;
}

/* A wrong password for a live session: the new handle is told the session expired, and the
 * real session goes on. */
static const char *c_session_bad_password(void)
{
    char *p = P("/badpw");
    clientid_t id;
    TRY(spawn_holder(p, &id));
    id.passwd[0] ^= 0x5a;
    client_t b;
    memset(&b, 0, sizeof b);
    TRY(client_open(&b, "badpw", &id));
    const char *err = expect_state(&b.q, ZOO_EXPIRED_SESSION_STATE);
    client_close(&b);
    TRY(err);
    struct Stat st;
    OK(zoo_exists(ZH, p, 0, &st), "the held session's ephemeral");
    EXPECT(st.ephemeralOwner == id.client_id, "owner changed");
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--hold") == 0) {
        hosts = argv[2];
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        return hold_session(argv[3]);
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST:PORT DIGEST_ID_OF_alice:secret\n", argv[0]);
        return 2;
    }
    hosts = argv[1];
    alice_digest_id = argv[2];
    self_path = argv[0];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(root, sizeof root, "/csuite-%lx%lx", (long)now.tv_sec, now.tv_nsec);
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    zoo_deterministic_conn_order(1);

    check("connect", c_connect);
    if (failed) {
        printf("summary: %d ok, %d failing, stopped: no session\n", passed, failed);
        return 1;
    }
    check("create_persistent", c_create_persistent);
    check("create2_stat", c_create2);
    check("create_ephemeral", c_create_ephemeral);
    check("create_sequential", c_create_sequential);
    check("create_errors", c_create_errors);
    check("create_container_ttl", c_create_container_ttl);
    check("get_set_versions", c_get_set_versions);
    check("exists_watch", c_exists_watch);
    check("get_watch", c_get_watch);
    check("get_children2", c_get_children2);
    check("delete", c_delete);
    check("multi_success", c_multi_success);
    check("multi_failure", c_multi_failure);
    check("acl_digest", c_acl_digest);
    check("auth_failed", c_auth_failed);
    check("getconfig", c_getconfig);
    check("remove_watches", c_remove_watches);
    check("session_reattach", c_session_reattach);
    check("session_bad_password", c_session_bad_password);
    check("session_close", c_session_close);

    client_close(&other_c);
    client_close(&main_c);
    printf("summary: %d ok, %d failing\n", passed, failed);
    fflush(stdout);
    return failed == 0 ? 0 : 1;
}
