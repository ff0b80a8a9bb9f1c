/*
 * fingerprint.c - content fingerprints of files and folders (see
 * fingerprint.h for what is hashed).
 *
 * A folder is walked with openat() from descriptors, never by rebuilding
 * paths, and never through a symbolic link: a link in a dataset is an
 * entry of the manifest (its target's text), so a link loop or a link to
 * /dev/zero cannot hang a training process.  Files are opened with
 * O_NONBLOCK and checked to be regular after the open, so a file swapped
 * for a FIFO between the listing and the open is refused, not waited on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/fingerprint.h"

#define READ_CHUNK (1u << 20)
#define QUICK_BLOCKS 16
#define QUICK_BLOCK (64u * 1024)
#define MANIFEST_HEAD "dnnprov manifest 1\n"
#define QUICK_HEAD "dnnprov quick 1\n"
/* Folders deeper than this are refused: a dataset is not that deep, and
 * the walk keeps one descriptor per level. */
#define DEPTH_MAX 64

/* SHA-256 is OpenSSL's libcrypto's (SHA extensions and AVX2 where the
 * CPU has them: a dataset of gigabytes hashes at the disk's speed).
 * Linked, its thousands of symbols were relocated at the start of every
 * command and every process that loads the library: 0.6 ms, a quarter of
 * a `dnnprov curve`.  So where the build names its file (DP_CRYPTO_SONAME)
 * it is loaded by the first fingerprint (util/dynlib.c), as libgit2 is;
 * the wheel's library, which carries its own libcrypto, calls it
 * directly. */
#define CRYPTO_FUNCTIONS(X) \
	X(EVP_MD_CTX_new) \
	X(EVP_MD_CTX_free) \
	X(EVP_sha256) \
	X(EVP_DigestInit_ex) \
	X(EVP_DigestUpdate) \
	X(EVP_DigestFinal_ex)

#ifdef DP_CRYPTO_SONAME
#define MEMBER(name) __typeof__(name) *name;
static struct {
	CRYPTO_FUNCTIONS(MEMBER)
} crypto;
#undef MEMBER

#define SYM(name) { #name, (void **)&crypto.name },
static const dp_dynsym crypto_syms[] = { CRYPTO_FUNCTIONS(SYM) };
#undef SYM

static dp_dynlib crypto_lib = { DP_CRYPTO_SONAME, "OpenSSL libcrypto", crypto_syms,
				sizeof(crypto_syms) / sizeof(crypto_syms[0]), PTHREAD_MUTEX_INITIALIZER, false };
#define CRYPTO(name) crypto.name
#define CRYPTO_BIND() dp_dynlib_bind(&crypto_lib)
#else
#define CRYPTO(name) name
#define CRYPTO_BIND() 0
#endif

typedef struct hasher {
	EVP_MD_CTX *ctx;
} hasher;

static int hasher_init(hasher *h)
{
	int rc;
	h->ctx = NULL;
	if ((rc = CRYPTO_BIND()))
		return rc;
	if (!(h->ctx = CRYPTO(EVP_MD_CTX_new)()) ||
	    CRYPTO(EVP_DigestInit_ex)(h->ctx, CRYPTO(EVP_sha256)(), NULL) != 1) {
		CRYPTO(EVP_MD_CTX_free)(h->ctx);
		h->ctx = NULL;
		return dp_error(DNNPROV_ENOMEM, "cannot start a SHA-256 digest");
	}
	return 0;
}

static void hasher_add(hasher *h, const void *p, size_t n)
{
	CRYPTO(EVP_DigestUpdate)(h->ctx, p, n);
}

/* Ends the digest into hex[65] and frees it. */
static void hasher_hex(hasher *h, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	CRYPTO(EVP_DigestFinal_ex)(h->ctx, md, &n);
	CRYPTO(EVP_MD_CTX_free)(h->ctx);
	h->ctx = NULL;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void hasher_drop(hasher *h)
{
	if (h->ctx)
		CRYPTO(EVP_MD_CTX_free)(h->ctx);
	h->ctx = NULL;
}

static int read_error(const char *path, int err)
{
	return dp_error_errno(err, "cannot read %s", path);
}

/* The whole file into the digest. */
static int hash_all(int fd, const char *path, unsigned char *buf, hasher *h)
{
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return read_error(path, errno);
		if (n == 0)
			return 0;
		hasher_add(h, buf, (size_t)n);
	}
}

