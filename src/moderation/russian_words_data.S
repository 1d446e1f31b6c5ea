/* russian_words_data.S - the Russian word-form filter (see russian_words.h), built by the Makefile
 * into $(BUILD)/gen/russian_words.bin and compiled into the binary; RUSSIAN_WORDS_BIN is its path
 * from the repository root. */
#include "common/incbin.h"

    .section .rodata
INCBIN(imgapi_russian_words, RUSSIAN_WORDS_BIN, 64)

    .section .note.GNU-stack,"",@progbits
