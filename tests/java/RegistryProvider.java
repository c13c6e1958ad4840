// A provider as the course writes one: it connects with the Apache ZooKeeper Java client,
// registers its address as an ephemeral sequential znode under /registry/<service>/, prints
// the path, and stays registered until its stdin closes or it is killed.
//
// usage: java RegistryProvider CONNECT_STRING SERVICE ADDRESS SESSION_TIMEOUT_MS

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public class RegistryProvider {
    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String service = args[1];
        String address = args[2];
        int sessionTimeout = Integer.parseInt(args[3]);
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connect, sessionTimeout, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        connected.await();
        String dir = "/registry/" + service;
        for (String node : new String[] {"/registry", dir}) {
            try {
                zk.create(node, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // Another provider made it first.
            }
        }
        String path = zk.create(dir + "/provider", address.getBytes(StandardCharsets.UTF_8),
                ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
        System.out.println("registered " + path);
        System.out.flush();
        while (System.in.read() != -1) {
            // Serving until told to stop.
        }
        zk.close();
    }
}
