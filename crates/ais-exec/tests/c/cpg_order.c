/*
 * cpg_order: a CPG client built against Debian's libcpg, for the tests of aisexec.
 *
 *   cpg_order GROUP MEMBERS COUNT SIZE [WAIT_SECS]
 *
 * Joins GROUP, waits until it has MEMBERS processes, multicasts COUNT messages of SIZE
 * bytes (each carrying its sender's node id, pid and sequence number), then one END, and
 * receives until it has seen END from every member. It gives up waiting for the members
 * after WAIT_SECS (default 60). It checks per-sender FIFO order without
 * gaps and prints one line:
 *
 *   delivered=N senders=M hash=H fifo=ok
 *
 * where H is a hash of (nodeid, pid, seq) in delivery order: equal on every node exactly when
 * all delivered the same sequence. Exit code 0 on success, 1 on any failure (printed).
 */
#include <corosync/cpg.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x4f524452u /* "ORDR" */
#define MAX_MEMBERS 64

struct hdr {
	uint32_t magic;
	uint32_t end;
	uint32_t nodeid;
	uint32_t pid;
	uint64_t seq;
};

static unsigned members_now;
static unsigned ends;
static uint64_t delivered;
static uint64_t hash = 1469598103934665603ull;
static int failed;
static struct {
	uint32_t nodeid, pid;
	uint64_t next;
} senders[MAX_MEMBERS];
static unsigned nsenders;

static void mix(uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		hash ^= (v >> (8 * i)) & 0xff;
		hash *= 1099511628211ull;
	}
}

static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
		    void *msg, size_t len)
{
	(void)h;
	(void)g;
	struct hdr m;
	if (len < sizeof m) {
		printf("short message of %zu bytes\n", len);
		failed = 1;
		return;
	}
	memcpy(&m, msg, sizeof m);
	if (m.magic != MAGIC || m.nodeid != nodeid || m.pid != pid) {
		printf("foreign or altered message from %u/%u\n", nodeid, pid);
		failed = 1;
		return;
	}
	unsigned i;
	for (i = 0; i < nsenders; i++)
		if (senders[i].nodeid == nodeid && senders[i].pid == pid)
			break;
	if (i == nsenders) {
		if (nsenders == MAX_MEMBERS) {
			failed = 1;
			return;
		}
		senders[nsenders].nodeid = nodeid;
		senders[nsenders].pid = pid;
		senders[nsenders].next = 0;
		nsenders++;
	}
	if (m.end) {
		ends++;
		return;
	}
	if (m.seq != senders[i].next) {
		printf("fifo broken: %u/%u sent %llu, expected %llu\n", nodeid, pid,
		       (unsigned long long)m.seq, (unsigned long long)senders[i].next);
		failed = 1;
	}
	senders[i].next = m.seq + 1;
	delivered++;
	mix(nodeid);
	mix(pid);
	mix(m.seq);
}

static void confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *members,
		    size_t nmembers, const struct cpg_address *left, size_t nleft,
		    const struct cpg_address *joined, size_t njoined)
{
	(void)h;
	(void)g;
	(void)members;
	(void)left;
	(void)nleft;
	(void)joined;
	(void)njoined;
	members_now = (unsigned)nmembers;
}

static int pump(cpg_handle_t h, int timeout_ms)
{
	int fd;
	if (cpg_fd_get(h, &fd) != CS_OK)
		return -1;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r > 0 && cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK)
		return -1;
	return 0;
}

static int send_retrying(cpg_handle_t h, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	for (int tries = 0; tries < 200000; tries++) {
		cs_error_t e = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
		if (e == CS_OK)
			return 0;
		if (e != CS_ERR_TRY_AGAIN) {
			printf("cpg_mcast_joined: error %d\n", e);
			return -1;
		}
		if (pump(h, 1) < 0)
			return -1;
	}
	printf("cpg_mcast_joined: TRY_AGAIN for too long\n");
	return -1;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: cpg_order GROUP MEMBERS COUNT SIZE [WAIT_SECS]\n");
		return 2;
	}
	int wait_secs = argc == 6 ? atoi(argv[5]) : 60;
	unsigned want = (unsigned)atoi(argv[2]);
	uint64_t count = strtoull(argv[3], NULL, 10);
	size_t size = (size_t)atoi(argv[4]);
	if (size < sizeof(struct hdr))
		size = sizeof(struct hdr);
	cpg_callbacks_t cb = {.cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg};
	cpg_handle_t h;
	cs_error_t e;
	for (int tries = 0; (e = cpg_initialize(&h, &cb)) != CS_OK; tries++) {
		if (tries > 100) {
			printf("cpg_initialize: error %d\n", e);
			return 1;
		}
		usleep(100000);
	}
	struct cpg_name group;
	group.length = (uint32_t)strlen(argv[1]);
	memcpy(group.value, argv[1], group.length);
	while ((e = cpg_join(h, &group)) == CS_ERR_TRY_AGAIN)
		usleep(10000);
	if (e != CS_OK) {
		printf("cpg_join: error %d\n", e);
		return 1;
	}
	unsigned int local;
	cpg_local_get(h, &local);
	time_t deadline = time(NULL) + wait_secs;
	while (members_now < want) {
		if (pump(h, 100) < 0 || time(NULL) > deadline) {
			printf("only %u of %u members\n", members_now, want);
			return 1;
		}
	}
	char *buf = calloc(1, size);
	struct hdr m = {.magic = MAGIC, .nodeid = local, .pid = (uint32_t)getpid()};
	for (uint64_t i = 0; i < count; i++) {
		m.seq = i;
		memcpy(buf, &m, sizeof m);
		if (send_retrying(h, buf, size) < 0)
			return 1;
	}
	m.end = 1;
	memcpy(buf, &m, sizeof m);
	if (send_retrying(h, buf, sizeof m) < 0)
		return 1;
	deadline = time(NULL) + 120;
	while (ends < want) {
		if (pump(h, 100) < 0 || time(NULL) > deadline) {
			printf("only %u of %u ENDs after %llu deliveries\n", ends, want,
			       (unsigned long long)delivered);
			return 1;
		}
	}
	printf("delivered=%llu senders=%u hash=%016llx fifo=%s\n", (unsigned long long)delivered,
	       nsenders, (unsigned long long)hash, failed ? "BROKEN" : "ok");
	cpg_leave(h, &group);
	cpg_finalize(h);
	return failed;
}
