# dnnprov - plain Makefile.  `make` builds the library, the command and the
# pkg-config file into build/ (build-asan/ with SANITIZE=1); `make check`
# installs missing Debian packages, builds and runs every test.

VERSION := 0.1.0
SOVERSION := 0

# Debian ships msgpack-c's pkg-config file as `msgpack`, other systems as `msgpack-c`.
MSGPACK_PC := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PKGS := lmdb yaml-0.1 $(MSGPACK_PC)

CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif
OPT ?= -O2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers \
	-fPIC -fvisibility=hidden -I. -Iinclude
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -llmdb -lyaml -lmsgpackc)
SQLITE_LIBS := $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3)
# The library carries SQLite for dnnprov_index_sql() (sql/api.c); the
# loadable extension uses its host's SQLite and links none.
LIBS = $(PKG_LIBS) $(SQLITE_LIBS) -lpthread -lm -ldl
EXT_LIBS = $(PKG_LIBS) -lpthread -lm -ldl
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

ifeq ($(SANITIZE),1)
B := build-asan
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
B := build
SAN :=
endif
CFLAGS_ALL = $(CFLAGS_BASE) $(SAN) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)

# The library: every component up to the SQL tables (the public query
# interface answers SQL too); the server, shipping and the command line
# are the dnnprov command's.
CORE_DIRS := util config logger indexer query
CORE_SRC := $(foreach d,$(CORE_DIRS),$(wildcard $(d)/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
# The SQL tables: in the library, and built a second time as the loadable
# extension (every SQLite call through the host's API table).
SQL_SRC := $(filter-out sql/ext.c,$(wildcard sql/*.c))
SQL_OBJ := $(SQL_SRC:%.c=$(B)/%.o)
EXT_OBJ := $(patsubst %.c,$(B)/ext/%.o,$(wildcard sql/*.c))
LIB_SRC := $(CORE_SRC) $(SQL_SRC)
LIB_OBJ := $(CORE_OBJ) $(SQL_OBJ)
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
# libnats and libmicrohttpd are loaded by the commands that use them, when
# they start (util/dynlib.c: linked, they and their TLS libraries took 2.6 ms
# from the start of every command); the build names their file (SONAME).
soname = $(shell objdump -p "$$($(CC) -print-file-name=$(1))" 2>/dev/null | sed -n 's/^ *SONAME *//p')
# Shipping through NATS JetStream: in the command only, so the library (and
# the Python binding, and `make demo`) never needs libnats.
SHIP_SRC := $(wildcard ship/*.c)
SHIP_OBJ := $(SHIP_SRC:%.c=$(B)/%.o)
NATS_CFLAGS = $(shell pkg-config --cflags libnats 2>/dev/null)
NATS_LIBS = $(shell pkg-config --libs libnats 2>/dev/null || echo -lnats)
# The server (serve/) and its web page, embedded: in the dnnprov binary only,
# so that the library does not depend on libmicrohttpd.
SERVE_PC := libmicrohttpd
SERVE_SRC := $(wildcard serve/*.c)
SERVE_OBJ := $(SERVE_SRC:%.c=$(B)/%.o) $(B)/serve/assets.o
SERVE_CFLAGS = $(shell pkg-config --cflags $(SERVE_PC) 2>/dev/null) -DDP_MHD_SONAME='"$(call soname,libmicrohttpd.so)"'
WEB_FILES := $(sort $(shell find serve/web -type f ! -name '*~' 2>/dev/null))
# `dnnprov receive` (receive/): DfAnalyzer's REST service, in the dnnprov
# binary only.  It parses JSON with jansson, linked: a library that needs
# libc alone, one mapping more at a command's start (the TLS chains of
# libnats and libmicrohttpd are what made those two worth loading at run
# time); libmicrohttpd it loads as serve does.
RECEIVE_SRC := $(wildcard receive/*.c)
RECEIVE_OBJ := $(RECEIVE_SRC:%.c=$(B)/%.o)
JANSSON_CFLAGS = $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS = $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
TEST_SRC := $(wildcard tests/check_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_SUPPORT := $(filter-out tests/check_%.c,$(wildcard tests/*.c))
TEST_TOOLS := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(wildcard tests/tools/*.c))
TEST_SHIMS := $(patsubst tests/shims/%.c,$(B)/tests/shims/%.so,$(wildcard tests/shims/*.c))

.PHONY: all check test-unit test-web test-scripts deps install uninstall clean demo bench stress fuzz docs wheel
all: $(B)/libdnnprov.a $(B)/libdnnprov.so $(B)/libdnnprov_sqlite.so $(B)/dnnprov $(B)/dnnprov.pc \
	$(B)/examples/train $(B)/examples/ask

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/libdnnprov.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libdnnprov.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libdnnprov.so.$(SOVERSION) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/libdnnprov.so: $(B)/libdnnprov.so.$(VERSION)
	ln -sf libdnnprov.so.$(VERSION) $(B)/libdnnprov.so.$(SOVERSION)
	ln -sf libdnnprov.so.$(VERSION) $@

$(B)/serve/%.o: serve/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SERVE_CFLAGS) -MMD -MP -c $< -o $@

$(B)/cli/cmd_serve.o: cli/cmd_serve.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SERVE_CFLAGS) -MMD -MP -c $< -o $@

$(B)/receive/%.o: receive/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SERVE_CFLAGS) $(JANSSON_CFLAGS) -MMD -MP -c $< -o $@

# Every file of serve/web as a C array (tools/embed.c): the binary carries
# its page and never reads a file to answer a request.
$(B)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<

$(B)/serve/assets.c: $(B)/tools/embed $(WEB_FILES) Makefile
	@mkdir -p $(dir $@)
	$(B)/tools/embed $@.tmp serve/web $(WEB_FILES) && mv $@.tmp $@

$(B)/serve/assets.o: $(B)/serve/assets.c serve/serve.h
	$(CC) $(CFLAGS_ALL) -c $< -o $@


$(B)/ext/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DDP_SQLITE_EXTENSION -MMD -MP -c $< -o $@

# The extension carries the library inside and exports only its entry points.
$(B)/libdnnprov_sqlite.so: $(EXT_OBJ) $(CORE_OBJ) sql/ext.map
	$(CC) -shared -Wl,--version-script=sql/ext.map $(LDFLAGS_ALL) -o $@ $(EXT_OBJ) $(CORE_OBJ) $(EXT_LIBS)

$(B)/dnnprov: $(CLI_OBJ) $(SERVE_OBJ) $(RECEIVE_OBJ) $(SHIP_OBJ) $(B)/libdnnprov.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(SERVE_OBJ) $(RECEIVE_OBJ) $(SHIP_OBJ) $(B)/libdnnprov.a \
		$(LIBS) $(JANSSON_LIBS)

$(SHIP_OBJ): CFLAGS_ALL += $(NATS_CFLAGS) -DDP_NATS_SONAME='"$(call soname,libnats.so)"'
# libgit2 tells a run's uncommitted changes (logger/code.c): loaded by a
# begin inside a repository only.
$(B)/logger/code.o: CFLAGS_ALL += -DDP_GIT2_SONAME='"$(call soname,libgit2.so)"'
# OpenSSL's libcrypto (SHA-256 of lineage fingerprints, logger/fingerprint.c):
# loaded by the first fingerprint; linked, it took 0.6 ms from the start of
# every command and every process loading the library.
CRYPTO_CFLAGS = $(shell pkg-config --cflags libcrypto 2>/dev/null)
$(B)/logger/fingerprint.o: CFLAGS_ALL += $(CRYPTO_CFLAGS) -DDP_CRYPTO_SONAME='"$(call soname,libcrypto.so)"'

$(B)/dnnprov.pc: dnnprov.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@REQUIRES@|$(PKGS) sqlite3|g' $< > $@

# The C API's worked examples, linked as a user would: the public header
# and the shared library (train records, ask reads).
$(B)/examples/%: examples/%.c include/dnnprov.h $(B)/libdnnprov.so
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror $(SAN) -Iinclude -o $@ $< \
		-L$(B) -ldnnprov -Wl,-rpath,'$$ORIGIN/..' -lm $(LDFLAGS_ALL)

# Tests link the static library so they can reach internal functions.
$(B)/tests/%: tests/%.c $(TEST_SUPPORT) $(B)/libdnnprov.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(TEST_SUPPORT) $(B)/libdnnprov.a $(LIBS) $(CHECK_LIBS) $(LDFLAGS_ALL)

# Helper programs the test scripts drive (generators, a killable writer, a dump).
$(B)/tests/tools/%: tests/tools/%.c $(B)/libdnnprov.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libdnnprov.a $(LIBS) $(LDFLAGS_ALL)

# The shipping tests' NATS client (a foreign publisher, stream settings).
$(B)/tests/tools/nats_%: tests/tools/nats_%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(NATS_CFLAGS) -o $@ $< $(NATS_LIBS) $(LDFLAGS_ALL)

# LD_PRELOAD libraries that inject faults (failed I/O, failed allocations)
# into the shipped binary.  Never sanitized: under SANITIZE=1 they sit in
# front of the ASan runtime and call through to it.
$(B)/tests/shims/%.so: tests/shims/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

# ---- docs ------------------------------------------------------------------
# docs/QUERY.md's sections on the questions come from the registry
# (query/q_*.c) through `dnnprov help --markdown`; tests/test_registry.sh
# checks that the committed file holds them.
docs: $(B)/dnnprov
	python3 tools/query_docs.py $(B)/dnnprov

# ---- tests -----------------------------------------------------------------
check: deps
	$(MAKE) all $(TEST_BIN) $(TEST_TOOLS) $(TEST_SHIMS)
	$(MAKE) test-unit test-web test-scripts

test-unit: $(TEST_BIN)
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

# The web page's modules under Node's own test runner (features of Node
# 18, Debian 12's): what they make of the API's answers, without a browser.
test-web:
	@echo "== tests/web"; node --test tests/web/*.test.mjs >$(B)/test-web.out 2>&1 || { cat $(B)/test-web.out; exit 1; }; \
	  grep -E '^# (pass|fail)' $(B)/test-web.out | paste -sd ' '

test-scripts: all $(TEST_TOOLS) $(TEST_SHIMS)
	@set -e; for t in tests/test_*.sh tests/crash/test_*.sh; do [ -e "$$t" ] || continue; \
	  echo "== $$t"; DNNPROV_BUILD=$(B) bash $$t; done

# `make stress`: the crash and kill loops at their full counts.
stress: deps
	$(MAKE) all $(TEST_TOOLS) $(TEST_SHIMS)
	DNNPROV_KILLS=200 DNNPROV_BUILD=$(B) bash tests/test_index.sh
	DNNPROV_CRASHES=200 DNNPROV_BUILD=$(B) bash tests/crash/test_writer_crash.sh
	DNNPROV_CORRUPTIONS=10000 DNNPROV_BUILD=$(B) bash tests/crash/test_corruption.sh
	DNNPROV_QUERY_KILLS=3000 DNNPROV_BUILD=$(B) bash tests/crash/test_reader_slots.sh
	DNNPROV_GROWTH_TASKS=8000 DNNPROV_GROWTH_EPOCHS=500 DNNPROV_BUILD=$(B) bash tests/crash/test_growth.sh
	DNNPROV_SHIP_KILLS=100 DNNPROV_SHIP_ROLLS=5 DNNPROV_BUILD=$(B) bash tests/test_ship.sh
	DNNPROV_REINDEX_SWAPS=1000 DNNPROV_BUILD=$(B) bash tests/test_reindex.sh

# ---- fuzzing ------------------------------------------------------------------
# `make fuzz FUZZ_SECONDS=N`: each libFuzzer harness in fuzz/ for N seconds
# (default 60) with ASan and UBSan, seeded from fuzz/corpus/<name>/; what it
# finds goes to build-fuzz/corpus-<name>/, crashes to build-fuzz/crash-*.
FUZZERS := reader record config where json prov value attach message
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I. -Iinclude $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_OBJ := $(CORE_SRC:%.c=build-fuzz/%.o)
.SECONDARY: $(FUZZ_OBJ)

build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
build-fuzz/logger/fingerprint.o: FUZZ_CFLAGS += $(CRYPTO_CFLAGS) -DDP_CRYPTO_SONAME='"$(call soname,libcrypto.so)"'

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(FUZZ_EXTRA_$*) $(LIBS)

# Stream messages are read in ship/, outside the library: the harness links
# the one file of it that calls no NATS function.
FUZZ_EXTRA_message := build-fuzz/ship/message.o
build-fuzz/fuzz_message: $(FUZZ_EXTRA_message)

# The SQL attach's harness takes the sql/ objects and SQLite besides.
FUZZ_SQL_OBJ := $(SQL_SRC:%.c=build-fuzz/%.o)
.SECONDARY: $(FUZZ_SQL_OBJ)
build-fuzz/fuzz_attach: fuzz/fuzz_attach.c $(FUZZ_OBJ) $(FUZZ_SQL_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(FUZZ_SQL_OBJ) $(LIBS) $(SQLITE_LIBS)

fuzz: deps
	@sh tools/install-deps.sh clang libclang-rt-14-dev
	$(MAKE) $(FUZZERS:%=build-fuzz/fuzz_%)
	@set -e; for f in $(FUZZERS); do \
	  mkdir -p build-fuzz/corpus-$$f; \
	  echo "== fuzz_$$f for $(FUZZ_SECONDS) s"; \
	  build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix=build-fuzz/crash-$$f- \
	    build-fuzz/corpus-$$f fuzz/corpus/$$f 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' ; \
	  [ -z "$$(ls build-fuzz/crash-$$f-* 2>/dev/null)" ] || { echo "fuzz_$$f found a crash"; exit 1; }; \
	done

# ---- packages --------------------------------------------------------------
DEB_PACKAGES := liblmdb-dev libmsgpack-dev libyaml-dev libssl-dev libsqlite3-dev sqlite3 check pkg-config lmdb-utils valgrind \
	libnats-dev nats-server libmicrohttpd-dev libjansson-dev libgit2-dev graphviz \
	python3-torch python3-sklearn \
	python3 python3-msgpack python3-prov python3-numpy python3-pandas python3-venv \
	python3-optuna python3-skorch \
	chromium chromium-driver python3-selenium nodejs
DEMO_PACKAGES := python3-torch python3-sklearn
BENCH_PACKAGES := libsqlite3-dev sqlite3 nats-server libnats-dev
# DuckDB's peer rows run on Node (tools/bench.sh installs @duckdb/node-api
# with npm); installed from Debian only where npm is missing, since a
# Node from elsewhere brings its own npm.
BENCH_NODE_PACKAGES := nodejs npm
deps:
	@sh tools/install-deps.sh $(DEB_PACKAGES)

# ---- the main job -------------------------------------------------------------
demo: deps
	$(MAKE) all
	@sh tools/demo.sh $(B)

# ---- benchmarks --------------------------------------------------------------
# `make bench` (about 25 minutes) or `make bench QUICK=1` (about a minute):
# a markdown table per section, also written to bench/results/.
# `BENCH_ONLY=peers make bench` runs one section (names in
# docs/PERFORMANCE.md); `BENCH_ONLY=tier1m make bench` runs the
# 1,000,000-run tier, which no other run includes (about 20 minutes and
# 16 GB of disk; BENCH_TIER1M_RUNS=100000 for a smaller one).
BENCH_SRC := bench/bench.c bench/util.c bench/peers.c bench/tier1m.c
$(B)/bench/bench: $(BENCH_SRC) bench/bench.h bench/peers.h $(B)/libdnnprov.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(BENCH_SRC) $(B)/libdnnprov.a $(LIBS) -lsqlite3 $(LDFLAGS_ALL)
$(B)/bench/%: bench/%.c $(B)/libdnnprov.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libdnnprov.a $(LIBS) $(LDFLAGS_ALL)

bench: deps
	@sh tools/install-deps.sh $(BENCH_PACKAGES) $(DEMO_PACKAGES)
	@command -v npm >/dev/null 2>&1 || sh tools/install-deps.sh $(BENCH_NODE_PACKAGES) || \
	  echo "dnnprov: nodejs and npm could not be installed: the benchmark runs without DuckDB"
	$(MAKE) all $(B)/bench/bench $(B)/tests/tools/nats_tool
	@sh tools/bench.sh $(B) $(if $(QUICK),--quick)

# ---- install ---------------------------------------------------------------
# `make install` (PREFIX=/usr/local by default; DESTDIR stages for a package):
# the command, the libraries, the header, dnnprov.pc, and the Python package
# for /usr/bin/python3, which loads the library installed beside it.
# `make uninstall` with the same PREFIX and DESTDIR removes what install wrote.
PREFIX ?= /usr/local
DESTDIR ?=
PYTHON ?= /usr/bin/python3
# Where Debian's python3 looks for the packages of PREFIX: /usr/lib/python3/
# dist-packages for /usr, PREFIX/lib/python3.X/dist-packages otherwise (that
# is /usr/local's; for another prefix, put it on PYTHONPATH).
PYTHON_SITE ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages)
PY_MODULES := $(notdir $(wildcard python/dnnprov/*.py))
INSTALLED := bin/dnnprov include/dnnprov.h lib/libdnnprov.a lib/libdnnprov.so.$(VERSION) \
	lib/libdnnprov.so.$(SOVERSION) lib/libdnnprov.so lib/libdnnprov_sqlite.so lib/pkgconfig/dnnprov.pc
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PYTHON_SITE)/dnnprov
	install -m 644 include/dnnprov.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(B)/libdnnprov.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libdnnprov.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libdnnprov.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libdnnprov.so.$(SOVERSION)
	ln -sf libdnnprov.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libdnnprov.so
	install -m 755 $(B)/libdnnprov_sqlite.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/dnnprov $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@REQUIRES@|$(PKGS) sqlite3|g' \
		dnnprov.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/dnnprov.pc
	install -m 644 $(addprefix python/dnnprov/,$(PY_MODULES)) $(DESTDIR)$(PYTHON_SITE)/dnnprov/
	printf '# Written by make install: the library this package loads.\nLIBRARY = "%s"\n' \
		'$(PREFIX)/lib/libdnnprov.so.$(SOVERSION)' > $(DESTDIR)$(PYTHON_SITE)/dnnprov/_install.py
	$(PYTHON) -m compileall -q -d $(PYTHON_SITE)/dnnprov $(DESTDIR)$(PYTHON_SITE)/dnnprov
	@[ -n "$(DESTDIR)" ] || case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; \
		*) echo "note: $(PREFIX)/bin is not on PATH: add it to run dnnprov";; esac
	@[ -n "$(DESTDIR)" ] || $(PYTHON) -c 'import sys; sys.exit("$(PYTHON_SITE)" not in sys.path)' || \
		echo "note: $(PYTHON) does not look in $(PYTHON_SITE): add it to PYTHONPATH to import dnnprov"

# ---- wheel -----------------------------------------------------------------
# `make wheel`: build/dnnprov-VERSION-py3-none-manylinux_2_X_ARCH.whl, the
# Python package with the library inside, for `pip install` into any
# CPython >= 3.9 (a venv, conda, pyenv, --user) with no network and no
# compiler (tools/wheel.py).  Its libdnnprov carries libyaml, msgpack-c,
# SQLite and OpenSSL's libcrypto (Debian ships them as PIC archives) with
# their symbols hidden, so that they never meet the interpreter's own SQLite
# and libcrypto; Debian's liblmdb.a is
# not PIC, so liblmdb.so.0 goes beside it, found through RUNPATH $$ORIGIN,
# as auditwheel bundles libraries.  Needs glibc and nothing else.
WHEEL_DIR := $(B)/wheel
WHEEL_STATIC = $(foreach a,libyaml.a libmsgpackc.a libsqlite3.a libcrypto.a,$(shell $(CC) -print-file-name=$(a)))
WHEEL_LDFLAGS = -Wl,--exclude-libs,ALL -Wl,-rpath,'$$ORIGIN' -Wl,--strip-debug
WHEEL_LMDB = $(shell readlink -f "$$($(CC) -print-file-name=liblmdb.so.0)")

# The wheel's fingerprints call the libcrypto it carries (no DP_CRYPTO_SONAME).
WHEEL_FINGERPRINT := $(WHEEL_DIR)/obj/fingerprint.o
WHEEL_CORE_OBJ = $(filter-out $(B)/logger/fingerprint.o,$(CORE_OBJ)) $(WHEEL_FINGERPRINT)
$(WHEEL_FINGERPRINT): logger/fingerprint.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CRYPTO_CFLAGS) -c $< -o $@

$(WHEEL_DIR)/libdnnprov.so.$(SOVERSION): $(WHEEL_CORE_OBJ) $(SQL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libdnnprov.so.$(SOVERSION) $(WHEEL_LDFLAGS) $(LDFLAGS_ALL) -o $@ $^ \
		$(WHEEL_STATIC) -llmdb -lpthread -lm -ldl

$(WHEEL_DIR)/libdnnprov_sqlite.so: $(EXT_OBJ) $(WHEEL_CORE_OBJ) sql/ext.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,--version-script=sql/ext.map $(WHEEL_LDFLAGS) $(LDFLAGS_ALL) -o $@ $(EXT_OBJ) $(WHEEL_CORE_OBJ) \
		$(filter-out %libsqlite3.a,$(WHEEL_STATIC)) -llmdb -lpthread -lm -ldl

$(WHEEL_DIR)/liblmdb.so.0:
	@mkdir -p $(dir $@)
	cp "$(WHEEL_LMDB)" $@

wheel: $(WHEEL_DIR)/libdnnprov.so.$(SOVERSION) $(WHEEL_DIR)/libdnnprov_sqlite.so $(WHEEL_DIR)/liblmdb.so.0
	@python3 tools/wheel.py $(B) $(VERSION) python/dnnprov $^

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	rm -f $(addprefix $(DESTDIR)$(PYTHON_SITE)/dnnprov/,$(PY_MODULES) _install.py)
	rm -rf $(DESTDIR)$(PYTHON_SITE)/dnnprov/__pycache__
	rmdir $(DESTDIR)$(PYTHON_SITE)/dnnprov 2>/dev/null || true

clean:
	rm -rf build build-asan build-fuzz

# The fuzz build's too: a header that changes a struct rebuilds its objects.
-include $(FUZZ_OBJ:.o=.d) $(FUZZ_SQL_OBJ:.o=.d)
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(EXT_OBJ:.o=.d) $(SHIP_OBJ:.o=.d) $(SERVE_SRC:%.c=$(B)/%.d) \
	$(RECEIVE_OBJ:.o=.d)
