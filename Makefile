# tern — build.  Every src/*.c is one program; src/lib/*.c is the shared library.
# conf-cc holds the compile command, conf-ld the link command (first line each).

CC_CMD   := $(shell head -n 1 conf-cc)
LD_CMD   := $(shell head -n 1 conf-ld)
SANFLAGS ?=
BUILD    ?= build
BINDIR   ?= bin
LDLIBS   := -l:libbearssl.a -l:libowfat.a -lcrypt

PREFIX   ?= /usr/local
DESTDIR  ?=
TERN_HOME_DEFAULT ?= /var/tern

PROGS    := $(patsubst src/%.c,$(BINDIR)/%,$(wildcard src/*.c))
LIBSRC   := $(wildcard src/lib/*.c)
LIBOBJ   := $(patsubst src/lib/%.c,$(BUILD)/lib/%.o,$(LIBSRC))
LIBHDR   := $(wildcard src/lib/*.h)
UNITSRC  := $(wildcard tests/unit/test_*.c)
UNITBIN  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNITSRC))
CHECKLIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

CFLAGS_EXTRA := -DTERN_HOME_DEFAULT='"$(TERN_HOME_DEFAULT)"' -DTERN_BINDIR='"$(PREFIX)/bin"' $(SANFLAGS)

.PHONY: all deps run test test-fast unit asan fuzz bench install install-sendmail clean crashtest interop
.SECONDARY:

all: $(PROGS) $(BINDIR)/sendmail $(BINDIR)/mailq $(BINDIR)/newaliases

$(BUILD)/lib/%.o: src/lib/%.c $(LIBHDR) conf-cc
	@mkdir -p $(dir $@)
	$(CC_CMD) $(CFLAGS_EXTRA) -c -o $@ $<

$(BUILD)/%.o: src/%.c $(LIBHDR) conf-cc
	@mkdir -p $(dir $@)
	$(CC_CMD) $(CFLAGS_EXTRA) -iquote src/lib -c -o $@ $<

$(BUILD)/libtern.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

# Programs that look up system accounts (getpwnam, getpwuid, getgrouplist) link
# dynamically: glibc's NSS crashes in a static binary.  The others use conf-ld as is.
NSSPROGS := tern-getpw tern-sendmail tern-inject
$(addprefix $(BINDIR)/,$(NSSPROGS)): LD_CMD := $(subst -static,,$(LD_CMD))

$(BINDIR)/%: $(BUILD)/%.o $(BUILD)/libtern.a conf-ld
	@mkdir -p $(dir $@)
	$(LD_CMD) $(SANFLAGS) -o $@ $< $(BUILD)/libtern.a $(LDLIBS)

# sendmail, mailq and newaliases are the names programs look for; all are tern-sendmail.
$(BINDIR)/sendmail $(BINDIR)/mailq $(BINDIR)/newaliases: $(BINDIR)/tern-sendmail
	ln -sf tern-sendmail $@

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libtern.a $(LIBHDR)
	@mkdir -p $(dir $@)
	$(CC_CMD) $(CFLAGS_EXTRA) -Wno-error -iquote src/lib -o $@ $< $(BUILD)/libtern.a $(LDLIBS) $(CHECKLIBS)

deps:
	@sh .ci/deps

run: deps all
	$(BINDIR)/tern-run -d var

unit: $(UNITBIN)

# The whole suite twice: as built, then again under ASan+UBSan.
test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory asan
	@TERN_FUZZ_SMOKE=3 sh tests/run "$(BINDIR)" "$(BUILD)/unit" "$(BUILD)/asan/bin" "$(BUILD)/asan/unit"

# Postfix (Debian's package, installed when missing and root) as tern's SMTP peer.
interop: all
	@sh tests/interop/run

# Only the normal build, for quick work.
test-fast: all unit
	@sh tests/run "$(BINDIR)" "$(BUILD)/unit"

asan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan BINDIR=$(BUILD)/asan/bin \
	  LD_CMD="$(subst -static,,$(LD_CMD))" \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  all unit

fuzz:
	@sh tests/fuzz/run

bench: deps all
	@sh tests/bench/run

# kill -9 at random moments and a full disk (doc/crashtest.md); also part of make test.
crashtest: all
	@mkdir -p tests/out
	@TERN_TEST_BIN=$(CURDIR)/$(BINDIR) sh tests/integration/t-crash.sh >tests/out/crashtest.log 2>&1; \
	 grep -E '^(not ok|# crash:)' tests/out/crashtest.log; \
	 p=$$(grep -c '^ok ' tests/out/crashtest.log); f=$$(grep -c '^not ok ' tests/out/crashtest.log); \
	 echo "$$p passed, $$f failed"; [ "$$f" -eq 0 ]

install: all
	sh .ci/install "$(DESTDIR)" "$(PREFIX)" "$(TERN_HOME_DEFAULT)"

install-sendmail: install
	mkdir -p $(DESTDIR)/usr/sbin $(DESTDIR)/usr/bin
	ln -sf $(PREFIX)/bin/tern-sendmail $(DESTDIR)/usr/sbin/sendmail
	ln -sf $(PREFIX)/bin/tern-sendmail $(DESTDIR)/usr/bin/mailq
	ln -sf $(PREFIX)/bin/tern-sendmail $(DESTDIR)/usr/bin/newaliases

clean:
	rm -rf build
	find bin -type f ! -name .gitkeep -delete; find bin -type l -delete
