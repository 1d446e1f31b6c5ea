/* sd_family.h - the Stable Diffusion family (SD 1.x, 2.x, SDXL, their inpainting UNets) as a
 * pipeline family (engine/family.h). */
#ifndef IMGAPI_ENGINE_MODELS_SD_FAMILY_H
#define IMGAPI_ENGINE_MODELS_SD_FAMILY_H
#include "engine/family.h"

extern const fam_ops_t SD_FAMILY;

#endif
