/* A TCP relay that does nothing but copy: for scripts/measure-hop-cost.sh.
 * Usage: relay UPSTREAM_PORT. Listens on a free loopback port and prints it, then serves one
 * connection at a time: connects to 127.0.0.1:UPSTREAM_PORT and copies bytes both ways with
 * poll, read and write. The cost of a hop through a process, and nothing else. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s UPSTREAM_PORT\n", argv[0]); return 2; }
  int one = 1;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 16) || getsockname(ls, (void *)&a, &len)) {
    perror("listen");
    return 1;
  }
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  struct sockaddr_in up = a;
  up.sin_port = htons(atoi(argv[1]));
  for (;;) {
    int c = accept(ls, 0, 0);
    int u = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(u, (void *)&up, sizeof up)) { perror("connect"); return 1; }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct pollfd p[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
    static char buf[65536];
    for (int open = 1; open && poll(p, 2, -1) > 0;) {
      for (int i = 0; i < 2 && open; i++) {
        if (!p[i].revents) continue;
        ssize_t n = read(p[i].fd, buf, sizeof buf);
        if (n <= 0 || write(p[1 - i].fd, buf, n) != n) open = 0;
      }
    }
    close(c);
    close(u);
  }
}
