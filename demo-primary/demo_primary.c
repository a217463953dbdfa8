/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Memscope demo primary: a real DPDK primary process driven by line commands
 * on stdin. Each command gets exactly one JSON line on stdout. EAL logs go to
 * stderr so they never corrupt the reply channel.
 *
 * The primary keeps every handle it creates (rte_malloc pointers, memzones,
 * mempools and the objects taken from them, external heaps), so tests can
 * build a known picture of memory and check Memscope against it.
 */
#define _GNU_SOURCE
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_memzone.h>
#include <rte_version.h>
#include <rte_eal_memconfig.h>
#include <rte_trace.h>

#define MAX_WORDS 16
#define LINE_MAX_LEN 65536
#define CHURN_RING 64
#define TWO_MB ((size_t)2 << 20)
/* HEAP_NAME_MAX lives in EAL's private malloc_heap.h. */
#define HEAP_NAME_MAX 32

/* ---------- reply buffer ---------- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static struct sbuf out;

static void sb_reserve(struct sbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (s == NULL) {
		fprintf(stderr, "demo-primary: out of memory for a reply\n");
		abort();
	}
	b->s = s;
	b->cap = cap;
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Appends s as a JSON string literal. */
static void sb_json_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': sb_printf(b, "\\\""); break;
		case '\\': sb_printf(b, "\\\\"); break;
		case '\n': sb_printf(b, "\\n"); break;
		case '\r': sb_printf(b, "\\r"); break;
		case '\t': sb_printf(b, "\\t"); break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				sb_printf(b, "\\u%04x", *p);
			else
				sb_printf(b, "%c", *p);
		}
	}
	sb_printf(b, "\"");
}

static void sb_ptr(struct sbuf *b, const void *p)
{
	sb_printf(b, "\"0x%" PRIxPTR "\"", (uintptr_t)p);
}

/* Replies are built in `out`; a handler that fails calls fail() instead. */
static bool failed;

__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out.len = 0;
	sb_printf(&out, "{\"ok\":false,\"error\":");
	sb_json_str(&out, msg);
	sb_printf(&out, "}");
	failed = true;
	return -1;
}

/* ---------- argument parsing ---------- */

static bool parse_u64(const char *s, uint64_t *v)
{
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		return false;
	*v = x;
	return true;
}

static bool parse_size(const char *what, const char *s, uint64_t max, uint64_t *v)
{
	if (!parse_u64(s, v) || *v > max) {
		fail("%s must be a number between 0 and %" PRIu64 ", got '%s'.", what, max, s ? s : "");
		return false;
	}
	return true;
}

static bool parse_ptr(const char *s, void **p)
{
	uint64_t v;
	if (s == NULL || strncmp(s, "0x", 2) != 0 || !parse_u64(s, &v) || v == 0) {
		fail("'%s' is not an address; give it as 0x followed by hex digits.", s ? s : "");
		return false;
	}
	*p = (void *)(uintptr_t)v;
	return true;
}

/* A socket argument: a number, "any" (SOCKET_ID_ANY) or heap:<name>. */
static bool parse_socket(const char *s, int *socket)
{
	if (s == NULL || strcmp(s, "any") == 0 || strcmp(s, "-1") == 0) {
		*socket = SOCKET_ID_ANY;
		return true;
	}
	if (strncmp(s, "heap:", 5) == 0) {
		int id = rte_malloc_heap_get_socket(s + 5);
		if (id < 0) {
			fail("There is no malloc heap named '%s' (%s).", s + 5, rte_strerror(rte_errno));
			return false;
		}
		*socket = id;
		return true;
	}
	uint64_t v;
	if (!parse_u64(s, &v) || v > INT_MAX) {
		fail("Socket must be a number, 'any' or heap:<name>, got '%s'.", s);
		return false;
	}
	*socket = (int)v;
	return true;
}

/* ---------- tables of what this primary holds ---------- */

struct alloc {
	void *ptr;
	size_t size;
};

static struct alloc *allocs;
static size_t n_allocs, cap_allocs;

static int allocs_push(void *p, size_t size)
{
	if (n_allocs == cap_allocs) {
		size_t cap = cap_allocs ? cap_allocs * 2 : 1024;
		struct alloc *a = realloc(allocs, cap * sizeof(*a));
		if (a == NULL)
			return -1;
		allocs = a;
		cap_allocs = cap;
	}
	allocs[n_allocs].ptr = p;
	allocs[n_allocs].size = size;
	n_allocs++;
	return 0;
}

/* Most recent first: tests usually free what they just made. */
static ssize_t allocs_find(const void *p)
{
	for (size_t i = n_allocs; i-- > 0;)
		if (allocs[i].ptr == p)
			return (ssize_t)i;
	return -1;
}

static void allocs_remove_at(size_t i)
{
	allocs[i] = allocs[--n_allocs];
}

/* Allocates and records; on failure frees nothing and returns NULL. */
static void *tracked_malloc(const char *type, size_t size, unsigned align, int socket)
{
	void *p = rte_malloc_socket(type, size, align, socket);
	if (p == NULL)
		return NULL;
	if (allocs_push(p, size) != 0) {
		rte_free(p);
		return NULL;
	}
	return p;
}

struct pool {
	struct rte_mempool *mp;
	void **held;
	size_t n_held, cap_held;
};

static struct pool *pools;
static size_t n_pools, cap_pools;

static struct pool *pool_find(const char *name)
{
	for (size_t i = 0; i < n_pools; i++)
		if (strcmp(pools[i].mp->name, name) == 0)
			return &pools[i];
	return NULL;
}

static const struct rte_memzone **zones;
static size_t n_zones, cap_zones;

struct ext_heap {
	char name[HEAP_NAME_MAX];
	void *va;
	size_t len;
	size_t page_sz;
	int fd;
	bool hugetlbfs;
};

static struct ext_heap *exts;
static size_t n_exts, cap_exts;

static struct ext_heap *ext_find(const char *name)
{
	for (size_t i = 0; i < n_exts; i++)
		if (strcmp(exts[i].name, name) == 0)
			return &exts[i];
	return NULL;
}

static bool grow_array(void **arr, size_t *cap, size_t n, size_t elt)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 8;
	void *a = realloc(*arr, c * elt);
	if (a == NULL)
		return false;
	*arr = a;
	*cap = c;
	return true;
}

static char prefix[256] = "rte";

/* ---------- commands ---------- */