/* QUICK_BLOCKS blocks spread evenly from the first byte to the last. */
static int hash_sampled(int fd, const char *path, uint64_t size, unsigned char *buf, hasher *h)
{
	if (size <= (uint64_t)QUICK_BLOCKS * QUICK_BLOCK)
		return hash_all(fd, path, buf, h);
	for (unsigned i = 0; i < QUICK_BLOCKS; i++) {
		uint64_t at = (size - QUICK_BLOCK) / (QUICK_BLOCKS - 1) * i;
		size_t got = 0;
		while (got < QUICK_BLOCK) {
			ssize_t n = pread(fd, buf + got, QUICK_BLOCK - got, (off_t)(at + got));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return read_error(path, errno);
			if (n == 0)
				break; /* the file shrank: hash what is there */
			got += (size_t)n;
		}
		hasher_add(h, buf, got);
	}
	return 0;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The hash of the regular file open on fd (its stat in st) into hex. */
static int hash_file(int fd, const struct stat *st, const char *path, unsigned flags, unsigned char *buf,
		     char hex[65])
{
	hasher h;
	int rc;

	if ((rc = hasher_init(&h)))
		return rc;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (flags & DNNPROV_QUICK) {
		char head[96];
		int n = snprintf(head, sizeof(head), QUICK_HEAD "%" PRIu64 "\n%" PRId64 "\n", (uint64_t)st->st_size,
				 mtime_ns(st));
		hasher_add(&h, head, (size_t)n);
		rc = hash_sampled(fd, path, (uint64_t)st->st_size, buf, &h);
	} else {
		rc = hash_all(fd, path, buf, &h);
	}
	if (rc) {
		hasher_drop(&h);
		return rc;
	}
	hasher_hex(&h, hex);
	return 0;
}

/* Opens name under dirfd (AT_FDCWD and a path for the top) without
 * following a final link and without blocking on a FIFO; refuses what is
 * no regular file. */
static int open_regular(int dirfd, const char *name, const char *path, bool follow, int *fd, struct stat *st)
{
	int f = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW));
	if (f < 0)
		return read_error(path, errno);
	if (fstat(f, st) != 0) {
		int err = errno;
		close(f);
		return read_error(path, err);
	}
	if (!S_ISREG(st->st_mode)) {
		close(f);
		return dp_error(DNNPROV_EINVAL, "%s is not a regular file: never read", path);
	}
	/* Blocking reads again: a regular file never blocks, and a read that
	 * returned EAGAIN would be taken for an error. */
	fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK);
	*fd = f;
	return 0;
}

/* ---- folders ------------------------------------------------------------ */

typedef struct entry {
	char *path;   /* relative to the folder, '/'-separated */
	char kind;    /* 'f' a file, 'l' a link, 'o' anything else */
	uint64_t size;
	char *detail; /* the hash, the link's target, the quick mode's mtime */
} entry;

typedef struct walk {
	entry *v;
	size_t n, cap;
	unsigned flags;
	const char *root;
	unsigned char *buf;
	dp_buf path; /* the root, '/', then the current relative path, for errors */
	size_t root_len;
} walk;

static int add_entry(walk *w, const char *rel, char kind, uint64_t size, const char *detail)
{
	entry *grown = dp_grow(w->v, w->n, &w->cap, sizeof(*grown), 64);
	if (!grown)
		return DNNPROV_ENOMEM;
	w->v = grown;
	entry *e = &w->v[w->n];
	e->path = strdup(rel);
	e->detail = strdup(detail);
	e->kind = kind;
	e->size = size;
	if (!e->path || !e->detail) {
		free(e->path);
		free(e->detail);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	w->n++;
	return 0;
}

static int walk_entry(walk *w, int dirfd, const char *name, const char *rel, int depth);

/* Every entry of the folder open on fd (closed here). */
static int walk_folder(walk *w, int fd, const char *rel, int depth)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > DEPTH_MAX) {
		close(fd);
		return dp_error(DNNPROV_EINVAL, "%s: folders nested more than %d deep", w->root, DEPTH_MAX);
	}
	if (!(d = fdopendir(fd))) {
		int err = errno;
		close(fd);
		return read_error(w->root, err);
	}
	dp_buf sub = { 0 };
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				rc = dp_error_errno(errno, "cannot list %s/%s", w->root, rel);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		sub.len = 0;
		if (*rel)
			dp_buf_printf(&sub, "%s/", rel);
		dp_buf_printf(&sub, "%s", de->d_name);
		if (sub.failed || !dp_buf_cstr(&sub)) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		if ((rc = walk_entry(w, dirfd(d), de->d_name, sub.data, depth)))
			break;
	}
	dp_buf_free(&sub);
	closedir(d);
	return rc;
}

