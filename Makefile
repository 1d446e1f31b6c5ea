# imgapi - build, test, sanitizers. Needs only Debian packages (see .ci/run).
CC ?= cc
BUILD ?= build
OPT ?= -O2 -g
SAN ?=
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
             -Isrc -I. -I$(BUILD)/gen -I/usr/include/postgresql -pthread $(OPT) $(SAN) $(CFLAGS)
LDLIBS_ALL = -lstemmer -lmicrohttpd -ljansson -lsqlite3 -lpq -lpng -ldeflate -ljpeg -lwebp -lcrypto -lcurl -licui18n -licuuc -lz -lm -pthread $(SAN) $(LDFLAGS)

LIB_SRC := $(filter-out src/cli/main.c,$(shell find src -name '*.c' | sort))
# `imgapi --version` names the commit it was built from
IMGAPI_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
$(BUILD)/src/cli/cli.o: CFLAGS += -DIMGAPI_COMMIT='"$(IMGAPI_COMMIT)"'
LIB_ASM := $(shell find src -name '*.S' | sort)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(LIB_ASM:%.S=$(BUILD)/%.o)
TEST_SUPPORT := tests/support/fake_backend.c
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))

.PHONY: all bench deps fuzz test unit asan asan-test valgrind-test format clean check
all: $(BUILD)/imgapi $(BUILD)/imgapi-testserver $(BUILD)/unit_tests