static int cmd_ping(int argc, char **argv)
{
	(void)argc; (void)argv;
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

static int cmd_malloc(int argc, char **argv)
{
	if (argc < 3 || argc > 5)
		return fail("Usage: malloc <type> <size> [align] [socket|heap:<name>].");
	uint64_t size, align = 0;
	int socket;
	if (!parse_size("size", argv[2], SIZE_MAX / 2, &size))
		return -1;
	if (argc > 3 && !parse_size("align", argv[3], 1u << 30, &align))
		return -1;
	if (align != 0 && (align & (align - 1)) != 0)
		return fail("Alignment must be 0 or a power of two, got %" PRIu64 ".", align);
	if (!parse_socket(argc > 4 ? argv[4] : NULL, &socket))
		return -1;
	void *p = tracked_malloc(argv[1], size, (unsigned)align, socket);
	if (p == NULL)
		return fail("rte_malloc_socket of %" PRIu64 " bytes on socket %d failed (%s).",
			    size, socket, rte_strerror(rte_errno));
	sb_printf(&out, "{\"ok\":true,\"ptr\":");
	sb_ptr(&out, p);
	sb_printf(&out, ",\"size\":%" PRIu64 "}", size);
	return 0;
}

static int cmd_free(int argc, char **argv)
{
	void *p;
	if (argc != 2)
		return fail("Usage: free <ptr>.");
	if (!parse_ptr(argv[1], &p))
		return -1;
	ssize_t i = allocs_find(p);
	if (i < 0)
		return fail("%s is not a pointer this primary allocated (or it was freed).", argv[1]);
	rte_free(p);
	allocs_remove_at((size_t)i);
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

static int cmd_fill(int argc, char **argv)
{
	if (argc < 3 || argc > 5)
		return fail("Usage: fill <count> <size> [type] [socket|heap:<name>].");
	uint64_t count, size;
	int socket;
	if (!parse_size("count", argv[1], 100000000, &count) ||
	    !parse_size("size", argv[2], SIZE_MAX / 2, &size))
		return -1;
	if (count == 0)
		return fail("count must be at least 1.");
	const char *type = argc > 3 ? argv[3] : "memscope_fill";
	if (!parse_socket(argc > 4 ? argv[4] : NULL, &socket))
		return -1;
	void *first = NULL, *last = NULL;
	size_t start = n_allocs;
	for (uint64_t i = 0; i < count; i++) {
		void *p = tracked_malloc(type, size, 0, socket);
		if (p == NULL) {
			int err = rte_errno;
			/* All or nothing: undo this command's allocations. */
			while (n_allocs > start)
				rte_free(allocs[--n_allocs].ptr);
			return fail("Allocation %" PRIu64 " of %" PRIu64 " (%" PRIu64
				    " bytes each) failed (%s); none were kept.",
				    i + 1, count, size, rte_strerror(err));
		}
		if (i == 0)
			first = p;
		last = p;
	}
	sb_printf(&out, "{\"ok\":true,\"count\":%" PRIu64 ",\"first\":", count);
	sb_ptr(&out, first);
	sb_printf(&out, ",\"last\":");
	sb_ptr(&out, last);
	sb_printf(&out, "}");
	return 0;
}

static size_t free_all_allocs(void)
{
	size_t n = n_allocs;
	while (n_allocs > 0)
		rte_free(allocs[--n_allocs].ptr);
	return n;
}

static int cmd_freeall(int argc, char **argv)
{
	(void)argc; (void)argv;
	size_t n = free_all_allocs();
	sb_printf(&out, "{\"ok\":true,\"count\":%zu}", n);
	return 0;
}

static void sb_memzone(struct sbuf *b, const struct rte_memzone *mz)
{
	sb_printf(b, "\"name\":");
	sb_json_str(b, mz->name);
	sb_printf(b, ",\"addr\":");
	sb_ptr(b, mz->addr);
	sb_printf(b, ",\"iova\":\"0x%" PRIx64 "\",\"len\":%zu,\"socket\":%d,"
		  "\"hugepageSz\":%" PRIu64 ",\"flags\":%u",
		  (uint64_t)mz->iova, mz->len, mz->socket_id, mz->hugepage_sz, mz->flags);
}

static int cmd_memzone_reserve(int argc, char **argv)
{
	if (argc < 3 || argc > 5)
		return fail("Usage: memzone_reserve <name> <len> [socket] [flags].");
	uint64_t len, flags = 0;
	int socket;
	if (strlen(argv[1]) >= RTE_MEMZONE_NAMESIZE)
		return fail("A memzone name has at most %d characters.", RTE_MEMZONE_NAMESIZE - 1);
	if (!parse_size("len", argv[2], SIZE_MAX / 2, &len))
		return -1;
	if (!parse_socket(argc > 3 ? argv[3] : NULL, &socket))
		return -1;
	if (argc > 4 && !parse_size("flags", argv[4], UINT32_MAX, &flags))
		return -1;
	if (!grow_array((void **)&zones, &cap_zones, n_zones, sizeof(*zones)))
		return fail("Out of process memory.");
	const struct rte_memzone *mz = rte_memzone_reserve(argv[1], len, socket, (unsigned)flags);
	if (mz == NULL)
		return fail("rte_memzone_reserve('%s', %" PRIu64 ") failed (%s).",
			    argv[1], len, rte_strerror(rte_errno));
	zones[n_zones++] = mz;
	sb_printf(&out, "{\"ok\":true,");
	sb_memzone(&out, mz);
	sb_printf(&out, "}");
	return 0;
}

static int cmd_memzone_free(int argc, char **argv)
{
	if (argc != 2)
		return fail("Usage: memzone_free <name>.");
	const struct rte_memzone *mz = rte_memzone_lookup(argv[1]);
	if (mz == NULL)
		return fail("There is no memzone named '%s'.", argv[1]);
	size_t i;
	for (i = 0; i < n_zones; i++)
		if (zones[i] == mz)
			break;
	if (i == n_zones)
		return fail("Memzone '%s' was not reserved by this primary.", argv[1]);
	int rc = rte_memzone_free(mz);
	if (rc != 0)
		return fail("rte_memzone_free('%s') failed (%s).", argv[1], rte_strerror(-rc));
	zones[i] = zones[--n_zones];
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

static void sb_pool(struct sbuf *b, const struct rte_mempool *mp)
{
	sb_printf(b, "\"name\":");
	sb_json_str(b, mp->name);
	sb_printf(b, ",\"addr\":");
	sb_ptr(b, mp);
	sb_printf(b, ",\"size\":%u,\"populated\":%u,\"eltSize\":%u,\"cacheSize\":%u,\"ops\":",
		  mp->size, mp->populated_size, mp->elt_size, mp->cache_size);
	const struct rte_mempool_ops *ops = rte_mempool_get_ops(mp->ops_index);
	sb_json_str(b, ops ? ops->name : "");
}

static int cmd_mempool_create(int argc, char **argv)
{
	if (argc < 5 || argc > 6)
		return fail("Usage: mempool_create <name> <n> <elt_size> <cache_size> [mbuf|<ops name>].");
	uint64_t n, elt, cache;
	const char *name = argv[1];
	if (strlen(name) >= RTE_MEMPOOL_NAMESIZE)
		return fail("A mempool name has at most %d characters.", (int)RTE_MEMPOOL_NAMESIZE - 1);
	if (!parse_size("n", argv[2], UINT32_MAX, &n) ||
	    !parse_size("elt_size", argv[3], UINT32_MAX, &elt) ||
	    !parse_size("cache_size", argv[4], RTE_MEMPOOL_CACHE_MAX_SIZE, &cache))
		return -1;
	if (n == 0)
		return fail("A mempool needs at least one element.");
	if (!grow_array((void **)&pools, &cap_pools, n_pools, sizeof(*pools)))
		return fail("Out of process memory.");
	struct rte_mempool *mp;
	int socket = (int)rte_socket_id();
	if (argc == 6 && strcmp(argv[5], "mbuf") == 0) {
		if (elt > UINT16_MAX)
			return fail("An mbuf data room is at most %u bytes.", UINT16_MAX);
		mp = rte_pktmbuf_pool_create(name, (unsigned)n, (unsigned)cache, 0,
					     (uint16_t)elt, socket);
		if (mp == NULL)
			return fail("rte_pktmbuf_pool_create('%s') failed (%s).", name,
				    rte_strerror(rte_errno));
	} else {
		const char *ops = argc == 6 ? argv[5] : "ring_mp_mc";
		mp = rte_mempool_create_empty(name, (unsigned)n, (unsigned)elt, (unsigned)cache,
					      0, socket, 0);
		if (mp == NULL)
			return fail("rte_mempool_create_empty('%s') failed (%s).", name,
				    rte_strerror(rte_errno));
		int rc = rte_mempool_set_ops_byname(mp, ops, NULL);
		if (rc != 0) {
			rte_mempool_free(mp);
			return fail("Mempool ops '%s' are not available (%s).", ops, rte_strerror(-rc));
		}
		rc = rte_mempool_populate_default(mp);
		if (rc < 0) {
			rte_mempool_free(mp);
			return fail("rte_mempool_populate_default('%s') failed (%s).", name,
				    rte_strerror(-rc));
		}
	}
	pools[n_pools++] = (struct pool){ .mp = mp };
	sb_printf(&out, "{\"ok\":true,");
	sb_pool(&out, mp);
	sb_printf(&out, "}");
	return 0;
}

static struct pool *pool_arg(int argc, char **argv, int want, const char *usage)
{
	if (argc != want) {
		fail("Usage: %s.", usage);
		return NULL;
	}
	struct pool *p = pool_find(argv[1]);
	if (p == NULL)
		fail("There is no mempool named '%s' created by this primary.", argv[1]);
	return p;
}

static int cmd_mempool_get(int argc, char **argv)
{
	struct pool *p = pool_arg(argc, argv, 3, "mempool_get <name> <count>");
	uint64_t count;
	if (p == NULL || !parse_size("count", argv[2], UINT32_MAX, &count))
		return -1;
	size_t need = p->n_held + count;
	if (need > p->cap_held) {
		void **h = realloc(p->held, need * sizeof(*h));
		if (h == NULL)
			return fail("Out of process memory.");
		p->held = h;
		p->cap_held = need;
	}
	/* All or nothing; in chunks so the lcore cache is used as in a real app. */
	uint64_t got = 0;
	while (got < count) {
		unsigned chunk = (unsigned)RTE_MIN(count - got, (uint64_t)32);
		if (rte_mempool_get_bulk(p->mp, p->held + p->n_held + got, chunk) != 0) {
			rte_mempool_put_bulk(p->mp, p->held + p->n_held, (unsigned)got);
			return fail("Mempool '%s' has fewer than %" PRIu64 " free objects (%u available).",
				    argv[1], count, rte_mempool_avail_count(p->mp) );
		}
		got += chunk;
	}
	p->n_held += count;
	sb_printf(&out, "{\"ok\":true,\"held\":%zu", p->n_held);
	if (count > 0) {
		sb_printf(&out, ",\"first\":");
		sb_ptr(&out, p->held[p->n_held - count]);
	}
	sb_printf(&out, "}");
	return 0;
}

static int cmd_mempool_put(int argc, char **argv)
{
	struct pool *p = pool_arg(argc, argv, 3, "mempool_put <name> <count>");
	uint64_t count;
	if (p == NULL || !parse_size("count", argv[2], UINT32_MAX, &count))
		return -1;
	if (count > p->n_held)
		return fail("This primary holds only %zu objects of mempool '%s'.", p->n_held, argv[1]);
	p->n_held -= count;
	rte_mempool_put_bulk(p->mp, p->held + p->n_held, (unsigned)count);
	sb_printf(&out, "{\"ok\":true,\"held\":%zu}", p->n_held);
	return 0;
}

static void pool_destroy(struct pool *p)
{
	if (p->n_held)
		rte_mempool_put_bulk(p->mp, p->held, (unsigned)p->n_held);
	rte_mempool_free(p->mp);
	free(p->held);
	*p = pools[--n_pools];
}

static int cmd_mempool_free(int argc, char **argv)
{
	struct pool *p = pool_arg(argc, argv, 2, "mempool_free <name>");
	if (p == NULL)
		return -1;
	pool_destroy(p);
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

static int cmd_mempool_stats(int argc, char **argv)
{
	struct pool *p = pool_arg(argc, argv, 2, "mempool_stats <name>");
	if (p == NULL)
		return -1;
	sb_printf(&out, "{\"ok\":true,");
	sb_pool(&out, p->mp);
	sb_printf(&out, ",\"avail\":%u,\"inUse\":%u,\"held\":%zu}",
		  rte_mempool_avail_count(p->mp), rte_mempool_in_use_count(p->mp), p->n_held);
	return 0;
}

static bool in_range(const void *p, const struct ext_heap *e)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)e->va;
	return a >= b && a < b + e->len;
}

static int cmd_extmem(int argc, char **argv)
{
	if (argc < 3 || argc > 4)
		return fail("Usage: extmem <heapname> <size> [memfd|hugetlbfs].");
	const char *name = argv[1];
	uint64_t size;
	if (strlen(name) >= HEAP_NAME_MAX)
		return fail("A heap name has at most %d characters.", HEAP_NAME_MAX - 1);
	if (!parse_size("size", argv[2], (uint64_t)1 << 40, &size))
		return -1;
	if (size == 0)
		return fail("size must be at least 1.");
	bool huge = false;
	if (argc == 4) {
		if (strcmp(argv[3], "hugetlbfs") == 0)
			huge = true;
		else if (strcmp(argv[3], "memfd") != 0)
			return fail("Backing must be memfd or hugetlbfs, got '%s'.", argv[3]);
	}
	if (ext_find(name) != NULL)
		return fail("This primary already holds external heap '%s'.", name);
	if (!grow_array((void **)&exts, &cap_exts, n_exts, sizeof(*exts)))
		return fail("Out of process memory.");

	size_t page_sz = huge ? TWO_MB : (size_t)sysconf(_SC_PAGESIZE);
	size_t len = RTE_ALIGN_CEIL((size_t)size, page_sz);
	int fd;
	char path[PATH_MAX];
	if (huge) {
		snprintf(path, sizeof(path), "/dev/hugepages/%sext_%s", prefix, name);
		fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			return fail("Cannot create %s (%s).", path, strerror(errno));
	} else {
		fd = memfd_create(name, MFD_CLOEXEC);
		if (fd < 0)
			return fail("memfd_create failed (%s).", strerror(errno));
	}
	if (ftruncate(fd, (off_t)len) != 0) {
		int err = errno;
		if (huge)
			unlink(path);
		close(fd);
		return fail("Cannot size the %s backing to %zu bytes (%s).",
			    huge ? "hugetlbfs" : "memfd", len, strerror(err));
	}
	/* MAP_POPULATE: a hugetlbfs shortage shows here, not as SIGBUS later. */
	void *va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	int map_err = errno;
	if (huge)
		unlink(path);
	if (va == MAP_FAILED) {
		close(fd);
		return fail("mmap of %zu bytes failed (%s).", len, strerror(map_err));
	}
	if (rte_malloc_heap_create(name) != 0) {
		int err = rte_errno;
		munmap(va, len);
		close(fd);
		return fail("rte_malloc_heap_create('%s') failed (%s).", name, rte_strerror(err));
	}
	if (rte_malloc_heap_memory_add(name, va, len, NULL, (unsigned)(len / page_sz), page_sz) != 0) {
		int err = rte_errno;
		rte_malloc_heap_destroy(name);
		munmap(va, len);
		close(fd);
		return fail("rte_malloc_heap_memory_add('%s') failed (%s).", name, rte_strerror(err));
	}
	struct ext_heap *e = &exts[n_exts++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->va = va;
	e->len = len;
	e->page_sz = page_sz;
	e->fd = fd;
	e->hugetlbfs = huge;
	sb_printf(&out, "{\"ok\":true,\"heap\":");
	sb_json_str(&out, name);
	sb_printf(&out, ",\"va\":");
	sb_ptr(&out, va);
	sb_printf(&out, ",\"len\":%zu,\"pageSize\":%zu,\"socket\":%d,\"backing\":\"%s\"}",
		  len, page_sz, rte_malloc_heap_get_socket(name), huge ? "hugetlbfs" : "memfd");
	return 0;
}

/* Frees what this primary holds in the heap (allocations, memzones), then the heap. */
static int ext_destroy(struct ext_heap *e)
{
	for (size_t i = n_allocs; i-- > 0;)
		if (in_range(allocs[i].ptr, e)) {
			rte_free(allocs[i].ptr);
			allocs_remove_at(i);
		}
	for (size_t i = 0; i < n_pools;) {
		if (in_range(pools[i].mp, e))
			pool_destroy(&pools[i]);
		else
			i++;
	}
	for (size_t i = 0; i < n_zones;) {
		if (in_range(zones[i]->addr, e)) {
			rte_memzone_free(zones[i]);
			zones[i] = zones[--n_zones];
		} else {
			i++;
		}
	}
	if (rte_malloc_heap_memory_remove(e->name, e->va, e->len) != 0)
		return fail("rte_malloc_heap_memory_remove('%s') failed (%s); something else still "
			    "holds memory in it.", e->name, rte_strerror(rte_errno));
	if (rte_malloc_heap_destroy(e->name) != 0)
		return fail("rte_malloc_heap_destroy('%s') failed (%s).", e->name,
			    rte_strerror(rte_errno));
	munmap(e->va, e->len);
	close(e->fd);
	*e = exts[--n_exts];
	return 0;
}

static int cmd_extmem_remove(int argc, char **argv)
{
	if (argc != 2)
		return fail("Usage: extmem_remove <heapname>.");
	struct ext_heap *e = ext_find(argv[1]);
	if (e == NULL)
		return fail("This primary holds no external heap named '%s'.", argv[1]);
	if (ext_destroy(e) != 0)
		return -1;
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

static int cmd_leakgen(int argc, char **argv)
{
	if (argc < 5 || argc > 6)
		return fail("Usage: leakgen <leaks> <leak_size> <churn> <churn_size> [type].");
	uint64_t leaks, leak_size, churn, churn_size;
	if (!parse_size("leaks", argv[1], 10000000, &leaks) ||
	    !parse_size("leak_size", argv[2], SIZE_MAX / 2, &leak_size) ||
	    !parse_size("churn", argv[3], 100000000, &churn) ||
	    !parse_size("churn_size", argv[4], SIZE_MAX / 2, &churn_size))
		return -1;
	const char *type = argc > 5 ? argv[5] : "memscope_leak";
	void *ring[CHURN_RING] = { NULL };
	uint64_t total = RTE_MAX(leaks, churn);
	uint64_t every = leaks ? RTE_MAX(churn / leaks, (uint64_t)1) : 0;
	uint64_t made = 0;
	size_t first_leak = n_allocs;
	int err = 0;
	sb_printf(&out, "{\"ok\":true,\"leaked\":[");
	for (uint64_t i = 0; i < total && err == 0; i++) {
		if (i < churn) {
			void **slot = &ring[i % CHURN_RING];
			rte_free(*slot);
			*slot = rte_malloc("memscope_churn", churn_size, 0);
			if (*slot == NULL)
				err = rte_errno ? rte_errno : ENOMEM;
		}
		if (err == 0 && made < leaks && i % every == 0) {
			void *p = tracked_malloc(type, leak_size, 0, SOCKET_ID_ANY);
			if (p == NULL) {
				err = rte_errno ? rte_errno : ENOMEM;
				break;
			}
			sb_printf(&out, "%s", made ? "," : "");
			sb_ptr(&out, p);
			made++;
		}
	}
	for (int i = 0; i < CHURN_RING; i++)
		rte_free(ring[i]);
	if (err != 0)
		return fail("leakgen ran out of memory after %" PRIu64 " leaks (%s); they are kept "
			    "and freeall frees them.", n_allocs - first_leak, rte_strerror(err));
	sb_printf(&out, "]}");
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmd_latency(int argc, char **argv)
{
	if (argc != 3)
		return fail("Usage: latency <iterations> <size>.");
	uint64_t n, size;
	if (!parse_size("iterations", argv[1], 100000000, &n) ||
	    !parse_size("size", argv[2], SIZE_MAX / 2, &size))
		return -1;
	if (n == 0)
		return fail("iterations must be at least 1.");
	uint64_t *t = malloc(n * sizeof(*t));
	if (t == NULL)
		return fail("Out of process memory for %" PRIu64 " samples.", n);
	uint64_t hz = rte_get_tsc_hz();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = rte_rdtsc_precise();
		void *p = rte_malloc("memscope_latency", size, 0);
		rte_free(p);
		uint64_t t1 = rte_rdtsc_precise();
		if (p == NULL) {
			free(t);
			return fail("rte_malloc of %" PRIu64 " bytes failed (%s).", size,
				    rte_strerror(rte_errno));
		}
		t[i] = t1 - t0;
	}
	qsort(t, n, sizeof(*t), cmp_u64);
	/* What the clock itself costs: the median of empty intervals. */
	uint64_t empty[257];
	for (unsigned i = 0; i < RTE_DIM(empty); i++) {
		uint64_t t0 = rte_rdtsc_precise();
		empty[i] = rte_rdtsc_precise() - t0;
	}
	qsort(empty, RTE_DIM(empty), sizeof(empty[0]), cmp_u64);
#define NS(c) ((double)(c) * 1e9 / (double)hz)
#define PCT(q) NS(t[RTE_MIN((uint64_t)((q) * (double)n), n - 1)])
	sb_printf(&out, "{\"ok\":true,\"n\":%" PRIu64 ",\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,"
		  "\"p999\":%.0f,\"max\":%.0f,\"min\":%.0f,\"clockNs\":%.0f,\"tscHz\":%" PRIu64 "}",
		  n, PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), NS(t[n - 1]), NS(t[0]),
		  NS(empty[RTE_DIM(empty) / 2]), hz);
#undef PCT
#undef NS
	free(t);
	return 0;
}

static int count_seg(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	(void)ms;
	if (!msl->external)
		(*(unsigned *)arg)++;
	return 0;
}

static unsigned count_internal_segs(void)
{
	unsigned n = 0;
	rte_memseg_walk(count_seg, &n);
	return n;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmd_grow(int argc, char **argv)
{
	(void)argc; (void)argv;
	struct rte_malloc_socket_stats st;
	int socket = rte_socket_id_by_idx(0);
	if (rte_malloc_get_socket_stats(socket, &st) != 0)
		return fail("rte_malloc_get_socket_stats(%d) failed.", socket);
	size_t size = RTE_ALIGN_CEIL(st.greatest_free_size + TWO_MB, TWO_MB);
	unsigned before = count_internal_segs();
	uint64_t t0 = now_us();
	void *p = rte_malloc_socket("memscope_grow", size, 0, socket);
	uint64_t us = now_us() - t0;
	if (p == NULL)
		return fail("rte_malloc of %zu bytes (more than the largest free block) failed (%s); "
			    "are there free hugepages?", size, rte_strerror(rte_errno));
	unsigned after = count_internal_segs();
	uint64_t t1 = now_us();
	uintptr_t addr = (uintptr_t)p; /* reported after the free: its value, never the memory */
	rte_free(p);
	uint64_t free_us = now_us() - t1;
	unsigned after_free = count_internal_segs();
	sb_printf(&out, "{\"ok\":true,\"size\":%zu,\"ptr\":\"0x%" PRIxPTR "\"", size, addr);
	sb_printf(&out, ",\"before\":%u,\"after\":%u,\"afterFree\":%u,\"us\":%" PRIu64
		  ",\"freeUs\":%" PRIu64 "}", before, after, after_free, us, free_us);
	return 0;
}

static int cmd_dump_heaps(int argc, char **argv)
{
	if (argc != 2)
		return fail("Usage: dump_heaps <path>.");
	FILE *f = fopen(argv[1], "w");
	if (f == NULL)
		return fail("Cannot open %s for writing (%s).", argv[1], strerror(errno));
	rte_malloc_dump_heaps(f);
	if (fclose(f) != 0)
		return fail("Cannot write %s (%s).", argv[1], strerror(errno));
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

static void sb_heap_stats(struct sbuf *b, int socket, const char *name, bool *first)
{
	struct rte_malloc_socket_stats st;
	if (rte_malloc_get_socket_stats(socket, &st) != 0)
		return;
	sb_printf(b, "%s{\"socket\":%d,", *first ? "" : ",", socket);
	if (name) {
		sb_printf(b, "\"name\":");
		sb_json_str(b, name);
		sb_printf(b, ",");
	}
	sb_printf(b, "\"external\":%s,\"totalSize\":%zu,\"freeSize\":%zu,\"allocSize\":%zu,"
		  "\"allocCount\":%u,\"freeCount\":%u,\"greatestFree\":%zu}",
		  name ? "true" : "false", st.heap_totalsz_bytes, st.heap_freesz_bytes,
		  st.heap_allocsz_bytes, st.alloc_count, st.free_count, st.greatest_free_size);
	*first = false;
}

static int cmd_stats(int argc, char **argv)
{
	(void)argc; (void)argv;
	bool first = true;
	sb_printf(&out, "{\"ok\":true,\"heaps\":[");
	for (unsigned i = 0; i < rte_socket_count(); i++)
		sb_heap_stats(&out, rte_socket_id_by_idx(i), NULL, &first);
	for (size_t i = 0; i < n_exts; i++)
		sb_heap_stats(&out, rte_malloc_heap_get_socket(exts[i].name), exts[i].name, &first);
	sb_printf(&out, "],\"allocs\":%zu,\"memzones\":%zu,\"mempools\":%zu}",
		  n_allocs, n_zones, n_pools);
	return 0;
}

struct seg_walk {
	struct sbuf *b;
	unsigned lists, segments, external_segments;
};

static int list_cb(const struct rte_memseg_list *msl, void *arg)
{
	struct seg_walk *w = arg;
	sb_printf(w->b, "%s{\"baseVa\":", w->lists ? "," : "");
	sb_ptr(w->b, msl->base_va);
	sb_printf(w->b, ",\"pageSize\":%" PRIu64 ",\"socket\":%d,\"len\":%zu,\"capacity\":%u,"
		  "\"used\":%u,\"external\":%s,\"heap\":%s,\"version\":%u}",
		  msl->page_sz, msl->socket_id, msl->len, msl->memseg_arr.len,
		  msl->memseg_arr.count, msl->external ? "true" : "false",
		  msl->heap ? "true" : "false", msl->version);
	w->lists++;
	return 0;
}

static int seg_cb(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	(void)ms;
	struct seg_walk *w = arg;
	if (msl->external)
		w->external_segments++;
	else
		w->segments++;
	return 0;
}

static int cmd_memsegs(int argc, char **argv)
{
	(void)argc; (void)argv;
	struct seg_walk w = { .b = &out };
	sb_printf(&out, "{\"ok\":true,\"lists\":[");
	rte_memseg_list_walk(list_cb, &w);
	rte_memseg_walk(seg_cb, &w);
	sb_printf(&out, "],\"listCount\":%u,\"segments\":%u,\"externalSegments\":%u}",
		  w.lists, w.segments, w.external_segments);
	return 0;
}

/*
 * lock/unlock <hotplug|tailq|mempool>: the primary write-holds one of
 * EAL's shared-config locks until told otherwise. Tests use it to prove that
 * a reader which needs none of them still reads (and that one which needs
 * them would wait).
 */
static bool held_locks[3];
static const char *const lock_names[3] = { "hotplug", "tailq", "mempool" };

static int lock_index(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, lock_names[i]) == 0)
			return i;
	return -1;
}

static void lock_take(int i)
{
	switch (i) {
	case 0: rte_mcfg_mem_write_lock(); break;
	case 1: rte_mcfg_tailq_write_lock(); break;
	default: rte_mcfg_mempool_write_lock(); break;
	}
}

static void lock_release(int i)
{
	switch (i) {
	case 0: rte_mcfg_mem_write_unlock(); break;
	case 1: rte_mcfg_tailq_write_unlock(); break;
	default: rte_mcfg_mempool_write_unlock(); break;
	}
}

static int cmd_lock(int argc, char **argv)
{
	int i;
	if (argc != 2 || (i = lock_index(argv[1])) < 0)
		return fail("Usage: lock <hotplug|tailq|mempool>.");
	if (held_locks[i])
		return fail("The %s lock is already held by this primary.", argv[1]);
	lock_take(i);
	held_locks[i] = true;
	sb_printf(&out, "{\"ok\":true,\"held\":\"%s\"}", argv[1]);
	return 0;
}

static int cmd_unlock(int argc, char **argv)
{
	int i;
	if (argc != 2 || (i = lock_index(argv[1])) < 0)
		return fail("Usage: unlock <hotplug|tailq|mempool>.");
	if (!held_locks[i])
		return fail("The %s lock is not held by this primary.", argv[1]);
	lock_release(i);
	held_locks[i] = false;
	sb_printf(&out, "{\"ok\":true,\"released\":\"%s\"}", argv[1]);
	return 0;
}

/* ---------- leak scenarios (a background thread) ----------
 *
 * `scenario start <kind> <seed> <leak_ms>` runs one of the patterns below on a
 * thread of its own until `scenario stop`, which answers
 * with the ground truth: every pointer leaked and every pool leaked from.
 * Leaks happen during the first <leak_ms> ms; churn goes on until the stop.
 * Churn is bursty, as per-burst scratch allocations are: each tick (1 ms)
 * allocates a burst, writes it, and frees it before the next tick.
 *   steady: one 1 KiB leak every 10 ms among bursts of 16 x 1 KiB.
 *   mixed:  one leak every 40 ms of 200 B, 1.5 KiB, 4 KiB, 9 KiB or 70 KiB,
 *           among bursts of 8 allocations of those and other sizes.
 *   mbuf:   one mbuf every 20 ms from scen_leak, never returned, while
 *           scen_churn_a and scen_churn_b lend and take back mbufs.
 * Four more are closer to real programs: their churn outlives the sampling
 * interval, and their leaks are timed and sized by a random stream of their
 * own (seeded), so how many leak, when and how big depends on <seed> and
 * <leak_ms> only; sizes are drawn in bytes, so lengths vary and the same
 * length is seldom freed and taken again at once.
 *   longlived: blocks of 256 B to 8 KiB, about 8 a second, each freed 5 to
 *           30 s after it was made; one leak every 400 ms of 700 B, 1800 B
 *           or 5000 B (classes the churn uses too).
 *   ramp:   a working set that grows by one block of 256 B to 4 KiB every
 *           40 ms for 9.6 s (240 blocks), then holds: every 40 ms one of its
 *           8 oldest is freed and a new one made (so each lives about 9.6 s);
 *           one leak every 250 ms, of the working set's sizes, during the
 *           ramp and after it.
 *   sameclass: bursts as in mixed and blocks living 2 to 12 s, both of
 *           300 B to 4000 B, and one leak every 400 ms drawn from the very
 *           same sizes.
 *   pooltraffic: scen_leak and scen_churn_a both carry traffic (bursts of
 *           1 to 32 mbufs held 5 to 100 ms, about 20 bursts a second, so in
 *           use falls and rises); scen_leak also loses one mbuf every 50 ms.
 *           The stop's answer counts the ticks at which scen_leak's in use
 *           fell (poolFalls).
 * Churn still alive at `scenario stop` is freed then: it is not a leak.
 * `scenario clear` frees what was leaked (and the scenario's pools).
 */

#define SCEN_MAX_LEAKS 100000
#define SCEN_MAX_LIVE 4096
#define SCEN_MAX_FLIGHT 64
#define SCEN_WORKING_SET 240

enum { SCEN_STEADY, SCEN_MIXED, SCEN_MBUF, SCEN_LONGLIVED, SCEN_RAMP, SCEN_SAMECLASS, SCEN_POOLTRAFFIC, SCEN_KINDS };
static const char *const scen_names[SCEN_KINDS] = { "steady", "mixed", "mbuf", "longlived", "ramp", "sameclass", "pooltraffic" };

/* A block of churn: freed when its time is due. */
struct scen_block {
	void *p;
	uint64_t due;
};

/* A burst of mbufs in flight, given back when due. */
struct scen_flight {
	struct rte_mbuf *m[32];
	unsigned n;
	struct rte_mempool *mp;
	uint64_t due;
};

static struct {
	pthread_t thread;
	bool running;
	volatile bool stop;
	int kind; /* SCEN_* */
	uint64_t seed;
	uint64_t leak_seed; /* the leaks' own stream: their sizes do not depend on timing */
	uint64_t leak_ms;
	void *leaked[SCEN_MAX_LEAKS];
	size_t n_leaked;
	uint64_t churn_ops;
	int error;
	struct rte_mempool *pools[3]; /* leak, churn a, churn b */
	struct scen_block live[SCEN_MAX_LIVE]; /* longlived and sameclass churn; ramp's working set, oldest first */
	size_t n_live;
	struct scen_flight flight[SCEN_MAX_FLIGHT];
	size_t n_flight;
	uint64_t pool_falls; /* pooltraffic: ticks at which scen_leak's in use fell */
} scen;

static uint64_t xorshift(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint64_t scen_rand(void)
{
	return xorshift(&scen.seed);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void scen_leak(void *p)
{
	if (p == NULL) {
		scen.error = ENOMEM;
		return;
	}
	if (scen.n_leaked < SCEN_MAX_LEAKS)
		scen.leaked[scen.n_leaked++] = p;
}

static void scen_burst_malloc(unsigned n, const size_t *sizes, unsigned n_sizes)
{
	void *burst[32];
	n = RTE_MIN(n, RTE_DIM(burst));
	for (unsigned i = 0; i < n; i++) {
		size_t size = sizes[scen_rand() % n_sizes];
		burst[i] = rte_malloc("memscope_churn", size, 0);
		if (burst[i] != NULL)
			memset(burst[i], (int)i, RTE_MIN(size, (size_t)256));
	}
	/* free in a shuffled order */
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(scen_rand() % i);
		void *t = burst[i - 1];
		burst[i - 1] = burst[j];
		burst[j] = t;
	}
	for (unsigned i = 0; i < n; i++)
		rte_free(burst[i]);
	scen.churn_ops += 2 * n;
}

static void scen_burst_mbufs(struct rte_mempool *mp, unsigned max)
{
	struct rte_mbuf *m[64];
	unsigned n = 1 + (unsigned)(scen_rand() % RTE_MIN(max, (unsigned)RTE_DIM(m)));
	if (rte_pktmbuf_alloc_bulk(mp, m, n) != 0)
		return;
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
	scen.churn_ops += 2 * n;
}

/* A size of lo to hi bytes from a stream. */
static size_t scen_size(uint64_t r, size_t lo, size_t hi)
{
	return lo + (size_t)(r % (hi - lo + 1));
}

static void *scen_alloc(const char *type, size_t size, int fill)
{
	void *p = rte_malloc(type, size, 0);
	if (p != NULL)
		memset(p, fill, RTE_MIN(size, (size_t)256));
	return p;
}

/* Churn that lives a while: one block, freed <life_lo..life_hi> ms from now. */
static void scen_keep(size_t size, uint64_t now, uint64_t life_lo, uint64_t life_hi)
{
	if (scen.n_live == SCEN_MAX_LIVE)
		return;
	void *p = scen_alloc("memscope_churn", size, 0x5a);
	if (p == NULL) {
		scen.error = ENOMEM;
		return;
	}
	scen.live[scen.n_live++] = (struct scen_block){ p, now + life_lo + scen_rand() % (life_hi - life_lo + 1) };
	scen.churn_ops++;
}

/* Frees the blocks whose time has come. */
static void scen_expire(uint64_t now)
{
	for (size_t i = 0; i < scen.n_live;) {
		if (scen.live[i].due <= now) {
			rte_free(scen.live[i].p);
			scen.live[i] = scen.live[--scen.n_live];
			scen.churn_ops++;
		} else {
			i++;
		}
	}
}

/* Traffic: now and then a burst of 1 to 32 mbufs, given back 5 to 100 ms later. */
static void scen_traffic(struct rte_mempool *mp, uint64_t now)
{
	if (scen_rand() % 50 != 0 || scen.n_flight == SCEN_MAX_FLIGHT)
		return;
	struct scen_flight *f = &scen.flight[scen.n_flight];
	f->n = 1 + (unsigned)(scen_rand() % RTE_DIM(f->m));
	f->mp = mp;
	f->due = now + 5 + scen_rand() % 96;
	if (rte_pktmbuf_alloc_bulk(mp, f->m, f->n) != 0)
		return;
	scen.n_flight++;
	scen.churn_ops += f->n;
}

static void scen_land(uint64_t now, bool all)
{
	for (size_t i = 0; i < scen.n_flight;) {
		if (all || scen.flight[i].due <= now) {
			for (unsigned k = 0; k < scen.flight[i].n; k++)
				rte_pktmbuf_free(scen.flight[i].m[k]);
			scen.churn_ops += scen.flight[i].n;
			scen.flight[i] = scen.flight[--scen.n_flight];
		} else {
			i++;
		}
	}
}

/* ramp: grow the working set to SCEN_WORKING_SET, then replace one of its 8 oldest. */
static void scen_ramp_step(uint64_t now)
{
	if (scen.n_live == SCEN_WORKING_SET) {
		size_t k = (size_t)(scen_rand() % 8);
		rte_free(scen.live[k].p);
		memmove(&scen.live[k], &scen.live[k + 1], (scen.n_live - k - 1) * sizeof(scen.live[0]));
		scen.n_live--;
		scen.churn_ops++;
	}
	void *p = scen_alloc("memscope_churn", scen_size(scen_rand(), 256, 4096), 0x6b);
	if (p == NULL) {
		scen.error = ENOMEM;
		return;
	}
	scen.live[scen.n_live++] = (struct scen_block){ p, now };
	scen.churn_ops++;
}

static void *scen_main(void *arg)
{
	(void)arg;
	static const size_t one_k[] = { 1024 };
	static const size_t mixed_leaks[] = { 200, 1500, 4000, 9000, 70000 };
	static const size_t mixed_churn[] = { 64, 200, 700, 1500, 3000, 4000, 9000, 20000, 70000 };
	static const size_t longlived_leaks[] = { 700, 1800, 5000 };
	uint64_t start = now_ms(), tick = 0;
	/* the newer scenarios leak on a clock: leak k at start + k * period, k < leak_ms / period */
	uint64_t leak_period = scen.kind == SCEN_RAMP ? 250 : scen.kind == SCEN_POOLTRAFFIC ? 50 : 400;
	uint64_t leaks_due = scen.leak_ms / leak_period, leaks_made = 0, next_step = start;
	unsigned last_in_use = 0;
	struct timespec one_ms = { 0, 1000000 };
	while (!scen.stop && scen.error == 0) {
		uint64_t now = now_ms();
		bool leaking = now - start < scen.leak_ms;
		bool leak_now = scen.kind >= SCEN_LONGLIVED && leaks_made < leaks_due && now >= start + leaks_made * leak_period;
		if (leak_now)
			leaks_made++;
		switch (scen.kind) {
		case SCEN_LONGLIVED:
			scen_expire(now);
			if (scen_rand() % 125 == 0)
				scen_keep(scen_size(scen_rand(), 256, 8191), now, 5000, 30000);
			if (leak_now)
				scen_leak(scen_alloc("memscope_leak", longlived_leaks[xorshift(&scen.leak_seed) % RTE_DIM(longlived_leaks)], 0xab));
			break;
		case SCEN_RAMP:
			for (; next_step <= now && scen.error == 0; next_step += 40)
				scen_ramp_step(now);
			if (leak_now)
				scen_leak(scen_alloc("memscope_leak", scen_size(xorshift(&scen.leak_seed), 256, 4096), 0xab));
			break;
		case SCEN_SAMECLASS: {
			static const size_t same[] = { 300, 700, 1200, 1800, 2500, 3300, 4000 };
			scen_burst_malloc(8, same, RTE_DIM(same));
			scen_expire(now);
			if (scen_rand() % 125 == 0)
				scen_keep(scen_size(scen_rand(), 300, 4000), now, 2000, 12000);
			if (leak_now)
				scen_leak(scen_alloc("memscope_leak", scen_size(xorshift(&scen.leak_seed), 300, 4000), 0xab));
			break;
		}
		case SCEN_POOLTRAFFIC:
			scen_land(now, false);
			scen_traffic(scen.pools[0], now);
			scen_traffic(scen.pools[1], now);
			if (leak_now) {
				struct rte_mbuf *m = rte_pktmbuf_alloc(scen.pools[0]);
				if (m == NULL)
					scen.error = ENOBUFS;
				else
					scen_leak(m);
			}
			unsigned in_use = rte_mempool_in_use_count(scen.pools[0]);
			if (in_use < last_in_use)
				scen.pool_falls++;
			last_in_use = in_use;
			break;
		case 0:
			scen_burst_malloc(16, one_k, 1);
			if (leaking && tick % 10 == 0) {
				void *p = rte_malloc("memscope_leak", 1024, 0);
				if (p != NULL)
					memset(p, 0xab, 1024);
				scen_leak(p);
			}
			break;
		case 1:
			scen_burst_malloc(8, mixed_churn, RTE_DIM(mixed_churn));
			if (leaking && tick % 40 == 0) {
				size_t size = mixed_leaks[scen_rand() % RTE_DIM(mixed_leaks)];
				void *p = rte_malloc("memscope_leak", size, 0);
				if (p != NULL)
					memset(p, 0xcd, RTE_MIN(size, (size_t)256));
				scen_leak(p);
			}
			break;
		default:
			scen_burst_mbufs(scen.pools[1], 32);
			scen_burst_mbufs(scen.pools[2], 16);
			if (leaking && tick % 20 == 0) {
				struct rte_mbuf *m = rte_pktmbuf_alloc(scen.pools[0]);
				if (m == NULL)
					scen.error = ENOBUFS;
				else
					scen_leak(m);
			}
			break;
		}
		tick++;
		nanosleep(&one_ms, NULL);
	}
	/* churn still held is freed: only the leaks stay */
	for (size_t i = 0; i < scen.n_live; i++)
		rte_free(scen.live[i].p);
	scen.n_live = 0;
	scen_land(0, true);
	return NULL;
}

static void scen_clear(void)
{
	for (size_t i = 0; i < scen.n_leaked; i++) {
		if (scen.kind == SCEN_MBUF || scen.kind == SCEN_POOLTRAFFIC)
			rte_pktmbuf_free(scen.leaked[i]);
		else
			rte_free(scen.leaked[i]);
	}
	scen.n_leaked = 0;
	for (int i = 0; i < 3; i++) {
		rte_mempool_free(scen.pools[i]);
		scen.pools[i] = NULL;
	}
}

static void scen_stop(void)
{
	if (!scen.running)
		return;
	scen.stop = true;
	pthread_join(scen.thread, NULL);
	scen.running = false;
}

static int cmd_scenario(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "stop") == 0) {
		if (!scen.running)
			return fail("No scenario runs; start one with scenario start <kind> <seed> <leak_ms>.");
		scen_stop();
		sb_printf(&out, "{\"ok\":true,\"kind\":\"%s\",\"churnOps\":%" PRIu64 ",\"poolFalls\":%" PRIu64 ",\"error\":%d,\"leaked\":[",
			  scen_names[scen.kind], scen.churn_ops, scen.pool_falls, scen.error);
		for (size_t i = 0; i < scen.n_leaked; i++) {
			sb_printf(&out, "%s", i ? "," : "");
			sb_ptr(&out, scen.leaked[i]);
		}
		sb_printf(&out, "],\"pools\":[%s]}",
			  (scen.kind == SCEN_MBUF || scen.kind == SCEN_POOLTRAFFIC) && scen.n_leaked ? "\"scen_leak\"" : "");
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "clear") == 0) {
		if (scen.running)
			return fail("The scenario still runs; scenario stop first.");
		scen_clear();
		sb_printf(&out, "{\"ok\":true}");
		return 0;
	}
	if (argc != 5 || strcmp(argv[1], "start") != 0)
		return fail("Usage: scenario start <steady|mixed|mbuf|longlived|ramp|sameclass|pooltraffic> <seed> <leak_ms> | scenario stop | scenario clear.");
	if (scen.running)
		return fail("A scenario already runs; scenario stop first.");
	if (scen.n_leaked)
		return fail("The last scenario's leaks are still held; scenario clear first.");
	int kind = -1;
	for (int i = 0; i < SCEN_KINDS; i++)
		if (strcmp(argv[2], scen_names[i]) == 0)
			kind = i;
	if (kind < 0)
		return fail("Unknown scenario '%s'; use steady, mixed, mbuf, longlived, ramp, sameclass or pooltraffic.", argv[2]);
	uint64_t seed, leak_ms;
	if (!parse_size("seed", argv[3], UINT64_MAX / 2, &seed) || !parse_size("leak_ms", argv[4], 3600000, &leak_ms))
		return -1;
	memset(&scen, 0, sizeof(scen));
	scen.kind = kind;
	scen.seed = seed | 1;
	scen.leak_seed = (seed * 0x9e3779b97f4a7c15ULL) | 1;
	scen.leak_ms = leak_ms;
	if (kind == SCEN_MBUF || kind == SCEN_POOLTRAFFIC) {
		static const char *names[3] = { "scen_leak", "scen_churn_a", "scen_churn_b" };
		for (int i = 0; i < (kind == SCEN_MBUF ? 3 : 2); i++) {
			/* no per-lcore cache: the scenario thread is not an lcore */
			scen.pools[i] = rte_pktmbuf_pool_create(names[i], 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
			if (scen.pools[i] == NULL) {
				int err = rte_errno;
				scen_clear();
				return fail("rte_pktmbuf_pool_create('%s') failed (%s).", names[i], rte_strerror(err));
			}
		}
	}
	int rc = pthread_create(&scen.thread, NULL, scen_main, NULL);
	if (rc != 0) {
		scen_clear();
		return fail("pthread_create failed (%s).", strerror(rc));
	}
	scen.running = true;
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

/* Writes DPDK's trace buffers (--trace=...) to the trace directory. */
static int cmd_trace_save(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return fail("Usage: trace_save.");
	if (!rte_trace_is_enabled())
		return fail("No trace point is enabled; start the primary with --trace=<regex>.");
	int rc = rte_trace_save();
	if (rc < 0)
		return fail("rte_trace_save failed (%s).", rte_strerror(-rc));
	sb_printf(&out, "{\"ok\":true}");
	return 0;
}

/* ---------- main loop ---------- */

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "ping", cmd_ping },
	{ "malloc", cmd_malloc },
	{ "free", cmd_free },
	{ "fill", cmd_fill },
	{ "freeall", cmd_freeall },
	{ "memzone_reserve", cmd_memzone_reserve },
	{ "memzone_free", cmd_memzone_free },
	{ "mempool_create", cmd_mempool_create },
	{ "mempool_get", cmd_mempool_get },
	{ "mempool_put", cmd_mempool_put },
	{ "mempool_free", cmd_mempool_free },
	{ "mempool_stats", cmd_mempool_stats },
	{ "extmem", cmd_extmem },
	{ "extmem_remove", cmd_extmem_remove },
	{ "leakgen", cmd_leakgen },
	{ "scenario", cmd_scenario },
	{ "trace_save", cmd_trace_save },
	{ "latency", cmd_latency },
	{ "grow", cmd_grow },
	{ "dump_heaps", cmd_dump_heaps },
	{ "stats", cmd_stats },
	{ "memsegs", cmd_memsegs },
	{ "lock", cmd_lock },
	{ "unlock", cmd_unlock },
};

static bool write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		s += w;
		n -= (size_t)w;
	}
	return true;
}