static int walk_entry(walk *w, int dirfd, const char *name, const char *rel, int depth)
{
	struct stat st;
	char path_for_errors[4096];
	char detail[96];
	int rc, fd;

	snprintf(path_for_errors, sizeof(path_for_errors), "%s/%s", w->root, rel);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return read_error(path_for_errors, errno);
	if (S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return read_error(path_for_errors, errno);
		return walk_folder(w, fd, rel, depth + 1);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return read_error(path_for_errors, errno);
		target[n] = '\0';
		return add_entry(w, rel, 'l', (uint64_t)n, target);
	}
	if (!S_ISREG(st.st_mode))
		return add_entry(w, rel, 'o', 0, "");
	if (w->flags & DNNPROV_QUICK) {
		snprintf(detail, sizeof(detail), "%" PRId64, mtime_ns(&st));
		return add_entry(w, rel, 'f', (uint64_t)st.st_size, detail);
	}
	if ((rc = open_regular(dirfd, name, path_for_errors, false, &fd, &st)))
		return rc;
	rc = hash_file(fd, &st, path_for_errors, 0, w->buf, detail);
	close(fd);
	return rc ? rc : add_entry(w, rel, 'f', (uint64_t)st.st_size, detail);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static int hash_manifest(walk *w, dp_fingerprint *out)
{
	hasher h;
	char num[32];
	int rc;

	qsort(w->v, w->n, sizeof(*w->v), cmp_entry);
	if ((rc = hasher_init(&h)))
		return rc;
	hasher_add(&h, MANIFEST_HEAD, strlen(MANIFEST_HEAD));
	out->size = 0;
	for (size_t i = 0; i < w->n; i++) {
		const entry *e = &w->v[i];
		int n = snprintf(num, sizeof(num), "%" PRIu64, e->size);
		hasher_add(&h, e->path, strlen(e->path) + 1);
		hasher_add(&h, &e->kind, 1);
		hasher_add(&h, "", 1);
		hasher_add(&h, num, (size_t)n + 1);
		hasher_add(&h, e->detail, strlen(e->detail));
		hasher_add(&h, "\n", 1);
		if (e->kind == 'f')
			out->size += e->size;
	}
	char hex[65];
	hasher_hex(&h, hex);
	out->files = w->n;
	out->directory = true;
	snprintf(out->text, sizeof(out->text), "%s:%s", (w->flags & DNNPROV_QUICK) ? "quick" : "sha256", hex);
	return 0;
}

int dp_fingerprint_path(const char *path, unsigned flags, dp_fingerprint *out)
{
	struct stat st;
	unsigned char *buf;
	char hex[65];
	int rc, fd;

	memset(out, 0, sizeof(*out));
	if (!path || !*path)
		return dp_error(DNNPROV_EINVAL, "no path to fingerprint");
	if (flags & ~(unsigned)DNNPROV_QUICK)
		return dp_error(DNNPROV_EINVAL, "unknown fingerprint flags 0x%x", flags);
	if (stat(path, &st) != 0)
		return read_error(path, errno);
	if (!(buf = malloc(READ_CHUNK)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (S_ISDIR(st.st_mode)) {
		walk w = { .flags = flags, .root = path, .buf = buf };
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = fd < 0 ? read_error(path, errno) : walk_folder(&w, fd, "", 0);
		if (rc == 0)
			rc = hash_manifest(&w, out);
		for (size_t i = 0; i < w.n; i++) {
			free(w.v[i].path);
			free(w.v[i].detail);
		}
		free(w.v);
		free(buf);
		return rc;
	}
	if ((rc = open_regular(AT_FDCWD, path, path, true, &fd, &st)) == 0) {
		rc = hash_file(fd, &st, path, flags, buf, hex);
		close(fd);
	}
	free(buf);
	if (rc)
		return rc;
	out->size = (uint64_t)st.st_size;
	out->files = 1;
	snprintf(out->text, sizeof(out->text), "%s:%s", (flags & DNNPROV_QUICK) ? "quick" : "sha256", hex);
	return 0;
}

void dp_sha256_text(const void *p, size_t n, char out[DNNPROV_FINGERPRINT_MAX])
{
	hasher h;
	char hex[65];
	if (hasher_init(&h)) {
		out[0] = '\0';
		return;
	}
	hasher_add(&h, p, n);
	hasher_hex(&h, hex);
	snprintf(out, DNNPROV_FINGERPRINT_MAX, "sha256:%s", hex);
}

bool dp_fingerprint_valid(const char *s, size_t n)
{
	size_t p;
	if (n > 7 && memcmp(s, "sha256:", 7) == 0)
		p = 7;
	else if (n > 6 && memcmp(s, "quick:", 6) == 0)
		p = 6;
	else
		return false;
	if (n - p != 64)
		return false;
	for (; p < n; p++)
		if (!((s[p] >= '0' && s[p] <= '9') || (s[p] >= 'a' && s[p] <= 'f')))
			return false;
	return true;
}

int dnnprov_fingerprint(const char *path, unsigned flags, char *out, size_t cap, uint64_t *size)
{
	dp_fingerprint fp;
	int rc;

	dp_error_clear();
	if (!out || cap < DNNPROV_FINGERPRINT_MAX)
		return dp_error(DNNPROV_EINVAL, "dnnprov_fingerprint: an output of at least %d bytes is needed",
				DNNPROV_FINGERPRINT_MAX);
	if ((rc = dp_fingerprint_path(path, flags, &fp)))
		return rc;
	memcpy(out, fp.text, sizeof(fp.text));
	if (size)
		*size = fp.size;
	return 0;
}