# The moderation rules (data) are compiled in as a C string.
$(BUILD)/gen/moderation_rules.inc: moderation/rules.txt
	@mkdir -p $(dir $@)
	@{ echo 'static const char MODERATION_RULES[] ='; sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@
$(BUILD)/src/moderation/moderation.o: $(BUILD)/gen/moderation_rules.inc

# The English word list (Debian's wamerican, installed by tools/install-deps.sh) is compiled in:
# lower-cased words of five or more letters, sorted as strcmp sorts them.
DICT ?= /usr/share/dict/words
$(BUILD)/gen/english_words.inc: $(wildcard $(DICT))
	@mkdir -p $(dir $@)
	@test -r $(DICT) || { echo "$(DICT) is missing: tools/install-deps.sh installs it (Debian package wamerican)" >&2; exit 1; }
	@{ echo 'static const char *const ENGLISH_WORDS[] = {'; LC_ALL=C grep -E '^[A-Za-z]{5,63}$$' $(DICT) | LC_ALL=C tr A-Z a-z | LC_ALL=C sort -u | sed -e 's/^/"/' -e 's/$$/",/'; echo '};'; } > $@
$(BUILD)/src/moderation/english_words.o: $(BUILD)/gen/english_words.inc

# The Russian word forms (Debian's hunspell-ru, expanded by hunspell-tools' unmunch; both installed
# by tools/install-deps.sh) are compiled in as a Bloom filter built by tools/russian_words_filter.c.
RU_DIC ?= /usr/share/hunspell/ru_RU.dic
RU_AFF ?= /usr/share/hunspell/ru_RU.aff
$(BUILD)/tools/russian_words_filter: tools/russian_words_filter.c src/moderation/russian_words.h
	@mkdir -p $(dir $@)
	@$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Isrc -o $@ $<
$(BUILD)/gen/russian_words.bin: $(BUILD)/tools/russian_words_filter $(wildcard $(RU_DIC) $(RU_AFF))
	@mkdir -p $(dir $@)
	@test -r $(RU_DIC) -a -r $(RU_AFF) || { echo "$(RU_DIC) is missing: tools/install-deps.sh installs it (Debian package hunspell-ru)" >&2; exit 1; }
	@command -v unmunch >/dev/null || { echo "unmunch is missing: tools/install-deps.sh installs it (Debian package hunspell-tools)" >&2; exit 1; }
	@unmunch $(RU_DIC) $(RU_AFF) 2>/dev/null | $(BUILD)/tools/russian_words_filter > $@.tmp && mv $@.tmp $@
$(BUILD)/src/moderation/russian_words_data.o: $(BUILD)/gen/russian_words.bin src/common/incbin.h
$(BUILD)/src/moderation/russian_words_data.o: ASDEFS = -DRUSSIAN_WORDS_BIN='"$(BUILD)/gen/russian_words.bin"'

# The built-in model's files are assembled into the binary (.incbin, paths from the repo root).
$(BUILD)/src/engine/io/builtin_data.o: $(wildcard models/imgapi-shapes/*) src/common/incbin.h
$(BUILD)/src/server/static_data.o: src/server/openapi.json src/server/playground.html src/common/incbin.h
$(BUILD)/src/moderation/classifier_data.o: moderation/classifier.bin src/common/incbin.h
$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "AS $<"
	@$(CC) -Isrc $(ASDEFS) -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libimgapi.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/imgapi: $(BUILD)/src/cli/main.o $(BUILD)/libimgapi.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)

# The test server: the same CLI with a deterministic test generator (tests only).
$(BUILD)/imgapi-testserver: $(BUILD)/tests/support/test_main.o $(BUILD)/tests/support/fake_backend.o $(BUILD)/libimgapi.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)

# The unit tests' allocators go through tests/unit/fault_alloc.c (failure injection).
WRAP_ALLOC = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc,--wrap=strdup
$(BUILD)/unit_tests: $(UNIT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/support/fake_backend.o $(BUILD)/libimgapi.a
	$(CC) -o $@ $^ $(WRAP_ALLOC) $(LDLIBS_ALL)

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

# The whole suite: unit tests, then black-box HTTP tests against real servers.
test: all
	@tests/run_all.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all

asan-test: asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run_all.sh build-asan

valgrind-test: all
	IMGAPI_TEST_FAULT_POINTS=0 valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/unit_tests

# What CI runs (the README's test command): the suite on the normal and the sanitizer build.
check:
	@tests/check.sh

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	tools/install-deps.sh

# Benchmarks (figures only, never a pass/fail on time); bench_gemm compares with OpenBLAS.
bench: $(BUILD)/bench_gemm
$(BUILD)/bench_gemm: $(BUILD)/bench/bench_gemm.o $(BUILD)/libimgapi.a
	$(CC) -o $@ $^ -lopenblas $(LDLIBS_ALL)

# Fuzzing (libFuzzer, clang, ASan+UBSan): each target runs FUZZ_SECONDS on a generated seed corpus.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -Isrc -I. -DRUSSIAN_WORDS_BIN='"$(BUILD)/gen/russian_words.bin"' -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# Each target: build with clang (libFuzzer + ASan + UBSan), seed its corpus from the tests, run
# FUZZ_SECONDS. Inputs that crashed are fixed and kept under tests/fuzz/regressions/TARGET.
FUZZ_TARGETS = safetensors request config moderation headers tokenizer bbpe
FUZZ_SRC_safetensors = src/engine/io/safetensors.c src/engine/io/diffusers.c src/engine/io/gguf.c src/engine/io/gguf_quant.c src/engine/kernels/half.c src/engine/kernels/cpu.c src/engine/io/builtin.c src/engine/io/builtin_data.S src/common/buf.c
FUZZ_SRC_request = src/api/request.c src/api/a1111.c src/api/loras.c src/api/params.c src/api/error.c src/common/text.c \
	src/common/base64.c src/api/json_body.c
FUZZ_SRC_config = src/config/config.c src/api/pricing.c src/api/params.c
FUZZ_SRC_headers = src/server/headers.c src/common/base64.c
FUZZ_SRC_bbpe = src/engine/text/bbpe.c src/engine/text/bpe_merge.c src/engine/models/flux2/flux2_prompt.c src/common/buf.c src/common/status.c
FUZZ_SRC_tokenizer = src/engine/text/tokenizer.c src/engine/text/bpe_merge.c src/engine/io/builtin.c src/engine/io/builtin_data.S src/common/buf.c \
	src/common/status.c
FUZZ_SRC_moderation = src/moderation/moderation.c src/moderation/lang_words.c src/moderation/normalize.c src/moderation/words.c src/moderation/stem.c src/moderation/phrase_index.c src/moderation/unescape.c src/moderation/english_words.c \
	src/moderation/russian_words.c src/moderation/russian_words_data.S \
	src/moderation/classifier.c src/moderation/classifier_data.S src/common/buf.c \
	src/common/status.c
define FUZZ_RUN
	@echo "== fuzz $(1) ($(FUZZ_SECONDS) s)"
	@clang $(FUZZ_CFLAGS) -I$(BUILD)/gen tests/fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1)) -ljansson -licui18n -licuuc -lstemmer -lz -o build-fuzz/fuzz_$(1)
	@if [ -d tests/fuzz/regressions/$(1) ]; then build-fuzz/fuzz_$(1) tests/fuzz/regressions/$(1)/* 2>/dev/null; fi
	@build-fuzz/fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 build-fuzz/corpus/$(1) \
		2> build-fuzz/fuzz_$(1).log; rc=$$?; grep -E "^stat::number_of_executed_units|ERROR|SUMMARY" build-fuzz/fuzz_$(1).log; exit $$rc

endef
fuzz: $(BUILD)/gen/moderation_rules.inc $(BUILD)/gen/english_words.inc $(BUILD)/gen/russian_words.bin
	@mkdir -p build-fuzz
	/usr/bin/python3 tests/fuzz/make_corpus.py build-fuzz/corpus
	$(foreach t,$(FUZZ_TARGETS),$(call FUZZ_RUN,$(t)))
