/* flux2_family.h - FLUX.2 as a family of the pipeline (flux2_family.c). */
#ifndef IMGAPI_ENGINE_MODELS_FLUX2_FAMILY_H
#define IMGAPI_ENGINE_MODELS_FLUX2_FAMILY_H
#include "engine/family.h"

extern const fam_ops_t FLUX2_FAMILY;

#endif
