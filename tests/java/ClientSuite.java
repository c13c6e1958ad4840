// A client-compatibility suite on Apache ZooKeeper's own Java client (3.8) and its recipes.
//
// Run as `java -cp <zookeeper jars>:<classes> ClientSuite 127.0.0.1:PORT`. Every check prints
// one line, `ok <name>` or `FAIL <name>: <what went wrong>`; the exit code is 0 only if every
// check held. The same expectations hold for Apache ZooKeeper (the reference) and zkrs-server.
//
// Every wait has a deadline. A check that something did NOT happen (e.g. a one-shot watch that
// must not fire twice) uses a marker: ZooKeeper delivers a session's notifications in zxid
// order, so once the notification of a later change arrives, any notification of the earlier
// change would already have been delivered.
//
// Each check works under its own path below a root unique to the run, so checks do not
// interfere and the suite can run against a server that other tests use.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.recipes.leader.LeaderElectionAware;
import org.apache.zookeeper.recipes.leader.LeaderElectionSupport;
import org.apache.zookeeper.recipes.lock.LockListener;
import org.apache.zookeeper.recipes.lock.WriteLock;
import org.apache.zookeeper.recipes.queue.DistributedQueue;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class ClientSuite {
    /** Upper bound for anything that should happen "soon". */
    static final long WAIT_MS = 15_000;
    static final int SESSION_TIMEOUT_MS = 10_000;
    static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    static String hosts;
    static String root;
    static int passed = 0;
    static int failed = 0;
    static final List<ZooKeeper> opened = new ArrayList<>();

    // ------------------------------------------------------------------ framework

    interface Body {
        void run() throws Exception;
    }

    static void check(String name, Body body) {
        String line;
        try {
            body.run();
            line = "ok " + name;
            passed++;
        } catch (Throwable t) {
            String msg = t.getClass().getSimpleName() + ": " + t.getMessage();
            if (t instanceof AssertionError) {
                msg = t.getMessage();
            }
            line = "FAIL " + name + ": " + msg.replace('\n', ' ');
            failed++;
        }
        System.out.println(line);
        System.out.flush();
    }

    /** Sync z's server with the leader before z reads what another session wrote: in an
     * ensemble the other session may be on another member, and this one may be behind. */
    static void synced(ZooKeeper z, String path) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger rc = new AtomicInteger(Integer.MIN_VALUE);
        z.sync(path, (code, p, ctx) -> {
            rc.set(code);
            done.countDown();
        }, null);
        expect(done.await(WAIT_MS, TimeUnit.MILLISECONDS), "sync callback not called");
        eq(0, rc.get(), "sync rc");
    }

    static void expect(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError(what);
        }
    }

    static void eq(Object expected, Object actual, String what) {
        boolean same = expected == null ? actual == null : expected.equals(actual);
        if (!same) {
            throw new AssertionError(what + ": expected <" + expected + "> but got <" + actual + ">");
        }
    }

    /** Runs body and expects it to throw a KeeperException with this code. */
    static KeeperException expectError(KeeperException.Code code, String what, Body body) throws Exception {
        try {
            body.run();
        } catch (KeeperException e) {
            if (e.code() != code) {
                throw new AssertionError(what + ": expected " + code + " but got " + e.code()
                        + " (" + e.getMessage() + ")");
            }
            return e;
        }
        throw new AssertionError(what + ": expected " + code + " but the call succeeded");
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] bytes) {
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    /** Collects node events and connection-state events separately, with deadlines. */
    static class Events implements Watcher {
        final String name;
        final BlockingQueue<WatchedEvent> nodes = new LinkedBlockingQueue<>();
        final BlockingQueue<WatchedEvent> states = new LinkedBlockingQueue<>();

        Events(String name) {
            this.name = name;
        }

        @Override
        public void process(WatchedEvent e) {
            if (e.getType() == EventType.None) {
                states.add(e);
            } else {
                nodes.add(e);
            }
        }

        WatchedEvent next(String what) throws InterruptedException {
            WatchedEvent e = nodes.poll(WAIT_MS, TimeUnit.MILLISECONDS);
            if (e == null) {
                throw new AssertionError("watcher " + name + ": no event within " + WAIT_MS
                        + " ms, waiting for " + what);
            }
            return e;
        }

        /** The next node event must be exactly (type, path). */
        void expectEvent(EventType type, String path) throws InterruptedException {
            WatchedEvent e = next(type + " " + path);
            if (e.getType() != type || !path.equals(e.getPath())) {
                throw new AssertionError("watcher " + name + ": expected " + type + " " + path
                        + " but got " + e.getType() + " " + e.getPath() + " (state " + e.getState() + ")");
            }
        }

        /** No node event may be pending right now. */
        void expectNoEvent(String context) {
            WatchedEvent e = nodes.poll();
            if (e != null) {
                throw new AssertionError("watcher " + name + ": unexpected event " + e.getType() + " "
                        + e.getPath() + " " + context);
            }
        }

        void expectState(KeeperState state) throws InterruptedException {
            long deadline = System.currentTimeMillis() + WAIT_MS;
            List<KeeperState> seen = new ArrayList<>();
            while (true) {
                long left = deadline - System.currentTimeMillis();
                WatchedEvent e = left > 0 ? states.poll(left, TimeUnit.MILLISECONDS) : null;
                if (e == null) {
                    throw new AssertionError("watcher " + name + ": no " + state + " within " + WAIT_MS
                            + " ms (saw " + seen + ")");
                }
                seen.add(e.getState());
                if (e.getState() == state) {
                    return;
                }
            }
        }
    }

    static ZooKeeper connect(Events ev) throws Exception {
        ZooKeeper zk = new ZooKeeper(hosts, SESSION_TIMEOUT_MS, ev);
        opened.add(zk);
        ev.expectState(KeeperState.SyncConnected);
        return zk;
    }

    static ZooKeeper connect() throws Exception {
        return connect(new Events("default"));
    }

    static void closeQuietly(ZooKeeper zk) {
        try {
            zk.close();
        } catch (Exception e) {
            // best effort
        }
    }

    /** Creates a persistent node with no data, for setup. */
    static String mk(ZooKeeper zk, String path) throws Exception {
        return zk.create(path, new byte[0], OPEN, CreateMode.PERSISTENT);
    }

    /** Waits until path no longer exists (watch-driven, with a deadline). */
    static void waitGone(ZooKeeper zk, String path, String what) throws Exception {
        Events w = new Events("gone:" + path);
        if (zk.exists(path, w) == null) {
            return;
        }
        w.expectEvent(EventType.NodeDeleted, path);
    }

    /** Adds digest credentials and waits until the server has processed them. */
    static void addDigest(ZooKeeper zk, String userPw) throws Exception {
        zk.addAuthInfo("digest", b(userPw));
        // addAuthInfo has no reply callback; a later request is processed after it.
        zk.exists("/", false);
    }

    static String seqSuffix(String created, String prefix) {
        expect(created.startsWith(prefix), "sequential name " + created + " does not start with " + prefix);
        String suffix = created.substring(prefix.length());
        expect(suffix.matches("\\d{10}"), "sequential suffix of " + created + " is not 10 digits");
        return suffix;
    }

    /**
     * A loopback TCP proxy in front of the server that can cut every connection and refuse new
     * ones, so a client is disconnected for as long as a check needs (and then reconnects to
     * the same session).
     */
    static class Proxy {
        final ServerSocket listener;
        final String host;
        final int port;
        volatile boolean accepting = true;
        final List<Socket> live = Collections.synchronizedList(new ArrayList<>());

        Proxy(String connectString) throws IOException {
            // The proxy forwards to one server: of an ensemble's connect string, the first.
            String target = connectString.split(",")[0];
            int colon = target.lastIndexOf(':');
            host = target.substring(0, colon);
            port = Integer.parseInt(target.substring(colon + 1));
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread t = new Thread(this::acceptLoop, "proxy-accept");
            t.setDaemon(true);
            t.start();
        }

        String hosts() {
            return "127.0.0.1:" + listener.getLocalPort();
        }

        void acceptLoop() {
            while (!listener.isClosed()) {
                try {
                    Socket down = listener.accept();
                    if (!accepting) {
                        down.close();
                        continue;
                    }
                    Socket up = new Socket(host, port);
                    live.add(down);
                    live.add(up);
                    pump(down, up);
                    pump(up, down);
                } catch (IOException e) {
                    // listener closed, or the server refused: the client retries
                }
            }
        }

        void pump(Socket from, Socket to) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65536];
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                    for (int n; (n = in.read(buf)) >= 0; ) {
                        out.write(buf, 0, n);
                        out.flush();
                    }
                } catch (IOException e) {
                    // cut
                } finally {
                    closeSocket(from);
                    closeSocket(to);
                }
            }, "proxy-pump");
            t.setDaemon(true);
            t.start();
        }

        /** Closes every proxied connection and refuses new ones until restore(). */
        void cut() {
            accepting = false;
            synchronized (live) {
                for (Socket s : live) {
                    closeSocket(s);
                }
                live.clear();
            }
        }

        void restore() {
            accepting = true;
        }

        void close() {
            cut();
            try {
                listener.close();
            } catch (IOException e) {
                // ignore
            }
        }

        static void closeSocket(Socket s) {
            try {
                s.close();
            } catch (IOException e) {
                // ignore
            }
        }
    }

    // ------------------------------------------------------------------ main

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: ClientSuite HOST:PORT");
            System.exit(2);
        }
        hosts = args[0];
        root = "/javasuite-" + Long.toHexString(System.nanoTime());
        final ZooKeeper[] zkHolder = new ZooKeeper[2];
        final Events mainEvents = new Events("main");

        check("connect", () -> {
            zkHolder[1] = connect(new Events("other"));
            zkHolder[0] = connect(mainEvents);
            expect(zkHolder[0].getSessionId() != 0, "session id is 0");
            expect(zkHolder[0].getSessionPasswd().length == 16, "session password is not 16 bytes");
            int to = zkHolder[0].getSessionTimeout();
            expect(to >= 4000 && to <= SESSION_TIMEOUT_MS, "negotiated timeout " + to + " out of [4000, 10000]");
            mk(zkHolder[0], root);
        });
        if (zkHolder[0] == null || zkHolder[1] == null) {
            System.out.println("summary: " + passed + " ok, " + (failed) + " failing, stopped: no session");
            System.exit(1);
        }
        final ZooKeeper zk = zkHolder[0];
        final ZooKeeper other = zkHolder[1];

        check("create_persistent", () -> {
            String p = root + "/persistent";
            eq(p, zk.create(p, b("hello"), OPEN, CreateMode.PERSISTENT), "returned path");
            Stat st = new Stat();
            eq("hello", s(zk.getData(p, false, st)), "data");
            eq(0, st.getVersion(), "version");
            eq(0, st.getCversion(), "cversion");
            eq(0, st.getAversion(), "aversion");
            eq(0L, st.getEphemeralOwner(), "ephemeralOwner");
            eq(5, st.getDataLength(), "dataLength");
            eq(0, st.getNumChildren(), "numChildren");
            eq(st.getCzxid(), st.getMzxid(), "mzxid == czxid");
            eq(st.getCzxid(), st.getPzxid(), "pzxid == czxid");
            eq(st, zk.exists(p, false), "exists stat == getData stat");
            eq(Arrays.asList(), zk.getChildren(p, false), "children");
            // null data
            String n = root + "/persistent-null";
            zk.create(n, null, OPEN, CreateMode.PERSISTENT);
            Stat ns = new Stat();
            byte[] data = zk.getData(n, false, ns);
            expect(data == null || data.length == 0, "null data read back as " + Arrays.toString(data));
            eq(0, ns.getDataLength(), "dataLength of null data");
        });

        check("create2_stat", () -> {
            String p = root + "/create2";
            Stat st = new Stat();
            zk.create(p, b("x"), OPEN, CreateMode.PERSISTENT, st);
            expect(st.getCzxid() > 0, "create2 stat czxid " + st.getCzxid());
            eq(zk.exists(p, false), st, "create2 stat == exists stat");
        });

        check("create_persistent_sequential", () -> {
            String base = mk(zk, root + "/pseq");
            String a = zk.create(base + "/n-", b("a"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            String c = zk.create(base + "/n-", b("b"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            long sa = Long.parseLong(seqSuffix(a, base + "/n-"));
            long sc = Long.parseLong(seqSuffix(c, base + "/n-"));
            eq(0L, sa, "first suffix under a new parent");
            eq(1L, sc, "second suffix");
            // The counter is the parent's cversion: a plain child bumps it too.
            mk(zk, base + "/plain");
            String d = zk.create(base + "/", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            eq(3L, Long.parseLong(seqSuffix(d, base + "/")), "suffix after a plain child");
            eq(0L, zk.exists(a, false).getEphemeralOwner(), "persistent sequential ephemeralOwner");
        });

        check("create_ephemeral", () -> {
            String p = root + "/ephemeral";
            zk.create(p, b("e"), OPEN, CreateMode.EPHEMERAL);
            Stat st = zk.exists(p, false);
            eq(zk.getSessionId(), st.getEphemeralOwner(), "ephemeralOwner");
            expectError(KeeperException.Code.NOCHILDRENFOREPHEMERALS, "child of an ephemeral",
                    () -> zk.create(p + "/child", null, OPEN, CreateMode.PERSISTENT));
            // Visible to another session.
            eq(zk.getSessionId(), other.exists(p, false).getEphemeralOwner(), "owner seen by another session");
        });

        check("create_ephemeral_sequential", () -> {
            String base = mk(zk, root + "/eseq");
            String a = zk.create(base + "/e-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
            String c = zk.create(base + "/e-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
            eq(0L, Long.parseLong(seqSuffix(a, base + "/e-")), "first suffix");
            eq(1L, Long.parseLong(seqSuffix(c, base + "/e-")), "second suffix");
            eq(zk.getSessionId(), zk.exists(c, false).getEphemeralOwner(), "ephemeralOwner");
        });

        check("create_errors", () -> {
            String p = mk(zk, root + "/errs");
            expectError(KeeperException.Code.NODEEXISTS, "create existing",
                    () -> zk.create(p, null, OPEN, CreateMode.PERSISTENT));
            expectError(KeeperException.Code.NONODE, "create without parent",
                    () -> zk.create(p + "/missing/child", null, OPEN, CreateMode.PERSISTENT));
            expectError(KeeperException.Code.INVALIDACL, "CREATOR_ALL_ACL without auth",
                    () -> zk.create(p + "/creator", null, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
            expectError(KeeperException.Code.NONODE, "getData missing", () -> zk.getData(p + "/nope", false, null));
            expectError(KeeperException.Code.NONODE, "setData missing", () -> zk.setData(p + "/nope", null, -1));
            expectError(KeeperException.Code.NONODE, "getChildren missing", () -> zk.getChildren(p + "/nope", false));
            eq(null, zk.exists(p + "/nope", false), "exists missing");
        });

        check("create_container", () -> {
            String p = root + "/container";
            Stat st = new Stat();
            zk.create(p, b("c"), OPEN, CreateMode.CONTAINER, st);
            // The server keeps a marker owner internally but shows clients 0.
            eq(0L, st.getEphemeralOwner(), "container ephemeralOwner as seen by clients");
            eq(st, zk.exists(p, false), "create stat == exists stat");
            zk.create(p + "/child", null, OPEN, CreateMode.PERSISTENT);
            zk.delete(p + "/child", -1);
            // Once it has had a child and is empty, the server removes it (checkIntervalMs=100).
            waitGone(zk, p, "empty container");
        });

        check("create_ttl", () -> {
            String p = root + "/ttl";
            long ttl = 200;
            Stat st = new Stat();
            eq(p, zk.create(p, b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, st, ttl), "returned path");
            // The TTL is encoded in the stored ephemeralOwner, but clients are shown 0.
            eq(0L, st.getEphemeralOwner(), "TTL ephemeralOwner as seen by clients");
            eq(st, zk.exists(p, false), "create stat == exists stat");
            String base = mk(zk, root + "/ttlseq");
            String q = zk.create(base + "/t-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, null, 60_000);
            seqSuffix(q, base + "/t-");
            eq(0L, zk.exists(q, false).getEphemeralOwner(), "sequential TTL ephemeralOwner");
            // An unmodified, childless TTL node goes once its TTL has passed.
            waitGone(zk, p, "expired TTL node");
            // The long-TTL one is still there.
            expect(zk.exists(q, false) != null, "60 s TTL node vanished early");
        });

        check("get_set_versions", () -> {
            String p = root + "/versions";
            zk.create(p, b("v0"), OPEN, CreateMode.PERSISTENT);
            Stat st1 = zk.setData(p, b("v1"), 0);
            eq(1, st1.getVersion(), "version after setData");
            expect(st1.getMzxid() > st1.getCzxid(), "mzxid > czxid after setData");
            expectError(KeeperException.Code.BADVERSION, "stale version",
                    () -> zk.setData(p, b("bad"), 0));
            Stat st2 = zk.setData(p, b("v2"), -1);
            eq(2, st2.getVersion(), "version after unconditional setData");
            Stat got = new Stat();
            eq("v2", s(zk.getData(p, false, got)), "data");
            eq(st2, got, "setData stat == getData stat");
            eq(2, got.getDataLength(), "dataLength");
        });

        check("delete_versions", () -> {
            String p = root + "/del";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            zk.create(p + "/c", null, OPEN, CreateMode.PERSISTENT);
            expectError(KeeperException.Code.NOTEMPTY, "delete non-empty", () -> zk.delete(p, -1));
            expectError(KeeperException.Code.BADVERSION, "delete bad version", () -> zk.delete(p + "/c", 5));
            zk.delete(p + "/c", 0);
            expectError(KeeperException.Code.NONODE, "delete twice", () -> zk.delete(p + "/c", -1));
            Stat parent = zk.exists(p, false);
            eq(2, parent.getCversion(), "parent cversion after create+delete");
            eq(0, parent.getNumChildren(), "parent numChildren");
            zk.delete(p, 0);
            eq(null, zk.exists(p, false), "deleted");
            expectError(KeeperException.Code.BADARGUMENTS, "delete /", () -> zk.delete("/", -1));
        });

        check("set_acl_versions", () -> {
            String p = root + "/aclv";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Stat st = zk.setACL(p, OPEN, 0);
            eq(1, st.getAversion(), "aversion after setACL");
            expectError(KeeperException.Code.BADVERSION, "setACL stale aversion",
                    () -> zk.setACL(p, OPEN, 0));
            eq(2, zk.setACL(p, Ids.READ_ACL_UNSAFE, -1).getAversion(), "aversion after unconditional setACL");
            Stat got = new Stat();
            eq(Ids.READ_ACL_UNSAFE, zk.getACL(p, got), "getACL");
            eq(2, got.getAversion(), "getACL stat aversion");
            eq(0, got.getVersion(), "data version unchanged by setACL");
            expectError(KeeperException.Code.NOAUTH, "setData on read-only ACL",
                    () -> zk.setData(p, b("x"), -1));
            // The ADMIN check comes before the version check.
            expectError(KeeperException.Code.NOAUTH, "setACL without ADMIN, stale version",
                    () -> zk.setACL(p, OPEN, 0));
        });

        check("watch_get_data", () -> {
            String p = root + "/wdata";
            String marker = root + "/wdata-marker";
            zk.create(p, b("0"), OPEN, CreateMode.PERSISTENT);
            Events w = new Events("wdata");
            zk.getData(p, w, null);
            other.setData(p, b("1"), -1);
            w.expectEvent(EventType.NodeDataChanged, p);
            // One-shot: a second change is not reported.
            zk.exists(marker, w);
            other.setData(p, b("2"), -1);
            other.create(marker, null, OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeCreated, marker);
            w.expectNoEvent("(one-shot data watch fired twice)");
        });

        check("watch_exists", () -> {
            String p = root + "/wexists";
            Events w = new Events("wexists");
            eq(null, zk.exists(p, w), "exists before create");
            other.create(p, b("x"), OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeCreated, p);
            expect(zk.exists(p, w) != null, "exists after create");
            other.setData(p, b("y"), -1);
            w.expectEvent(EventType.NodeDataChanged, p);
            zk.exists(p, w);
            other.delete(p, -1);
            w.expectEvent(EventType.NodeDeleted, p);
        });

        check("watch_children", () -> {
            String p = mk(zk, root + "/wchildren");
            String marker = root + "/wchildren-marker";
            Events w = new Events("wchildren");
            eq(Collections.emptyList(), zk.getChildren(p, w), "children");
            other.create(p + "/a", null, OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeChildrenChanged, p);
            zk.getChildren(p, w);
            // Data changes of the parent or of a child do not fire a child watch.
            other.setData(p, b("d"), -1);
            other.setData(p + "/a", b("d"), -1);
            zk.exists(marker, w);
            other.create(marker, null, OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeCreated, marker);
            w.expectNoEvent("(child watch fired on a data change)");
            other.delete(p + "/a", -1);
            w.expectEvent(EventType.NodeChildrenChanged, p);
        });

        check("watch_delete_fires_all", () -> {
            String parent = mk(zk, root + "/wdel");
            String p = parent + "/n";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Events dataW = new Events("data");
            Events childW = new Events("child");
            Events parentW = new Events("parent");
            zk.getData(p, dataW, null);
            zk.getChildren(p, childW);
            zk.getChildren(parent, parentW);
            other.delete(p, -1);
            dataW.expectEvent(EventType.NodeDeleted, p);
            childW.expectEvent(EventType.NodeDeleted, p);
            parentW.expectEvent(EventType.NodeChildrenChanged, parent);
        });

        check("get_children2_stat", () -> {
            String p = mk(zk, root + "/children2");
            for (String c : new String[] {"b", "a", "c"}) {
                zk.create(p + "/" + c, null, OPEN, CreateMode.PERSISTENT);
            }
            Stat st = new Stat();
            List<String> kids = zk.getChildren(p, false, st);
            eq(new TreeSet<>(Arrays.asList("a", "b", "c")), new TreeSet<>(kids), "children");
            eq(3, kids.size(), "no duplicates");
            eq(3, st.getNumChildren(), "numChildren");
            eq(3, st.getCversion(), "cversion");
            eq(zk.exists(p + "/c", false).getCzxid(), st.getPzxid(), "pzxid = last child's czxid");
        });

        check("multi_success", () -> {
            String p = mk(zk, root + "/multi-ok");
            List<OpResult> res = zk.multi(Arrays.asList(
                    Op.create(p + "/a", b("a"), OPEN, CreateMode.PERSISTENT),
                    Op.create(p + "/s-", b("s"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                    Op.setData(p + "/a", b("a2"), 0),
                    Op.check(p + "/a", 1),
                    Op.create(p + "/gone", null, OPEN, CreateMode.PERSISTENT),
                    Op.delete(p + "/gone", 0)));
            eq(6, res.size(), "result count");
            expect(res.get(0) instanceof OpResult.CreateResult, "op0 result " + res.get(0));
            eq(p + "/a", ((OpResult.CreateResult) res.get(0)).getPath(), "op0 path");
            String seq = ((OpResult.CreateResult) res.get(1)).getPath();
            // The parent's cversion already counts op0's create.
            eq(1L, Long.parseLong(seqSuffix(seq, p + "/s-")), "op1 sequential suffix");
            expect(res.get(2) instanceof OpResult.SetDataResult, "op2 result " + res.get(2));
            eq(1, ((OpResult.SetDataResult) res.get(2)).getStat().getVersion(), "op2 version");
            expect(res.get(3) instanceof OpResult.CheckResult, "op3 result " + res.get(3));
            expect(res.get(5) instanceof OpResult.DeleteResult, "op5 result " + res.get(5));
            eq("a2", s(zk.getData(p + "/a", false, null)), "data after multi");
            eq(null, zk.exists(p + "/gone", false), "created-then-deleted node");
            // All ops of a multi share one zxid.
            eq(zk.exists(p + "/a", false).getMzxid(), zk.exists(seq, false).getCzxid(), "one zxid for the multi");
            // TTL and container creates inside a multi.
            List<OpResult> kinds = zk.multi(Arrays.asList(
                    Op.create(p + "/ttl", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, 60_000),
                    Op.create(p + "/cont", null, OPEN, CreateMode.CONTAINER),
                    Op.create(p + "/cont/e", null, OPEN, CreateMode.EPHEMERAL)));
            eq(p + "/ttl", ((OpResult.CreateResult) kinds.get(0)).getPath(), "TTL create in multi");
            Stat ttlStat = ((OpResult.CreateResult) kinds.get(0)).getStat();
            expect(ttlStat != null, "TTL create in multi returns no stat");
            eq(zk.exists(p + "/ttl", false), ttlStat, "TTL create stat in multi");
            eq(zk.getSessionId(), zk.exists(p + "/cont/e", false).getEphemeralOwner(), "ephemeral in multi");
            eq(0L, zk.exists(p + "/cont", false).getEphemeralOwner(), "container in multi");
            // Transaction API.
            List<OpResult> tres = zk.transaction().create(p + "/t", null, OPEN, CreateMode.PERSISTENT)
                    .delete(p + "/a", 1).commit();
            eq(2, tres.size(), "transaction result count");
            eq(null, zk.exists(p + "/a", false), "deleted in transaction");
        });

        check("multi_failure", () -> {
            String p = mk(zk, root + "/multi-fail");
            zk.create(p + "/exists", null, OPEN, CreateMode.PERSISTENT);
            KeeperException e = expectError(KeeperException.Code.BADVERSION, "multi with failing check",
                    () -> zk.multi(Arrays.asList(
                            Op.create(p + "/a", null, OPEN, CreateMode.PERSISTENT),
                            Op.check(p + "/exists", 7),
                            Op.create(p + "/b", null, OPEN, CreateMode.PERSISTENT))));
            List<OpResult> r = e.getResults();
            expect(r != null, "getResults() is null");
            eq(3, r.size(), "result count");
            int[] want = {0, KeeperException.Code.BADVERSION.intValue(),
                    KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()};
            for (int i = 0; i < 3; i++) {
                expect(r.get(i) instanceof OpResult.ErrorResult, "op" + i + " result " + r.get(i));
                eq(want[i], ((OpResult.ErrorResult) r.get(i)).getErr(), "op" + i + " err");
            }
            eq(null, zk.exists(p + "/a", false), "rolled-back create");
            eq(null, zk.exists(p + "/b", false), "create after the failure");
            // Failure at the first op: NodeExists, then RuntimeInconsistency.
            KeeperException e2 = expectError(KeeperException.Code.NODEEXISTS, "multi creating an existing node",
                    () -> zk.multi(Arrays.asList(
                            Op.create(p + "/exists", null, OPEN, CreateMode.PERSISTENT),
                            Op.delete(p + "/exists", -1))));
            eq(KeeperException.Code.NODEEXISTS.intValue(), ((OpResult.ErrorResult) e2.getResults().get(0)).getErr(), "first err");
            eq(KeeperException.Code.RUNTIMEINCONSISTENCY.intValue(),
                    ((OpResult.ErrorResult) e2.getResults().get(1)).getErr(), "second err");
            expect(zk.exists(p + "/exists", false) != null, "node deleted by a failed multi");
            // Errors later in the list: NoNode on delete, after two good ops (the check sees
            // the version written by the setData before it).
            KeeperException e3 = expectError(KeeperException.Code.NONODE, "multi deleting a missing node",
                    () -> zk.multi(Arrays.asList(
                            Op.setData(p + "/exists", b("x"), -1),
                            Op.check(p + "/exists", 1),
                            Op.delete(p + "/missing", -1))));
            int[] want3 = {0, 0, KeeperException.Code.NONODE.intValue()};
            for (int i = 0; i < 3; i++) {
                eq(want3[i], ((OpResult.ErrorResult) e3.getResults().get(i)).getErr(), "e3 op" + i + " err");
            }
            eq(0, zk.exists(p + "/exists", false).getVersion(), "setData of a failed multi was applied");
        });

        check("multi_read", () -> {
            String p = mk(zk, root + "/multi-read");
            zk.create(p + "/a", b("A"), OPEN, CreateMode.PERSISTENT);
            List<OpResult> r = zk.multi(Arrays.asList(
                    Op.getData(p + "/a"),
                    Op.getChildren(p),
                    Op.getData(p + "/missing")));
            eq(3, r.size(), "result count");
            expect(r.get(0) instanceof OpResult.GetDataResult, "op0 result " + r.get(0));
            eq("A", s(((OpResult.GetDataResult) r.get(0)).getData()), "op0 data");
            expect(r.get(1) instanceof OpResult.GetChildrenResult, "op1 result " + r.get(1));
            eq(Arrays.asList("a"), ((OpResult.GetChildrenResult) r.get(1)).getChildren(), "op1 children");
            expect(r.get(2) instanceof OpResult.ErrorResult, "op2 result " + r.get(2));
            eq(KeeperException.Code.NONODE.intValue(), ((OpResult.ErrorResult) r.get(2)).getErr(), "op2 err");
        });

        check("acl_digest", () -> {
            String p = root + "/acl-digest";
            String digest = DigestAuthenticationProvider.generateDigest("alice:secret");
            List<ACL> acl = Arrays.asList(
                    new ACL(ZooDefs.Perms.ALL, new Id("digest", digest)),
                    new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")));
            ZooKeeper alice = connect(new Events("alice"));
            addDigest(alice, "alice:secret");
            alice.create(p, b("private"), acl, CreateMode.PERSISTENT);
            eq(acl, alice.getACL(p, new Stat()), "getACL by the owner");
            // Without ADMIN, digest ids are masked (user:x).
            List<ACL> masked = Arrays.asList(
                    new ACL(ZooDefs.Perms.ALL, new Id("digest", "alice:x")),
                    new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")));
            synced(zk, p);
            eq(masked, zk.getACL(p, new Stat()), "getACL without ADMIN");
            // Unauthenticated: read allowed (world READ), write refused.
            eq("private", s(zk.getData(p, false, null)), "world read");
            expectError(KeeperException.Code.NOAUTH, "unauthenticated setData", () -> zk.setData(p, b("x"), -1));
            expectError(KeeperException.Code.NOAUTH, "unauthenticated create child",
                    () -> zk.create(p + "/c", null, OPEN, CreateMode.PERSISTENT));
            // Wrong password: still refused.
            ZooKeeper mallory = connect(new Events("mallory"));
            addDigest(mallory, "alice:wrong");
            expectError(KeeperException.Code.NOAUTH, "wrong password setData", () -> mallory.setData(p, b("x"), -1));
            // Right credentials in another session: allowed.
            ZooKeeper alice2 = connect(new Events("alice2"));
            addDigest(alice2, "alice:secret");
            eq(1, alice2.setData(p, b("changed"), -1).getVersion(), "authenticated setData");
            alice2.create(p + "/c", null, OPEN, CreateMode.PERSISTENT);
            // A node readable only by alice.
            String q = root + "/acl-private";
            alice.create(q, b("q"), Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", digest))),
                    CreateMode.PERSISTENT);
            synced(zk, q);
            synced(alice2, q);
            expectError(KeeperException.Code.NOAUTH, "unauthenticated getData", () -> zk.getData(q, false, null));
            expect(zk.exists(q, false) != null, "exists needs no permission");
            eq("q", s(alice2.getData(q, false, null)), "authenticated getData");
            closeQuietly(alice);
            closeQuietly(alice2);
            closeQuietly(mallory);
        });

        check("acl_auth_scheme", () -> {
            String p = root + "/acl-creator";
            ZooKeeper bob = connect(new Events("bob"));
            addDigest(bob, "bob:pw");
            bob.create(p, b("b"), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            synced(zk, p);
            expectError(KeeperException.Code.NOAUTH, "getACL without READ or ADMIN",
                    () -> zk.getACL(p, new Stat()));
            List<ACL> got = bob.getACL(p, new Stat());
            eq(1, got.size(), "ACL entries");
            eq("digest", got.get(0).getId().getScheme(), "scheme");
            eq(DigestAuthenticationProvider.generateDigest("bob:pw"), got.get(0).getId().getId(), "id");
            eq(ZooDefs.Perms.ALL, got.get(0).getPerms(), "perms");
            expectError(KeeperException.Code.NOAUTH, "other session read", () -> zk.getData(p, false, null));
            eq("b", s(bob.getData(p, false, null)), "creator read");
            closeQuietly(bob);
        });

        check("get_config", () -> {
            Stat st = new Stat();
            byte[] cfg = zk.getConfig(false, st);
            Stat st2 = new Stat();
            byte[] raw = zk.getData(ZooDefs.CONFIG_NODE, false, st2);
            eq(s(raw), s(cfg), "getConfig == getData(/zookeeper/config)");
            eq(st2, st, "getConfig stat == getData stat");
        });

        check("who_am_i", () -> {
            ZooKeeper carol = connect(new Events("carol"));
            List<ClientInfo> before = carol.whoAmI();
            eq(1, before.size(), "identities before auth (" + before + ")");
            eq("ip", before.get(0).getAuthScheme(), "scheme before auth");
            eq("127.0.0.1", before.get(0).getUser(), "ip identity");
            addDigest(carol, "carol:pw");
            Set<String> after = new HashSet<>();
            for (ClientInfo ci : carol.whoAmI()) {
                after.add(ci.getAuthScheme() + ":" + ci.getUser());
            }
            eq(new HashSet<>(Arrays.asList("ip:127.0.0.1", "digest:carol")), after, "identities after auth");
            closeQuietly(carol);
        });

        check("add_watch_persistent_recursive", () -> {
            String p = mk(zk, root + "/rec");
            Events w = new Events("recursive");
            zk.addWatch(p, w, AddWatchMode.PERSISTENT_RECURSIVE);
            other.create(p + "/a", b("1"), OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeCreated, p + "/a");
            other.create(p + "/a/b", null, OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeCreated, p + "/a/b");
            other.setData(p + "/a/b", b("2"), -1);
            w.expectEvent(EventType.NodeDataChanged, p + "/a/b");
            other.setData(p + "/a/b", b("3"), -1); // still armed
            w.expectEvent(EventType.NodeDataChanged, p + "/a/b");
            other.delete(p + "/a/b", -1);
            w.expectEvent(EventType.NodeDeleted, p + "/a/b");
            other.setData(p, b("root"), -1);
            w.expectEvent(EventType.NodeDataChanged, p);
            // No NodeChildrenChanged in recursive mode: the next event is the marker.
            other.create(p + "/marker", null, OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeCreated, p + "/marker");
            w.expectNoEvent("(after the marker)");
            zk.removeWatches(p, w, Watcher.WatcherType.Any, false);
        });

        check("add_watch_persistent", () -> {
            String p = mk(zk, root + "/pers");
            Events w = new Events("persistent");
            zk.addWatch(p, w, AddWatchMode.PERSISTENT);
            other.setData(p, b("1"), -1);
            w.expectEvent(EventType.NodeDataChanged, p);
            other.setData(p, b("2"), -1);
            w.expectEvent(EventType.NodeDataChanged, p);
            other.create(p + "/c", null, OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeChildrenChanged, p);
            other.create(p + "/c/g", null, OPEN, CreateMode.PERSISTENT); // grandchild: not reported
            other.setData(p, b("3"), -1);
            w.expectEvent(EventType.NodeDataChanged, p);
            zk.removeWatches(p, w, Watcher.WatcherType.Any, false);
            w.expectEvent(EventType.PersistentWatchRemoved, p);
        });

        check("remove_watches", () -> {
            String p = root + "/rmw";
            String marker = root + "/rmw-marker";
            zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            Events w = new Events("removed");
            Events keep = new Events("kept");
            zk.getData(p, w, null);
            zk.getData(p, keep, null);
            zk.removeWatches(p, w, Watcher.WatcherType.Data, false);
            w.expectEvent(EventType.DataWatchRemoved, p);
            zk.exists(marker, w);
            other.setData(p, b("x"), -1);
            keep.expectEvent(EventType.NodeDataChanged, p);
            other.create(marker, null, OPEN, CreateMode.PERSISTENT);
            w.expectEvent(EventType.NodeCreated, marker);
            w.expectNoEvent("(removed watch fired)");
            // Removing a watcher that is not registered.
            expectError(KeeperException.Code.NOWATCHER, "remove unknown watcher",
                    () -> zk.removeWatches(p, w, Watcher.WatcherType.Data, false));
            // removeAllWatches: child and data watches of every watcher on the path.
            Events c1 = new Events("c1");
            Events d1 = new Events("d1");
            zk.getChildren(p, c1);
            zk.getData(p, d1, null);
            zk.removeAllWatches(p, Watcher.WatcherType.Any, false);
            c1.expectEvent(EventType.ChildWatchRemoved, p);
            d1.expectEvent(EventType.DataWatchRemoved, p);
            expectError(KeeperException.Code.NOWATCHER, "removeAllWatches with none left",
                    () -> zk.removeAllWatches(p, Watcher.WatcherType.Any, false));
        });

        check("get_ephemerals", () -> {
            String base = mk(zk, root + "/ephs");
            ZooKeeper owner = connect(new Events("owner"));
            owner.create(base + "/e1", null, OPEN, CreateMode.EPHEMERAL);
            owner.create(base + "/e2", null, OPEN, CreateMode.EPHEMERAL);
            mk(owner, base + "/sub");
            owner.create(base + "/sub/e3", null, OPEN, CreateMode.EPHEMERAL);
            String other1 = root + "/ephs-outside";
            owner.create(other1, null, OPEN, CreateMode.EPHEMERAL);
            zk.create(base + "/not-mine", null, OPEN, CreateMode.EPHEMERAL);
            // The prefix is a string prefix, not a path: ".../ephs" matches ".../ephs-outside".
            eq(new TreeSet<>(Arrays.asList(base + "/e1", base + "/e2", base + "/sub/e3", other1)),
                    new TreeSet<>(owner.getEphemerals(base)), "getEphemerals(prefix)");
            eq(new TreeSet<>(Arrays.asList(base + "/e1", base + "/e2", base + "/sub/e3", other1)),
                    new TreeSet<>(owner.getEphemerals()), "getEphemerals()");
            eq(new TreeSet<>(Arrays.asList(base + "/sub/e3")), new TreeSet<>(owner.getEphemerals(base + "/sub")),
                    "getEphemerals(sub)");
            closeQuietly(owner);
            waitGone(zk, base + "/e1", "ephemeral of a closed session");
            eq(null, zk.exists(base + "/e2", false), "e2 after close");
            eq(null, zk.exists(other1, false), "outside ephemeral after close");
        });

        check("get_all_children_number", () -> {
            String p = mk(zk, root + "/count");
            mk(zk, p + "/a");
            mk(zk, p + "/b");
            mk(zk, p + "/a/x");
            mk(zk, p + "/a/y");
            mk(zk, p + "/a/y/z");
            eq(5, zk.getAllChildrenNumber(p), "descendants of " + p);
            eq(0, zk.getAllChildrenNumber(p + "/b"), "descendants of a leaf");
            expectError(KeeperException.Code.NONODE, "missing", () -> zk.getAllChildrenNumber(p + "/nope"));
        });

        check("sync", () -> {
            String p = mk(zk, root + "/sync");
            CountDownLatch done = new CountDownLatch(1);
            AtomicInteger rc = new AtomicInteger(Integer.MIN_VALUE);
            AtomicReference<String> rpath = new AtomicReference<>();
            other.setData(p, b("after"), -1);
            zk.sync(p, (code, path, ctx) -> {
                rc.set(code);
                rpath.set(path);
                done.countDown();
            }, null);
            expect(done.await(WAIT_MS, TimeUnit.MILLISECONDS), "sync callback not called");
            eq(0, rc.get(), "sync rc");
            eq(p, rpath.get(), "sync path");
            eq("after", s(zk.getData(p, false, null)), "read after sync");
        });

        check("session_reattach", () -> {
            String p = root + "/reattach";
            Events ev1 = new Events("first");
            ZooKeeper first = connect(ev1);
            first.create(p, b("eph"), OPEN, CreateMode.EPHEMERAL);
            long sid = first.getSessionId();
            byte[] pw = first.getSessionPasswd();
            // Drop the connection without closing the session.
            first.getTestable().injectSessionExpiration();
            Events ev2 = new Events("second");
            ZooKeeper second = new ZooKeeper(hosts, SESSION_TIMEOUT_MS, ev2, sid, pw);
            opened.add(second);
            ev2.expectState(KeeperState.SyncConnected);
            eq(sid, second.getSessionId(), "reattached session id");
            Stat st = other.exists(p, false);
            expect(st != null, "ephemeral gone after reattach");
            eq(sid, st.getEphemeralOwner(), "ephemeral owner");
            eq(Arrays.asList(p), second.getEphemerals(p), "getEphemerals in reattached session");
            second.create(p + "-2", null, OPEN, CreateMode.EPHEMERAL);
            Events gone = new Events("gone");
            other.exists(p, gone);
            second.close();
            gone.expectEvent(EventType.NodeDeleted, p);
            eq(null, other.exists(p + "-2", false), "second ephemeral after close");
        });

        check("session_bad_password", () -> {
            byte[] wrong = new byte[16];
            Arrays.fill(wrong, (byte) 7);
            Events victimEv = new Events("victim");
            ZooKeeper victim = connect(victimEv);
            String p = root + "/badpw";
            victim.create(p, null, OPEN, CreateMode.EPHEMERAL);
            Events ev = new Events("badpw");
            ZooKeeper bad = new ZooKeeper(hosts, SESSION_TIMEOUT_MS, ev, victim.getSessionId(), wrong);
            opened.add(bad);
            ev.expectState(KeeperState.Expired);
            // The real session survives. (Apache drops the victim's connection when another
            // connection claims its session id, even with a wrong password; the client then
            // reconnects to the same session. A server that keeps the connection is fine too.)
            Stat st;
            try {
                st = victim.exists(p, false);
            } catch (KeeperException.ConnectionLossException e) {
                victimEv.expectState(KeeperState.SyncConnected);
                st = victim.exists(p, false);
            }
            expect(st != null, "victim's ephemeral is gone");
            eq(victim.getSessionId(), st.getEphemeralOwner(), "victim's ephemeral owner");
            for (WatchedEvent e; (e = victimEv.states.poll()) != null; ) {
                expect(e.getState() != KeeperState.Expired, "victim session expired");
            }
            closeQuietly(bad);
            closeQuietly(victim);
        });

        check("session_unknown_id", () -> {
            Events ev = new Events("unknown");
            ZooKeeper bad = new ZooKeeper(hosts, SESSION_TIMEOUT_MS, ev, 0x7a7a7a7a7a7aL, new byte[16]);
            opened.add(bad);
            ev.expectState(KeeperState.Expired);
            closeQuietly(bad);
        });

        check("chroot", () -> {
            String base = mk(zk, root + "/chroot");
            Events w = new Events("chroot");
            ZooKeeper ch = new ZooKeeper(hosts + base, SESSION_TIMEOUT_MS, w);
            opened.add(ch);
            w.expectState(KeeperState.SyncConnected);
            eq("/x", ch.create("/x", b("in"), OPEN, CreateMode.PERSISTENT), "path in chroot");
            eq("in", s(zk.getData(base + "/x", false, null)), "seen outside");
            ch.exists("/x", w);
            zk.setData(base + "/x", b("out"), -1);
            w.expectEvent(EventType.NodeDataChanged, "/x");
            String seq = ch.create("/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            seqSuffix(seq, "/s-");
            closeQuietly(ch);
        });

        check("set_watches_after_reconnect", () -> {
            // Watches set before a disconnection are re-registered on reconnect (SetWatches
            // with the last zxid the client saw); changes made while the client was away fire
            // them at once. The session and its ephemerals survive.
            String base = mk(zk, root + "/setwatches");
            String data = base + "/data";
            String gone = base + "/gone";
            String missing = base + "/missing";
            String kids = base + "/kids";
            String pers = base + "/persistent";
            String quiet = base + "/quiet";
            for (String path : new String[] {data, gone, kids, pers, quiet}) {
                mk(zk, path);
            }
            Proxy proxy = new Proxy(hosts);
            try {
                Events ev = new Events("proxied");
                ZooKeeper zp = new ZooKeeper(proxy.hosts(), SESSION_TIMEOUT_MS, ev);
                opened.add(zp);
                ev.expectState(KeeperState.SyncConnected);
                long sid = zp.getSessionId();
                zp.create(base + "/eph", null, OPEN, CreateMode.EPHEMERAL);
                Events w = new Events("rewatched");
                zp.getData(data, w, null);
                zp.getData(gone, w, null);
                expect(zp.exists(missing, w) == null, "missing exists");
                zp.getChildren(kids, w);
                zp.addWatch(pers, w, AddWatchMode.PERSISTENT);
                zp.getData(quiet, w, null); // unchanged: stays armed, no event
                proxy.cut();
                ev.expectState(KeeperState.Disconnected);
                other.setData(data, b("changed"), -1);
                other.delete(gone, -1);
                other.create(missing, null, OPEN, CreateMode.PERSISTENT);
                other.create(kids + "/k", null, OPEN, CreateMode.PERSISTENT);
                other.setData(pers, b("missed"), -1); // a persistent watch does not replay
                proxy.restore();
                ev.expectState(KeeperState.SyncConnected);
                eq(sid, zp.getSessionId(), "session id after reconnect");
                Set<String> got = new HashSet<>();
                for (int i = 0; i < 4; i++) {
                    WatchedEvent e = w.next("replayed events (got " + got + ")");
                    got.add(e.getType() + " " + e.getPath());
                }
                eq(new HashSet<>(Arrays.asList(
                        "NodeDataChanged " + data,
                        "NodeDeleted " + gone,
                        "NodeCreated " + missing,
                        "NodeChildrenChanged " + kids)), got, "events for changes made while disconnected");
                // The persistent and the untouched one-shot watch are armed again.
                other.setData(pers, b("after"), -1);
                w.expectEvent(EventType.NodeDataChanged, pers);
                other.setData(quiet, b("after"), -1);
                w.expectEvent(EventType.NodeDataChanged, quiet);
                w.expectNoEvent("(after the re-armed watches)");
                Stat eph = other.exists(base + "/eph", false);
                expect(eph != null, "ephemeral gone after reconnect");
                eq(sid, eph.getEphemeralOwner(), "ephemeral owner after reconnect");
                zp.close();
            } finally {
                proxy.close();
            }
        });

        check("large_data", () -> {
            String p = root + "/large";
            byte[] big = new byte[1_000_000];
            for (int i = 0; i < big.length; i++) {
                big[i] = (byte) (i * 31 + 7);
            }
            zk.create(p, big, OPEN, CreateMode.PERSISTENT);
            Stat st = new Stat();
            synced(other, p);
            byte[] back = other.getData(p, false, st);
            eq(big.length, st.getDataLength(), "dataLength");
            expect(Arrays.equals(big, back), "1 MB data read back differs");
        });

        check("zookeeper_subtree", () -> {
            expect(zk.getChildren("/", false).contains("zookeeper"), "/ has no zookeeper child");
            eq(new TreeSet<>(Arrays.asList("config", "quota")), new TreeSet<>(zk.getChildren("/zookeeper", false)),
                    "children of /zookeeper");
            expect(zk.exists("/zookeeper/quota", false) != null, "/zookeeper/quota");
            // Apache lets clients create (and delete) their own nodes under /zookeeper.
            String mine = "/zookeeper" + root;
            eq(mine, zk.create(mine, null, OPEN, CreateMode.PERSISTENT), "create under /zookeeper");
            zk.delete(mine, -1);
        });

        check("stat_times", () -> {
            String p = root + "/times";
            long before = System.currentTimeMillis();
            zk.create(p, b("t"), OPEN, CreateMode.PERSISTENT);
            Stat st = zk.exists(p, false);
            expect(Math.abs(st.getCtime() - before) < 60_000, "ctime " + st.getCtime() + " vs now " + before);
            eq(st.getCtime(), st.getMtime(), "mtime == ctime at create");
            Stat st2 = zk.setData(p, b("u"), -1);
            eq(st.getCtime(), st2.getCtime(), "ctime after setData");
            expect(st2.getMtime() >= st.getMtime(), "mtime went back");
        });

        check("recipe_write_lock", () -> {
            String dir = root + "/lock";
            ZooKeeper z1 = connect(new Events("lock1"));
            ZooKeeper z2 = connect(new Events("lock2"));
            WriteLock l1 = new WriteLock(z1, dir, OPEN);
            CountDownLatch acquired2 = new CountDownLatch(1);
            WriteLock l2 = new WriteLock(z2, dir, OPEN, new LockListener() {
                public void lockAcquired() {
                    acquired2.countDown();
                }

                public void lockReleased() {
                }
            });
            expect(l1.lock(), "first lock() did not acquire");
            expect(l1.isOwner(), "first is not owner");
            expect(!l2.lock(), "second lock() acquired while held");
            expect(!l2.isOwner(), "second is owner while first holds");
            eq(2, zk.getChildren(dir, false).size(), "lock contenders");
            l1.unlock();
            expect(acquired2.await(WAIT_MS, TimeUnit.MILLISECONDS), "second never acquired after unlock");
            expect(l2.isOwner(), "second is not owner after acquiring");
            l2.unlock();
            eq(0, zk.getChildren(dir, false).size(), "lock nodes left");
            closeQuietly(z1);
            closeQuietly(z2);
        });

        check("recipe_queue", () -> {
            String dir = mk(zk, root + "/queue");
            DistributedQueue producer = new DistributedQueue(other, dir, OPEN);
            DistributedQueue consumer = new DistributedQueue(zk, dir, OPEN);
            eq(null, consumer.poll(), "poll on empty queue");
            for (String item : new String[] {"one", "two", "three"}) {
                expect(producer.offer(b(item)), "offer " + item);
            }
            eq("one", s(consumer.peek()), "peek");
            eq("one", s(consumer.take()), "take 1");
            eq("two", s(consumer.remove()), "remove 2");
            eq("three", s(consumer.poll()), "poll 3");
            eq(null, consumer.poll(), "poll after draining");
            // take() blocks until an item arrives (driven by a child watch).
            AtomicReference<Object> got = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    got.set(s(consumer.take()));
                } catch (Exception e) {
                    got.set(e);
                }
            });
            t.setDaemon(true);
            t.start();
            producer.offer(b("late"));
            t.join(WAIT_MS);
            eq("late", got.get(), "blocking take");
        });

        check("recipe_leader_election", () -> {
            String dir = mk(zk, root + "/election");
            ZooKeeper z1 = connect(new Events("cand1"));
            ZooKeeper z2 = connect(new Events("cand2"));
            BlockingQueue<String> events = new LinkedBlockingQueue<>();
            LeaderElectionSupport e1 = new LeaderElectionSupport();
            e1.setZooKeeper(z1);
            e1.setRootNodeName(dir);
            e1.setHostName("host1");
            e1.addListener(ev -> events.add("host1 " + ev));
            LeaderElectionSupport e2 = new LeaderElectionSupport();
            e2.setZooKeeper(z2);
            e2.setRootNodeName(dir);
            e2.setHostName("host2");
            e2.addListener(ev -> events.add("host2 " + ev));
            e1.start();
            waitFor(events, "host1 ELECTED_COMPLETE");
            e2.start();
            waitFor(events, "host2 READY_COMPLETE");
            eq("host1", e2.getLeaderHostName(), "leader seen by host2");
            e1.stop();
            waitFor(events, "host2 ELECTED_COMPLETE");
            eq("host2", e2.getLeaderHostName(), "leader after host1 stopped");
            e2.stop();
            closeQuietly(z1);
            closeQuietly(z2);
        });

        check("close_session", () -> {
            Events ev = new Events("closing");
            ZooKeeper c = connect(ev);
            String p = root + "/closing";
            c.create(p, null, OPEN, CreateMode.EPHEMERAL);
            Events w = new Events("watch-closing");
            // Another session's create: in an ensemble zk's member may not have applied it
            // yet (ZooKeeper orders one session's view, not two), so catch up first.
            synced(zk, p);
            zk.exists(p, w);
            c.close();
            w.expectEvent(EventType.NodeDeleted, p);
            // A new session may not take the closed one over.
            Events ev2 = new Events("closed-reattach");
            ZooKeeper again = new ZooKeeper(hosts, SESSION_TIMEOUT_MS, ev2, c.getSessionId(), c.getSessionPasswd());
            opened.add(again);
            ev2.expectState(KeeperState.Expired);
        });

        for (ZooKeeper z : opened) {
            if (z != zk) {
                closeQuietly(z);
            }
        }
        closeQuietly(zk);
        System.out.println("summary: " + passed + " ok, " + failed + " failing");
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }

    static void waitFor(BlockingQueue<String> events, String want) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        List<String> seen = new ArrayList<>();
        while (true) {
            long left = deadline - System.currentTimeMillis();
            String e = left > 0 ? events.poll(left, TimeUnit.MILLISECONDS) : null;
            if (e == null) {
                throw new AssertionError("no '" + want + "' within " + WAIT_MS + " ms; saw " + seen);
            }
            seen.add(e);
            if (e.equals(want)) {
                return;
            }
        }
    }
}