/* The original stdout, kept for replies only; fd 1 itself points at stderr. */
static int reply_fd = STDOUT_FILENO;

/* Returns false when stdout is gone (the controller died): time to leave. */
static bool reply(void)
{
	sb_printf(&out, "\n");
	return write_all(reply_fd, out.s, out.len);
}

/* Handles one line; sets *quit on `quit`. Returns false if stdout broke. */
static bool handle_line(char *line, bool *quit)
{
	char *argv[MAX_WORDS + 1];
	int argc = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (argc == MAX_WORDS) {
			argc = -1;
			break;
		}
		argv[argc++] = w;
	}
	if (argc == 0)
		return true; /* blank lines get no reply */
	out.len = 0;
	failed = false;
	if (argc < 0) {
		fail("Too many words; a command has at most %d.", MAX_WORDS);
		return reply();
	}
	argv[argc] = NULL;
	if (strcmp(argv[0], "quit") == 0) {
		*quit = true;
		return true; /* replied after cleanup */
	}
	for (size_t i = 0; i < RTE_DIM(commands); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			commands[i].fn(argc, argv);
			return reply();
		}
	fail("Unknown command '%s'.", argv[0]);
	return reply();
}

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	int saved = errno;
	got_signal = sig;
	if (write(sig_pipe[1], "x", 1) < 0) {
		/* nothing to do: the flag is set and the pipe is non-blocking */
	}
	errno = saved;
}

