/* Reads every packet its network namespace carries, for SECONDS, looking
 * for MARKER; prints "seen" or "unseen". Built static by the network tests
 * and run as a RUN step: issue 20's red team read a registry's
 * Authorization header from a RUN step this way, with the CAP_NET_RAW a
 * step keeps, while the step shared the host's network namespace.
 * usage: sniff MARKER SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: sniff MARKER SECONDS\n");
        return 2;
    }
    const char *marker = argv[1];
    time_t end = time(NULL) + atoi(argv[2]);
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) {
        perror("socket(AF_PACKET)");
        return 2;
    }
    struct timeval wait = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    static char packet[65536];
    while (time(NULL) < end) {
        ssize_t n = recv(fd, packet, sizeof packet, 0);
        if (n > 0 && memmem(packet, n, marker, strlen(marker))) {
            puts("seen");
            return 0;
        }
    }
    puts("unseen");
    return 0;
}
