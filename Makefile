# mailsim - build, test and benchmark.
#
#   make            build ./mailsim
#   make run        the classroom demo on the built-in scenario
#   make check      install what is missing, unit tests (plain, then under
#                   ASan+UBSan), every scenario and lesson under ASan+UBSan,
#                   the integration tests, then each fuzzer for a few seconds
#   make bench      benchmarks, printed side by side with their peers
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (default 60)
#   make valgrind   serve and run under valgrind: no leak that grows with traffic
#   make deps       install the Debian packages the build and tests need

CC      ?= gcc
PKGS    := glib-2.0 gio-2.0 gthread-2.0 json-glib-1.0 ncursesw sqlite3 libpcap
WARN    := -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS += -I. -D_GNU_SOURCE -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS  ?= -O2 -g
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypt -lm
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

VERSION := 0.1.0

# `make V=1` shows the whole commands.
Q := $(if $(V),,@)
say = $(if $(V),,@printf '  %-6s %s\n' $(1) $(2);)

# Every .c under the code folders is part of the library but the entry point.
LIB_SRC := $(shell find sim net agents ui -name '*.c' ! -path sim/main.c ! -name 'fuzz_*' 2>/dev/null | sort)
TEST_SRC := $(shell find tests -name 'test_*.c' 2>/dev/null | sort)

SCENARIOS := $(sort $(wildcard scenarios/*.scn))
LESSONS   := $(sort $(wildcard lessons/*/*.lesson))
OBJ      := $(LIB_SRC:%.c=build/obj/%.o) build/obj/gen/embedded.o build/obj/gen/embedded_lessons.o
ASAN_OBJ := $(LIB_SRC:%.c=build/asan/obj/%.o) build/asan/obj/gen/embedded.o build/asan/obj/gen/embedded_lessons.o
TESTS      := $(TEST_SRC:%.c=build/%)
ASAN_TESTS := $(TEST_SRC:%.c=build/asan/%)

# libFuzzer targets, built with clang against a fuzz-instrumented library.
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ  := $(LIB_SRC:%.c=build/fuzz/obj/%.o) build/fuzz/obj/gen/embedded.o build/fuzz/obj/gen/embedded_lessons.o
FUZZ_CC   := clang
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -Wall -Wno-unused-parameter
FUZZ_SMOKE_SECONDS ?= 3
BENCH_BINS := $(patsubst %.c,build/%,$(wildcard bench/*.c))

.PHONY: all run check unit unit-asan scenarios-asan integration bench fuzz fuzz-smoke deps clean lint-includes valgrind
all: mailsim

deps:
	@sh tools/deps.sh

mailsim: build/obj/sim/main.o build/libmailsim.a
	$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/libmailsim.a: $(OBJ)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

build/asan/mailsim: build/asan/obj/sim/main.o build/asan/libmailsim.a
	$(call say,LINK,$@)$(CC) -O1 -g $(SAN) -o $@ $^ $(LDLIBS)

build/asan/libmailsim.a: $(ASAN_OBJ)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

# The built-in scenarios, compiled in (mailsim runs the course from anywhere).
build/gen/embedded.c: $(SCENARIOS) tools/embed.sh
	@mkdir -p $(@D)
	$(call say,EMBED,$@)sh tools/embed.sh $@ $(SCENARIOS)

build/gen/embedded_lessons.c: $(LESSONS) tools/embed.sh
	@mkdir -p $(@D)
	$(call say,EMBED,$@)sh tools/embed.sh -s ms_embedded_lessons -r lessons $@ $(LESSONS)

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

build/asan/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(call say,CC-SAN,$<)$(CC) $(CPPFLAGS) $(WARN) -O1 -g $(SAN) -c -o $@ $<

build/fuzz/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(call say,CC-FUZ,$<)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) -DMS_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) -c -o $@ $<

build/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC-SAN,$<)$(CC) $(CPPFLAGS) -DMS_VERSION='"$(VERSION)"' $(WARN) -O1 -g $(SAN) -c -o $@ $<

build/tests/%: tests/%.c build/libmailsim.a
	@mkdir -p $(@D)
	$(call say,TEST,$@)$(CC) $(CPPFLAGS) $(CHECK_CFLAGS) $(WARN) $(CFLAGS) -o $@ $< build/libmailsim.a $(CHECK_LIBS) $(LDLIBS)

build/asan/tests/%: tests/%.c build/asan/libmailsim.a
	@mkdir -p $(@D)
	$(call say,TEST,$@)$(CC) $(CPPFLAGS) $(CHECK_CFLAGS) $(WARN) -O1 -g $(SAN) -o $@ $< build/asan/libmailsim.a $(CHECK_LIBS) $(LDLIBS)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC-FUZ,$<)$(FUZZ_CC) $(CPPFLAGS) -DMS_VERSION='"$(VERSION)"' $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/libmailsim.a: $(FUZZ_OBJ)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libmailsim.a
	$(call say,FUZZER,$@)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/libmailsim.a $(LDLIBS)

build/bench/%: bench/%.c build/libmailsim.a
	@mkdir -p $(@D)
	$(call say,BENCH,$@)$(CC) $(CPPFLAGS) $(WARN) -O2 -o $@ $< build/libmailsim.a $(LDLIBS)

run: mailsim
	./mailsim

check: deps
	@$(MAKE) --no-print-directory lint-includes
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory scenarios-asan
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory fuzz-smoke

unit: $(TESTS)
	@sh tests/run-unit.sh $(TESTS)

unit-asan: $(ASAN_TESTS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		sh tests/run-unit.sh $(ASAN_TESTS)

scenarios-asan: build/asan/mailsim
	@sh tests/run-asan-scenarios.sh build/asan/mailsim

integration: mailsim
	@sh tests/run-integration.sh

lint-includes:
	@sh tools/check-includes.sh

bench: mailsim $(BENCH_BINS)
	@sh bench/run.sh

fuzz: $(FUZZ_BINS)
	@sh tools/fuzz.sh $${FUZZ_SECONDS:-60} $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	@sh tools/fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BINS)

# Also part of `make check` (tests/integration/); VALGRIND_SMALL and
# VALGRIND_LARGE set the two amounts of traffic (10 and 100 messages).
valgrind: mailsim
	@python3 tests/integration/valgrind_serve.py

clean:
	rm -rf build mailsim

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d) build/obj/sim/main.d $(TESTS:=.d) $(ASAN_TESTS:=.d)