static void install_signals(void)
{
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		perror("demo-primary: pipe2");
		exit(1);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void find_prefix(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--file-prefix") == 0 && i + 1 < argc)
			v = argv[i + 1];
		else if (strncmp(argv[i], "--file-prefix=", 14) == 0)
			v = argv[i] + 14;
		if (v)
			snprintf(prefix, sizeof(prefix), "%s", v);
	}
}

static void release_everything(void)
{
	free_all_allocs();
	while (n_pools > 0)
		pool_destroy(&pools[n_pools - 1]);
	while (n_zones > 0)
		rte_memzone_free(zones[--n_zones]);
	while (n_exts > 0) {
		struct ext_heap *e = &exts[n_exts - 1];
		if (ext_destroy(e) != 0) {
			/* Keep the mapping: EAL may still point into it. */
			fprintf(stderr, "demo-primary: could not remove heap %s\n", e->name);
			n_exts--;
		}
	}
}

int main(int argc, char **argv)
{
	/* Before anything else: EAL must never write to the reply channel. Its
	 * logs go to stderr, and so does whatever it printf()s (the EAL usage
	 * text on a bad argument, driver banners): fd 1 becomes a copy of fd 2
	 * and replies go to a private copy of the original stdout. */
	rte_openlog_stream(stderr);
	int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) >= 0)
		reply_fd = fd;
	find_prefix(argc, argv);
	install_signals();

	if (rte_eal_init(argc, argv) < 0) {
		out.len = 0;
		fail("rte_eal_init failed (%s).", rte_strerror(rte_errno));
		reply();
		return 1;
	}
	out.len = 0;
	sb_printf(&out, "{\"ok\":true,\"ready\":true,\"pid\":%d,\"prefix\":", (int)getpid());
	sb_json_str(&out, prefix);
	sb_printf(&out, ",\"runtimeDir\":");
	sb_json_str(&out, rte_eal_get_runtime_dir());
	sb_printf(&out, ",\"dpdkVersion\":");
	sb_json_str(&out, rte_version());
	sb_printf(&out, ",\"lcore\":%u,\"tscHz\":%" PRIu64 "}", rte_lcore_id(), rte_get_tsc_hz());
	bool alive = reply();

	static char buf[LINE_MAX_LEN];
	size_t have = 0;
	bool quit = false, overlong = false;
	while (alive && !quit && !got_signal) {
		struct pollfd pfd[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = sig_pipe[0], .events = POLLIN },
		};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (got_signal || (pfd[1].revents & POLLIN))
			break;
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(STDIN_FILENO, buf + have, sizeof(buf) - 1 - have);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		if (n == 0) {
			/* EOF: the controller is done or gone. A last line without
			 * its newline still counts. */
			if (have > 0 && !overlong) {
				buf[have] = '\0';
				alive = handle_line(buf, &quit);
			}
			break;
		}
		have += (size_t)n;
		char *start = buf, *nl;
		while (alive && !quit && (nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
			*nl = '\0';
			if (overlong) {
				overlong = false; /* the tail of a line already answered */
			} else {
				alive = handle_line(start, &quit);
			}
			start = nl + 1;
		}
		have -= (size_t)(start - buf);
		memmove(buf, start, have);
		if (have == sizeof(buf) - 1) {
			if (!overlong) {
				out.len = 0;
				fail("Line longer than %d bytes ignored.", LINE_MAX_LEN - 1);
				alive = reply();
			}
			overlong = true;
			have = 0;
		}
	}

	for (int i = 0; i < 3; i++)
		if (held_locks[i]) {
			lock_release(i);
			held_locks[i] = false;
		}
	scen_stop();
	scen_clear();
	release_everything();
	int rc = rte_eal_cleanup();
	if (quit) {
		out.len = 0;
		sb_printf(&out, "{\"ok\":true,\"bye\":true,\"cleanup\":%d}", rc);
		reply();
	}
	free(allocs);
	free(pools);
	free(zones);
	free(exts);
	free(out.s);
	return 0;
}
