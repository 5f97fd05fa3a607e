/*
 * nodelay-shim: an LD_PRELOAD library that sets TCP_NODELAY on every TCP
 * socket a process connects. Analysis only (bench/RESULTS.md): preloaded into
 * the RivetKit server's node process it disables Nagle on the runtime's
 * WebSocket to rivet-engine (the envoy tunnel), which RivetKit 2.3.19 offers
 * no setting for; the engine side has one (RIVET__GUARD__TCP_NODELAY=true).
 *
 *   gcc -shared -fPIC -O2 -o bench/.bin/nodelay-shim.so bench/rivetkit/nodelay-shim.c -ldl
 *   BENCH_SYSTEMS=rivetkit-tuned BENCH_RK_LABEL=" +shim" \
 *       BENCH_RK_ENV="LD_PRELOAD=$PWD/bench/.bin/nodelay-shim.so" bash bench/run.sh
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
	static int (*real)(int, const struct sockaddr *, socklen_t);
	if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
		int one = 1, type = 0;
		socklen_t tl = sizeof type;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return real(fd, addr, len);
}
