/* classifier_data.S - the moderation classifier's weights (moderation/classifier.bin, trained by
 * train/moderation_train.py), compiled into the binary. Path relative to the repository root. */
#include "common/incbin.h"

    .section .rodata
INCBIN(imgapi_moderation_classifier, "moderation/classifier.bin", 64)

    .section .note.GNU-stack,"",@progbits
