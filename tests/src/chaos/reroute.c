/* An LD_PRELOAD shim that sends a process's TCP connections to chosen addresses through
 * other addresses: a user-space DNAT, for the chaos harness's dynamic ensembles
 * (tests/src/chaos/reroute.rs). A reconfig gives every member the same view of the
 * others' addresses, so the harness cannot put its link proxies in that view as it does
 * in a static ensemble; instead each member connects to the real addresses and this shim
 * turns each such connect into one to the member's own proxy for that peer.
 *
 * $ZKRS_ROUTES names the routes file (a relative path is taken from the process's
 * working directory), read at every connect: one route per line,
 *   <ipv4 address> <port> <ipv4 address> <port>
 * a connect to the first address and port goes to the second instead. IPv4-mapped IPv6
 * addresses (a JVM's sockets are IPv6 by default) are rerouted the same way. Any other
 * connect is left alone.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Looks up `ip`:`port` (network order) in the routes file; on a match, stores the route's
 * target and returns 1. */
static int route_for(struct in_addr ip, in_port_t port, struct in_addr *to_ip,
                     in_port_t *to_port) {
    const char *path = getenv("ZKRS_ROUTES");
    if (path == NULL) {
        return 0;
    }
    FILE *routes = fopen(path, "re");
    if (routes == NULL) {
        return 0;
    }
    char from_text[64];
    char target_text[64];
    unsigned from_port;
    unsigned target_port;
    int found = 0;
    while (!found && fscanf(routes, "%63s %u %63s %u", from_text, &from_port, target_text,
                            &target_port) == 4) {
        struct in_addr from;
        if (inet_pton(AF_INET, from_text, &from) == 1 && from.s_addr == ip.s_addr &&
            htons((in_port_t)from_port) == port &&
            inet_pton(AF_INET, target_text, to_ip) == 1) {
            *to_port = htons((in_port_t)target_port);
            found = 1;
        }
    }
    fclose(routes);
    return found;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static __typeof__(&connect) real_connect;
    if (real_connect == NULL) {
        real_connect = (__typeof__(&connect))dlsym(RTLD_NEXT, "connect");
    }
    int saved = errno;
    struct in_addr to_ip;
    in_port_t to_port;
    if (addr != NULL && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in v4;
        memcpy(&v4, addr, sizeof v4);
        if (route_for(v4.sin_addr, v4.sin_port, &to_ip, &to_port)) {
            v4.sin_addr = to_ip;
            v4.sin_port = to_port;
            errno = saved;
            return real_connect(fd, (const struct sockaddr *)&v4, sizeof v4);
        }
    } else if (addr != NULL && addr->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 v6;
        memcpy(&v6, addr, sizeof v6);
        if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
            struct in_addr v4;
            memcpy(&v4, &v6.sin6_addr.s6_addr[12], sizeof v4);
            if (route_for(v4, v6.sin6_port, &to_ip, &to_port)) {
                memcpy(&v6.sin6_addr.s6_addr[12], &to_ip, sizeof to_ip);
                v6.sin6_port = to_port;
                errno = saved;
                return real_connect(fd, (const struct sockaddr *)&v6, sizeof v6);
            }
        }
    }
    errno = saved;
    return real_connect(fd, addr, len);
}
