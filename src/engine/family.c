/* family.c - the detector: which family an opened checkpoint belongs to (family.h). A new family
 * is one row here and its own file under engine/models/. */
#include "engine/family.h"
#include "engine/models/flux2/flux2_family.h"
#include "engine/models/sd_family.h"
#include <stddef.h>

static const fam_ops_t *const FAMILIES[] = {&FLUX2_FAMILY, &SD_FAMILY};

const fam_ops_t *fam_detect(const st_file_t *f) {
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        if (FAMILIES[i]->probe(f)) return FAMILIES[i];
    return &SD_FAMILY; /* its loader says what the file lacks */
}
